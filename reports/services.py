"""Writes of the reports app. ``fact_write`` is registered with
``conversations.facts`` in ``ReportsConfig.ready()``."""

from __future__ import annotations

from conversations.facts import Fact

from .models import ReportEvent


def fact_write(fact: Fact) -> ReportEvent:
    """Store one fact (called inside the service transaction that produced it)."""
    return ReportEvent.objects.create(
        account_id=fact.account_id,
        kind=fact.kind,
        conversation_id=fact.conversation_id,
        campaign_id=fact.campaign_id,
        membership_id=fact.membership_id,
        value=fact.value,
        data=fact.data,
        at=fact.at,
    )
