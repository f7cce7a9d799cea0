"""System checks on what the database server must do for Charla.

Run with the database checks (``manage.py migrate`` runs them, as does
``manage.py check --database default``).
"""

from __future__ import annotations

from typing import Any

from django.core.checks import Tags, Warning, register
from django.db import connections


@register(Tags.database)
def autovacuum_on(databases: Any = None, **kwargs: Any) -> list[Warning]:
    """Every message updates its conversation's row (counters, times), which
    leaves a dead row version behind; without autovacuum they pile up and
    every send gets slower (on the bench, 1,000 conversations carried
    ~350,000 dead versions after a few runs and a message cost its server a
    third more CPU)."""
    warnings = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            on = cursor.fetchone()[0] == "on"
        if not on:
            warnings.append(Warning(
                f"PostgreSQL's autovacuum is off for database '{alias}'.",
                hint="Turn it on (autovacuum = on in postgresql.conf, the default): every message updates its "
                     "conversation's row, and dead row versions that nobody vacuums slow every send down. "
                     "See docs/operations.md, 'PostgreSQL'.",
                id="charla.W001",
            ))
    return warnings
