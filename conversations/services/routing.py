"""Routing hooks. The auto-assignment engine plugs in here (issue: routing,
SLA and closing). Services call these on commit whenever the answer to "who
should take what" may have changed."""

from __future__ import annotations


def queue_changed(*, account_id: int) -> None:
    """Something entered the queue, or an agent freed up or connected."""
    return None


def member_availability_changed(*, membership_id: int, account_id: int) -> None:
    queue_changed(account_id=account_id)


def member_went_offline(*, membership_id: int, account_id: int) -> None:
    """The agent's last socket closed (after the reload grace)."""
    return None
