"""The agent inbox, mounted at ``/app/``."""

from django.urls import path

from .views import conversation, inbox, settings_canned

app_name = "inbox"

urlpatterns = [
    path("", inbox.index, name="index"),
    path("queue/", inbox.conversation_list_view, {"view": "queue"}, name="queue"),
    path("mine/", inbox.conversation_list_view, {"view": "mine"}, name="mine"),
    path("open/", inbox.conversation_list_view, {"view": "open"}, name="open"),
    path("closed/", inbox.conversation_list_view, {"view": "closed"}, name="closed"),
    path("counts/", inbox.counts, name="counts"),
    path("availability/", inbox.availability, name="availability"),
    path("conversations/<int:conversation_id>/", conversation.conversation_detail, name="conversation"),
    path("conversations/<int:conversation_id>/messages/", conversation.messages, name="messages"),
    path("conversations/<int:conversation_id>/attachments/", conversation.attachment_create, name="attachments"),
    path("conversations/<int:conversation_id>/read/", conversation.mark_read, name="read"),
    path("conversations/<int:conversation_id>/fields/", conversation.fields, name="fields"),
    path("conversations/<int:conversation_id>/close/", conversation.close, name="close"),
    path("conversations/<int:conversation_id>/snooze/", conversation.snooze, name="snooze"),
    path("conversations/<int:conversation_id>/reopen/", conversation.reopen, name="reopen"),
    path("conversations/<int:conversation_id>/assign/", conversation.assign, name="assign"),
    path("conversations/<int:conversation_id>/unassign/", conversation.unassign, name="unassign"),
    path("settings/canned/", settings_canned.canned_list, name="canned_list"),
    path("settings/canned/<int:canned_id>/", settings_canned.canned_edit, name="canned_edit"),
    path("settings/canned/<int:canned_id>/delete/", settings_canned.canned_delete, name="canned_delete"),
]
