"""Forms: input shape and clear messages only; rules live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .selectors import campaign_agent_choices


class AgentChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.user.display_name} · {obj.get_role_display()}"


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    sla_unanswered_minutes = forms.IntegerField(
        label=_("Unanswered SLA (minutes)"), required=False, min_value=0, max_value=7 * 24 * 60,
        help_text=_("Empty uses the account's setting; 0 turns the alert off."),
    )
    auto_close_hours = forms.IntegerField(
        label=_("Auto-close after idle hours"), required=False, min_value=0, max_value=24 * 90,
        help_text=_("Empty uses the account's setting; 0 never closes automatically."),
    )
    closing_message = forms.CharField(
        label=_("Closing message"), required=False, max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent to the customer when a conversation closes. Empty uses the account's text."),
    )
    agents = AgentChoiceField(
        label=_("Agents"), required=False, queryset=None, widget=forms.CheckboxSelectMultiple,
        help_text=_("Only these members receive this campaign's conversations."),
    )

    def __init__(self, *args, account, campaign=None, **kwargs):
        if campaign is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": campaign.name,
                "active": campaign.active,
                "sla_unanswered_minutes": campaign.sla_unanswered_minutes,
                "auto_close_hours": campaign.auto_close_hours,
                "closing_message": campaign.closing_message,
                "agents": list(campaign.agents.values_list("pk", flat=True)),
            }
        super().__init__(*args, **kwargs)
        self.fields["agents"].queryset = campaign_agent_choices(account=account)

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "active": data["active"],
            "sla_unanswered_minutes": data["sla_unanswered_minutes"],
            "auto_close_hours": data["auto_close_hours"],
            "closing_message": data["closing_message"],
        }

    def agent_ids(self) -> list[int]:
        return [m.pk for m in self.cleaned_data["agents"]]
