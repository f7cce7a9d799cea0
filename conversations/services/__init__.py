"""The only write path for conversations (ARCHITECTURE §4).

Views, API views, consumers and Celery tasks call these functions; each runs
in one transaction and publishes its events after commit.
"""

from .canned import canned_response_create, canned_response_delete, canned_response_update
from .closing import conversation_close
from .contacts import (
    contact_connection_closed,
    contact_connection_opened,
    contact_context_set,
    contact_find_or_create,
    contact_identify,
    contact_page_view,
    contact_presence_settle,
    visitor_session_start,
    visitor_token_make,
    visitor_token_read,
    visitor_token_revoke,
)
from .conversations import (
    conversation_assign,
    conversation_reopen,
    conversation_snooze,
    conversation_start,
    conversation_unassign,
    conversation_update_fields,
)
from .members import (
    member_access_changed,
    member_connection_closed,
    member_connection_opened,
    member_presence_settle,
    member_set_availability,
)
from .messages import (
    agent_message_send,
    attachment_upload,
    contact_message_send,
    contact_message_send_async,
    message_mark_delivered,
    message_mark_read,
    message_send,
    message_status_update,
    typing_set,
)

__all__ = [
    "member_access_changed",
    "agent_message_send",
    "contact_message_send",
    "contact_message_send_async",
    "attachment_upload",
    "contact_connection_closed",
    "contact_connection_opened",
    "contact_identify",
    "contact_page_view",
    "contact_presence_settle",
    "conversation_assign",
    "conversation_close",
    "conversation_reopen",
    "conversation_snooze",
    "conversation_start",
    "conversation_unassign",
    "conversation_update_fields",
    "member_connection_closed",
    "member_connection_opened",
    "member_presence_settle",
    "member_set_availability",
    "message_mark_delivered",
    "message_mark_read",
    "message_send",
    "message_status_update",
    "typing_set",
    "visitor_session_start",
    "visitor_token_make",
    "visitor_token_read",
    "visitor_token_revoke",
    "contact_context_set",
    "contact_find_or_create",
    "canned_response_create",
    "canned_response_delete",
    "canned_response_update",
]
