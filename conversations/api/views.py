"""REST API for agents and API clients, under ``/api/v1/``.

JWT (``Authorization: Bearer``) or the session; the account is the
``X-Charla-Account`` header (a slug), else the session's account, else the
user's first membership (``core.tenancy.AccountApiView``). Views are thin:
validate input, call one selector or service, shape the answer with
``conversations.events`` (the same shapes the sockets send). Another
tenant's id answers 404 exactly like a missing one.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from django.db import transaction

from core.tenancy import AccountApiView

from .. import events, services
from ..models import Conversation, Message
from ..selectors import (
    contact_get,
    conversation_get,
    conversation_get_for_member,
    conversation_list,
    message_list,
    unread_count,
)
from . import schemas
from .pagination import keyset_page
from .validation import json_object

ACCOUNT_HEADER = OpenApiParameter(
    "X-Charla-Account", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="Account slug (default: the session's account, else your first one).",
)
ERRORS = {
    400: OpenApiResponse(schemas.ErrorOut, description="Invalid input."),
    404: OpenApiResponse(schemas.ErrorOut, description="No such conversation (or another tenant's)."),
}


def message_page(messages: list[Message], *, limit: int, after: int | None) -> dict:
    """``results`` plus cursors; ``messages`` was fetched with ``limit + 1``."""
    if after is not None:
        has_more = len(messages) > limit
        messages = messages[:limit]
        next_before = None
    else:
        has_more = False
        older = len(messages) > limit
        messages = messages[-limit:] if older else messages
        next_before = messages[0].pk if older and messages else None
    return {
        "results": [events.message_data(m) for m in messages],
        "next_before": next_before,
        "next_after": messages[-1].pk if messages else after,
        "has_more": has_more,
    }


class MessageInput(serializers.Serializer):
    client_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True,
        help_text="Your id for this send (a UUID). Repeating it returns the same message.",
    )
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=20_000)
    kind = serializers.ChoiceField(choices=Message.Kind.choices, default=Message.Kind.TEXT)
    private = serializers.BooleanField(default=False, help_text="A private note, never shown to the customer.")
    attachments = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=10, required=False,
        help_text="Ids from an upload.",
    )
    payload = serializers.JSONField(required=False, validators=[json_object])


class ConversationListCreateApi(AccountApiView):
    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ConversationListFilter"

        view = serializers.ChoiceField(choices=["queue", "mine", "open", "closed", "all"], default="all")
        status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
        site = serializers.IntegerField(min_value=1, required=False)
        channel = serializers.ChoiceField(choices=Conversation.Channel.choices, required=False)
        campaign = serializers.IntegerField(min_value=1, required=False)
        priority = serializers.ChoiceField(choices=Conversation.Priority.choices, required=False)
        q = serializers.CharField(max_length=200, required=False, help_text="Search contact and messages.")
        cursor = serializers.CharField(max_length=1000, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=100, default=25)

    class CreateSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ConversationCreate"

        contact_id = serializers.IntegerField(min_value=1, required=False)
        email = serializers.EmailField(required=False)
        phone = serializers.CharField(max_length=32, required=False)
        name = serializers.CharField(max_length=160, required=False, allow_blank=True)
        channel = serializers.ChoiceField(choices=Conversation.Channel.choices, default=Conversation.Channel.WEB)
        context = serializers.JSONField(required=False, validators=[json_object], help_text="Product card.")
        message = MessageInput(required=False, help_text="A first message, sent as you.")

        def validate(self, attrs):
            if not (attrs.get("contact_id") or attrs.get("email") or attrs.get("phone")):
                raise serializers.ValidationError("Give contact_id, email or phone.")
            return attrs

    @extend_schema(
        operation_id="conversations_list",
        parameters=[FilterSerializer, ACCOUNT_HEADER],
        responses={200: schemas.ConversationPage, 400: ERRORS[400]},
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        qs = conversation_list(
            membership=request.membership,
            view=f["view"],
            status=f.get("status"),
            site_id=f.get("site"),
            channel=f.get("channel"),
            campaign_id=f.get("campaign"),
            priority=f.get("priority"),
            search=f.get("q"),
        )
        rows, next_cursor = keyset_page(qs, cursor=f.get("cursor"), limit=f["limit"])
        return Response({"results": [events.conversation_data(c) for c in rows], "next_cursor": next_cursor})

    @extend_schema(
        operation_id="conversations_create",
        request=CreateSerializer,
        parameters=[ACCOUNT_HEADER],
        responses={201: schemas.ConversationOut, **ERRORS},
    )
    def post(self, request):
        body = self.CreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        membership = request.membership
        with transaction.atomic():
            if data.get("contact_id"):
                contact = contact_get(account_id=membership.account_id, contact_id=data["contact_id"])
            else:
                contact, _created = services.contact_find_or_create(
                    account_id=membership.account_id, email=data.get("email", ""),
                    phone=data.get("phone", ""), name=data.get("name", ""),
                )
            conversation = services.conversation_start(
                contact=contact, channel=data["channel"], context=data.get("context")
            )
            first = data.get("message")
            if first:
                services.agent_message_send(
                    membership=membership, conversation_id=conversation.pk,
                    client_id=first.get("client_id", ""), content=first.get("content", ""),
                    kind=first["kind"], private=first["private"],
                    attachment_ids=first.get("attachments", []), payload=first.get("payload"),
                )
        conversation = conversation_get(account_id=membership.account_id, conversation_id=conversation.pk)
        return Response(events.conversation_data(conversation), status=status.HTTP_201_CREATED)


class ConversationDetailApi(AccountApiView):
    @extend_schema(
        operation_id="conversations_retrieve",
        parameters=[ACCOUNT_HEADER],
        responses={200: schemas.ConversationOut, 404: ERRORS[404]},
    )
    def get(self, request, conversation_id: int):
        conversation = conversation_get_for_member(membership=request.membership, conversation_id=conversation_id)
        return Response(events.conversation_data(conversation))


class ConversationMessagesApi(AccountApiView):
    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ConversationMessagesFilter"

        after = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False,
                                         help_text="Messages after this id, oldest first (catch-up).")
        before = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                          help_text="The newest `limit` messages before this id.")
        limit = serializers.IntegerField(min_value=1, max_value=200, default=50)

    @extend_schema(
        operation_id="conversations_messages_list",
        parameters=[FilterSerializer, ACCOUNT_HEADER],
        responses={200: schemas.MessagePage, **ERRORS},
    )
    def get(self, request, conversation_id: int):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        conversation = conversation_get_for_member(membership=request.membership, conversation_id=conversation_id)
        messages = message_list(
            conversation=conversation, after=f.get("after"), before=f.get("before"), limit=f["limit"] + 1
        )
        return Response(message_page(messages, limit=f["limit"], after=f.get("after")))

    @extend_schema(
        operation_id="conversations_messages_create",
        request=MessageInput,
        parameters=[ACCOUNT_HEADER],
        responses={
            201: OpenApiResponse(schemas.MessageOut, description="Stored."),
            200: OpenApiResponse(schemas.MessageOut, description="A repeat of client_id: the stored message."),
            **ERRORS,
        },
    )
    def post(self, request, conversation_id: int):
        conversation_get_for_member(membership=request.membership, conversation_id=conversation_id)  # 404 first
        body = MessageInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = services.agent_message_send(
            membership=request.membership,
            conversation_id=conversation_id,
            client_id=data.get("client_id", ""),
            content=data.get("content", ""),
            kind=data["kind"],
            private=data["private"],
            attachment_ids=data.get("attachments", []),
            payload=data.get("payload"),
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(events.message_data(result.message), status=code)


class ConversationReadApi(AccountApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ConversationReadInput"

        message_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1,
                                              help_text="Everything up to this message is read.")

    @extend_schema(
        operation_id="conversations_read",
        request=InputSerializer,
        parameters=[ACCOUNT_HEADER],
        responses={200: schemas.ReadOut, **ERRORS},
    )
    def post(self, request, conversation_id: int):
        # Look the conversation up first: a foreign id is a 404 whatever the body.
        conversation = conversation_get_for_member(membership=request.membership, conversation_id=conversation_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = services.message_mark_read(
            conversation=conversation, reader="agent", up_to_id=body.validated_data["message_id"]
        )
        return Response({"updated": updated})


class ConversationCloseApi(AccountApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ConversationCloseInput"

        outcome = serializers.ChoiceField(choices=Conversation.Outcome.choices, required=False)

    @extend_schema(
        operation_id="conversations_close",
        request=InputSerializer,
        parameters=[ACCOUNT_HEADER],
        responses={200: schemas.ConversationOut, 403: OpenApiResponse(schemas.ErrorOut), **ERRORS},
    )
    def post(self, request, conversation_id: int):
        conversation = conversation_get_for_member(membership=request.membership, conversation_id=conversation_id)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = services.conversation_close(
            conversation=conversation, by=request.membership, outcome=body.validated_data.get("outcome")
        )
        conversation = conversation_get(account_id=request.membership.account_id, conversation_id=conversation.pk)
        return Response(events.conversation_data(conversation))


class UnreadCountApi(AccountApiView):
    @extend_schema(operation_id="unread_count", parameters=[ACCOUNT_HEADER], responses={200: schemas.UnreadCountOut})
    def get(self, request):
        return Response(unread_count(membership=request.membership))
