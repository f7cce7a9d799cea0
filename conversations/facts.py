"""Reporting facts, written in the same transaction as the change they describe.

``reports`` sits above ``conversations`` (ARCHITECTURE §3), so conversations
never imports it. Instead, reports registers a writer in its
``AppConfig.ready()``; services call :func:`record` inside their transaction
and every registered writer stores the fact there and then. When the service
rolls back, the fact goes with it, so reports never disagree with the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

#: Kinds written today (``reports.models.ReportEvent.Kind`` mirrors them).
ASSIGNED = "assigned"
UNASSIGNED = "unassigned"
CLOSED = "closed"
SLA_WARNING = "sla_warning"
SLA_BREACHED = "sla_breached"


@dataclass(frozen=True)
class Fact:
    kind: str
    account_id: int
    conversation_id: int | None
    campaign_id: int | None = None
    membership_id: int | None = None
    value: float | None = None
    at: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)


FactWriter = Callable[[Fact], None]
_writers: list[FactWriter] = []


def register(writer: FactWriter) -> None:
    """Add a writer (idempotent: registering the same function twice is a no-op)."""
    if writer not in _writers:
        _writers.append(writer)


def unregister(writer: FactWriter) -> None:
    if writer in _writers:
        _writers.remove(writer)


def record(
    kind: str,
    *,
    conversation,
    membership_id: int | None = None,
    value: float | None = None,
    at: datetime | None = None,
    **data: Any,
) -> Fact:
    """Hand one fact to every registered writer, synchronously (call it inside the
    service's transaction)."""
    fact = Fact(
        kind=kind,
        account_id=conversation.account_id,
        conversation_id=conversation.pk,
        campaign_id=conversation.campaign_id,
        membership_id=membership_id,
        value=value,
        at=at or timezone.now(),
        data=data,
    )
    for writer in list(_writers):
        writer(fact)
    return fact
