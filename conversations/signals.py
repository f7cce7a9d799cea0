"""Upward notifications: higher apps (bots, campaigns, reports) connect
receivers in their ``AppConfig.ready()``; conversations never imports them.
Signals are sent on commit, from services only."""

from django.dispatch import Signal

#: A contact's message was stored. kwargs: message_id, conversation_id, account_id
message_received = Signal()
#: A conversation was closed. kwargs: conversation_id, account_id
conversation_closed = Signal()
#: A conversation was assigned. kwargs: conversation_id, account_id, assignee_id
conversation_assigned = Signal()
