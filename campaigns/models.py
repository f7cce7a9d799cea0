from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import AccountScopedModel


class Campaign(AccountScopedModel):
    """A line of business with its own agents (call-center seed).

    SLA and closing fields left empty fall back to the account's settings.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    agents = models.ManyToManyField("accounts.Membership", blank=True, related_name="campaigns")
    sla_unanswered_minutes = models.PositiveIntegerField(_("unanswered SLA (minutes)"), null=True, blank=True)
    auto_close_hours = models.PositiveIntegerField(_("auto-close after idle hours"), null=True, blank=True)
    closing_message = models.TextField(_("closing message"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="campaign_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
