from django.contrib import admin

from accounts.admin import TenantAdminMixin, TenantInline
from conversations.models import (
    AssignmentLog,
    Attachment,
    CannedResponse,
    Contact,
    Conversation,
    Message,
    Notification,
    PageView,
)


@admin.register(Contact)
class ContactAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("display_name", "account", "email", "phone", "site", "is_online", "last_seen_at")
    list_filter = ("is_online", "locale", "country")
    search_fields = ("name", "email", "phone", "document_number", "user_id")
    list_select_related = ("account", "site")
    autocomplete_fields = ("account",)
    raw_id_fields = ("site",)
    date_hierarchy = "last_seen_at"
    readonly_fields = ("first_seen_at", "last_seen_at", "visit_count", "created_at", "updated_at")


@admin.register(PageView)
class PageViewAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("url", "title", "contact", "account", "created_at")
    search_fields = ("url", "title", "contact__email", "contact__name")
    list_select_related = ("account", "contact")
    raw_id_fields = ("contact",)
    autocomplete_fields = ("account",)


class MessageInline(TenantInline, admin.TabularInline):
    """The conversation's messages, read-only: messages are written by services."""

    model = Message
    fields = ("created_at", "sender_type", "sender_membership", "kind", "content", "status")
    readonly_fields = fields
    ordering = ("id",)
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("id", "contact", "account", "channel", "status", "assignee", "campaign", "priority", "last_message_at")
    list_filter = ("status", "channel", "priority", "outcome", "lead_quality")
    search_fields = ("id", "contact__name", "contact__email", "contact__phone", "last_message_preview")
    list_select_related = ("account", "contact", "assignee__user", "campaign")
    raw_id_fields = ("contact", "assignee", "site", "campaign")
    autocomplete_fields = ("account",)
    date_hierarchy = "created_at"
    inlines = [MessageInline]
    readonly_fields = (
        "queued_at", "assigned_at", "first_contact_message_at", "first_agent_response_at",
        "last_contact_message_at", "last_agent_message_at", "last_message_at", "closed_at",
        "awaiting_reply_since", "sla_warned_at", "sla_breached_at", "message_count", "created_at", "updated_at",
    )


@admin.register(Message)
class MessageAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("id", "conversation", "account", "sender_type", "kind", "short_content", "status", "created_at")
    list_filter = ("sender_type", "kind", "status")
    search_fields = ("content", "client_id", "external_id")
    list_select_related = ("account", "conversation__contact")
    raw_id_fields = ("conversation", "sender_membership")
    autocomplete_fields = ("account",)
    readonly_fields = ("sent_at", "delivered_at", "read_at", "failed_at", "created_at", "updated_at")

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:80]


@admin.register(Attachment)
class AttachmentAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "account", "content_type", "size", "message", "created_at")
    list_filter = ("content_type",)
    search_fields = ("name",)
    list_select_related = ("account",)
    raw_id_fields = ("message", "uploaded_by_contact", "uploaded_by_membership")
    autocomplete_fields = ("account",)


@admin.register(CannedResponse)
class CannedResponseAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("shortcut", "account", "owner", "short_content")
    search_fields = ("shortcut", "content")
    list_select_related = ("account", "owner__user")
    raw_id_fields = ("owner",)
    autocomplete_fields = ("account",)

    @admin.display(description="content")
    def short_content(self, obj):
        return obj.content[:80]


@admin.register(AssignmentLog)
class AssignmentLogAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("conversation", "account", "assignee", "previous_assignee", "assigned_by", "reason", "created_at")
    search_fields = ("reason",)
    list_select_related = ("account", "assignee__user", "previous_assignee__user", "assigned_by__user")
    raw_id_fields = ("conversation", "assignee", "previous_assignee", "assigned_by")
    autocomplete_fields = ("account",)
    date_hierarchy = "created_at"


@admin.register(Notification)
class NotificationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("text", "membership", "account", "kind", "read_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("text",)
    list_select_related = ("account", "membership__user")
    raw_id_fields = ("membership", "conversation")
    autocomplete_fields = ("account",)
