"""System checks on the database server."""

from __future__ import annotations

import pytest

from django.db import connection

from core.checks import autovacuum_on

pytestmark = pytest.mark.django_db


def test_autovacuum_off_is_a_warning_that_says_what_to_do():
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        on = cursor.fetchone()[0] == "on"
    warnings = autovacuum_on(databases=["default"])
    assert [w.id for w in warnings] == ([] if on else ["charla.W001"])
    assert all("autovacuum" in w.hint for w in warnings)
    assert autovacuum_on(databases=None) == []  # only when the database checks are asked for


def test_the_conversation_table_is_vacuumed_early():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'conversations_conversation'")
        options = cursor.fetchone()[0]
    assert "autovacuum_vacuum_scale_factor=0.02" in options
