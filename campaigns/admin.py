from django.contrib import admin
from django.db.models import Count

from accounts.admin import TenantAdminMixin
from campaigns.models import Campaign
from conversations.services import member_access_changed


@admin.register(Campaign)
class CampaignAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "account", "active", "agent_count", "sla_unanswered_minutes", "auto_close_hours")
    list_filter = ("active",)
    search_fields = ("name", "account__name")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)
    filter_horizontal = ("agents",)

    def save_related(self, request, form, formsets, change):
        before = set(form.instance.agents.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.agents.values_list("pk", flat=True))
        # As campaign_set_agents does: who joined or left sees other conversations now.
        member_access_changed(membership_ids=before ^ after)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_agents=Count("agents", distinct=True))

    @admin.display(description="agents", ordering="_agents")
    def agent_count(self, obj):
        return obj._agents
