"""Inbox forms: the shape of the input and clear messages; the rules (who may
assign, what a closed conversation accepts…) live in the services."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership

from .models import Conversation


def _blank(label):
    return [("", label)]


class ListFilterForm(forms.Form):
    """The list's filters and search (all optional; bad values are dropped)."""

    q = forms.CharField(required=False, max_length=200, strip=True)
    site = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    channel = forms.ChoiceField(required=False, choices=_blank(_("All channels")) + list(Conversation.Channel.choices))
    campaign = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    priority = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        choices=_blank(_("Any priority")) + [(str(v), label) for v, label in Conversation.Priority.choices],
    )

    FIELDS = ("q", "site", "channel", "campaign", "priority")

    def __init__(self, data=None, *, sites=(), campaigns=()):
        data = {k: v for k, v in (data or {}).items() if k in self.FIELDS}
        super().__init__(data)
        self.fields["site"].choices = _blank(_("All sites")) + [(str(pk), name) for pk, name in sites]
        self.fields["campaign"].choices = _blank(_("All campaigns")) + [(str(pk), name) for pk, name in campaigns]

    def values(self) -> dict:
        """Valid filters only: a stale or forged value is ignored, not an error."""
        self.is_valid()
        clean = getattr(self, "cleaned_data", {})
        return {name: clean.get(name) for name in self.FIELDS if clean.get(name) not in (None, "")}


class ConversationFieldsForm(forms.Form):
    priority = forms.TypedChoiceField(
        label=_("Priority"), required=False, coerce=int, empty_value=None,
        choices=[(str(v), label) for v, label in Conversation.Priority.choices],
    )
    lead_quality = forms.ChoiceField(label=_("Lead quality"), required=False, choices=Conversation.LeadQuality.choices)
    outcome = forms.ChoiceField(label=_("Outcome"), required=False, choices=Conversation.Outcome.choices)
    campaign = forms.CharField(label=_("Campaign"), required=False)

    def changes(self, *, can_move_campaign: bool) -> dict:
        """Only the fields the request carried (a select that was not sent is not cleared)."""
        changes = {}
        for name in ("priority", "lead_quality", "outcome"):
            if name in self.data:
                changes[name] = self.cleaned_data.get(name)
        if can_move_campaign and "campaign" in self.data:
            raw = (self.cleaned_data.get("campaign") or "").strip()
            try:
                changes["campaign_id"] = int(raw) if raw else None
            except ValueError:
                self.add_error("campaign", _("No such campaign."))
        return changes


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), required=False, choices=Conversation.Outcome.choices)


class AssignForm(forms.Form):
    assignee = forms.IntegerField(label=_("Agent"), error_messages={"required": _("Choose an agent.")})


SNOOZE_PRESETS = (
    ("1h", _("In 1 hour")),
    ("4h", _("In 4 hours")),
    ("tomorrow", _("Tomorrow, 9:00")),
    ("monday", _("Next Monday, 9:00")),
)


class SnoozeForm(forms.Form):
    preset = forms.ChoiceField(required=False, choices=[("", "")] + list(SNOOZE_PRESETS))
    until = forms.DateTimeField(
        label=_("Until"), required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    tz = forms.CharField(required=False, max_length=64)

    def __init__(self, data=None, *, default_tz: str = "UTC"):
        super().__init__(data)
        self.default_tz = default_tz

    def _zone(self) -> ZoneInfo:
        for name in (self.cleaned_data.get("tz"), self.default_tz, "UTC"):
            try:
                return ZoneInfo(name) if name else ZoneInfo("UTC")
            except (ZoneInfoNotFoundError, ValueError):
                continue
        return ZoneInfo("UTC")

    def clean(self):
        data = super().clean()
        if not data.get("preset") and not data.get("until"):
            raise forms.ValidationError(_("Choose when the conversation should wake up."))
        return data

    def until_at(self, now: datetime | None = None) -> datetime:
        """The wake-up time as an aware datetime (presets in the member's time zone)."""
        zone = self._zone()
        now = (now or timezone.now()).astimezone(zone)
        preset = self.cleaned_data.get("preset")
        nine = {"hour": 9, "minute": 0, "second": 0, "microsecond": 0}
        if preset == "1h":
            return now + timedelta(hours=1)
        if preset == "4h":
            return now + timedelta(hours=4)
        if preset == "tomorrow":
            return (now + timedelta(days=1)).replace(**nine)
        if preset == "monday":
            days = (7 - now.weekday()) % 7 or 7
            return (now + timedelta(days=days)).replace(**nine)
        until = self.cleaned_data["until"]
        if timezone.is_naive(until):
            until = until.replace(tzinfo=zone)
        return until


class AvailabilityForm(forms.Form):
    availability = forms.ChoiceField(choices=Membership.Availability.choices)


class MessageForm(forms.Form):
    """The no-JavaScript composer (the socket path sends the same fields)."""

    content = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    private = forms.BooleanField(required=False)
    client_id = forms.CharField(required=False, max_length=64)
    attachments = forms.CharField(required=False)
    file = forms.FileField(required=False)

    def attachment_ids(self) -> list[str]:
        raw = self.cleaned_data.get("attachments") or ""
        return [part for part in raw.replace(" ", "").split(",") if part]


class CannedResponseForm(forms.Form):
    shortcut = forms.CharField(
        label=_("Shortcut"), max_length=41,
        help_text=_("Type / and this word in the composer to insert the response."),
        widget=forms.TextInput(attrs={"placeholder": "thanks", "autocapitalize": "none", "spellcheck": "false"}),
    )
    content = forms.CharField(
        label=_("Response"), widget=forms.Textarea(attrs={"rows": 5, "placeholder": _("Thanks for reaching out! …")}),
    )
    shared = forms.BooleanField(
        label=_("Shared with the team"), required=False,
        help_text=_("Everyone can use it; only admins can change it."),
    )
