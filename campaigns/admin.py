from django.contrib import admin
from django.db.models import Count

from accounts.admin import TenantAdminMixin
from campaigns.models import Campaign


@admin.register(Campaign)
class CampaignAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "account", "active", "agent_count", "sla_unanswered_minutes", "auto_close_hours")
    list_filter = ("active",)
    search_fields = ("name", "account__name")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)
    filter_horizontal = ("agents",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_agents=Count("agents", distinct=True))

    @admin.display(description="agents", ordering="_agents")
    def agent_count(self, obj):
        return obj._agents
