"""Reporting facts: one row per thing that happened, written in the same
transaction as the change (through ``conversations.facts``)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AccountScopedModel


class ReportEvent(AccountScopedModel):
    """A fact about a conversation: assigned, unassigned, closed, SLA alerts.

    ``value`` is the measure the kind carries (seconds: waiting time for an
    assignment, duration for a close, elapsed time for an SLA alert).
    """

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned")
        UNASSIGNED = "unassigned", _("Returned to the queue")
        CLOSED = "closed", _("Closed")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        FIRST_RESPONSE = "first_response", _("First response")

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="report_events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey("campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    membership = models.ForeignKey("accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    value = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["account", "kind", "at"], name="reportevent_kind_idx"),
            models.Index(fields=["account", "membership", "kind", "at"], name="reportevent_member_idx"),
            models.Index(fields=["account", "conversation"], name="reportevent_conv_idx"),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.conversation_id} {self.at:%Y-%m-%d %H:%M}"
