"""Shapes of the JSON the API answers with, for the OpenAPI schema only.

The data itself is built by ``conversations.events`` (one shape for the
socket and the API, PROTOCOL.md); these serializers describe it and are
never used to render a response.
"""

from __future__ import annotations

from rest_framework import serializers


class MemberRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    avatar = serializers.CharField(allow_null=True)


class AttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(allow_null=True)
    thumbnail_url = serializers.CharField(allow_null=True)


class SenderOut(serializers.Serializer):
    type = serializers.ChoiceField(choices=["contact", "agent", "bot", "system"])
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    avatar = serializers.CharField(allow_null=True)


class MessageOut(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    client_id = serializers.CharField(allow_null=True)
    sender = SenderOut()
    kind = serializers.CharField()
    content = serializers.CharField()
    payload = serializers.DictField()
    attachments = AttachmentOut(many=True)
    status = serializers.ChoiceField(choices=["sending", "sent", "delivered", "read", "failed"])
    private = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class CampaignRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ContactRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    online = serializers.BooleanField()


class ConversationOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["bot", "queued", "assigned", "snoozed", "closed"])
    channel = serializers.CharField()
    site_id = serializers.IntegerField(allow_null=True)
    assignee = MemberRef(allow_null=True)
    campaign = CampaignRef(allow_null=True)
    contact = ContactRef()
    priority = serializers.IntegerField()
    lead_quality = serializers.CharField()
    outcome = serializers.CharField()
    context = serializers.DictField()
    unread = serializers.IntegerField(help_text="Messages the agents have not read.")
    unread_contact = serializers.IntegerField()
    message_count = serializers.IntegerField()
    last_message_preview = serializers.CharField()
    created_at = serializers.DateTimeField()
    queued_at = serializers.DateTimeField(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    first_response_at = serializers.DateTimeField(allow_null=True)
    last_message_at = serializers.DateTimeField(allow_null=True)
    awaiting_reply_since = serializers.DateTimeField(allow_null=True)
    sla_due_at = serializers.DateTimeField(allow_null=True)
    snoozed_until = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)


class ConversationPage(serializers.Serializer):
    results = ConversationOut(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as ?cursor= for the next page.")


class MessagePage(serializers.Serializer):
    results = MessageOut(many=True)
    next_before = serializers.IntegerField(allow_null=True, help_text="?before= for older messages; null at the start.")
    next_after = serializers.IntegerField(allow_null=True, help_text="?after= to poll for newer messages.")
    has_more = serializers.BooleanField(help_text="More newer messages wait after next_after.")


class UnreadCountOut(serializers.Serializer):
    conversations = serializers.IntegerField(help_text="Your open conversations with unread messages.")
    queue = serializers.IntegerField(help_text="Conversations waiting for an agent.")


class ReadOut(serializers.Serializer):
    updated = serializers.IntegerField()


class ErrorOut(serializers.Serializer):
    error = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(required=False)


# --- widget ----------------------------------------------------------------------


class VisitorConversationOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    queue_position = serializers.IntegerField(allow_null=True, required=False)
    assignee = MemberRef(allow_null=True)
    context = serializers.DictField()
    unread = serializers.IntegerField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class VisitorOut(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    locale = serializers.CharField()


class SiteColors(serializers.Serializer):
    primary = serializers.CharField()
    text = serializers.CharField()


class SiteOut(serializers.Serializer):
    name = serializers.CharField()
    team_name = serializers.CharField()
    online = serializers.BooleanField(help_text="Inside business hours now.")
    greeting = serializers.CharField()
    offline_message = serializers.CharField()
    reply_time_text = serializers.CharField()
    colors = SiteColors()
    logo_url = serializers.CharField(allow_null=True)
    locale = serializers.CharField()
    require_identity = serializers.BooleanField()


class WidgetSessionOut(serializers.Serializer):
    visitor_token = serializers.CharField()
    contact = VisitorOut()
    conversations = VisitorConversationOut(many=True)
    site = SiteOut()


class WidgetIdentifyOut(serializers.Serializer):
    visitor_token = serializers.CharField(help_text="Use this token from now on (it changes when visitors merge).")
    contact = VisitorOut()


class WidgetMessagePage(serializers.Serializer):
    results = MessageOut(many=True)
    next_after = serializers.IntegerField(allow_null=True)
    has_more = serializers.BooleanField()
    conversation = VisitorConversationOut()
    read_up_to = serializers.IntegerField(allow_null=True, help_text="Your messages up to this id are read.")


class WidgetContextOut(serializers.Serializer):
    conversation = VisitorConversationOut(allow_null=True)
    pending = serializers.BooleanField(help_text="No open conversation: the card waits for the next one.")
