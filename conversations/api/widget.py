"""The widget's HTTP API, under ``/api/widget/v1/``.

No session and no CSRF: every call but ``session`` carries the visitor token
(``Authorization: Bearer <visitor_token>`` or ``X-Visitor-Token``). The same
operations as the widget socket, for the first boot and for browsers where
WebSockets are blocked (the polling fallback): sends are idempotent on
``client_id`` and share the socket's per-contact flood limit; polling marks
agent messages delivered, like the socket does.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from django.conf import settings
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from core import ratelimit
from core.exceptions import PermissionDenied, RateLimited

from .. import events, services
from ..consumers.widget import contact_send_checked, mark_delivered_to_contact
from ..models import Contact, Message
from ..selectors import conversation_get_for_contact, message_list, message_read_up_to
from ..ws_auth import is_own_host, origin_host, widget_origin_allowed
from . import schemas
from .validation import json_object

TOKEN_HEADER = OpenApiParameter(
    "X-Visitor-Token", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="The visitor token from `session` (or send `Authorization: Bearer <token>`).",
)
ERRORS = {
    400: OpenApiResponse(schemas.ErrorOut, description="Invalid input."),
    403: OpenApiResponse(schemas.ErrorOut, description="Missing, forged, expired or revoked visitor token."),
    404: OpenApiResponse(schemas.ErrorOut, description="No such conversation."),
}
CORS_HEADERS = "authorization, content-type, x-visitor-token"


def contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "user_id": contact.user_id or None,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "locale": contact.locale,
    }


def site_data(site, *, online: bool) -> dict[str, Any]:
    return {
        "name": site.name,
        "team_name": site.team_name or site.account.name,
        "online": online,
        "greeting": site.greeting,
        "offline_message": site.offline_message,
        "reply_time_text": site.reply_time_text,
        "colors": {"primary": site.color_primary, "text": site.color_text},
        "logo_url": site.logo.url if site.logo else None,
        "locale": site.locale or site.account.locale,
        "require_identity": site.require_identity,
    }


class WidgetApiView(APIView):
    """Resolves ``request.contact`` from the visitor token once, and answers
    CORS for the site's allowed origins."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]
    requires_token = True

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        request.contact = None
        if request.method == "OPTIONS" or not self.requires_token:
            return
        token = request.META.get("HTTP_X_VISITOR_TOKEN", "")
        auth = request.META.get("HTTP_AUTHORIZATION", "")
        if not token and auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        if not token:
            raise PermissionDenied(_("A visitor token is required."), code="bad_token")
        request.contact = services.visitor_token_read(token[:4096])

    def cors_site(self, request):
        contact = getattr(request, "contact", None)
        return contact.site if contact is not None else None

    def options(self, request, *args: Any, **kwargs: Any) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.META.get("HTTP_ORIGIN")
        if origin:
            patch_vary_headers(response, ["Origin"])
            host = origin_host(origin)
            # A preflight carries no body (no app_id, no token): allow it, the
            # real request is then checked against the site.
            if request.method == "OPTIONS" or widget_origin_allowed(self.cors_site(request), host):
                response["Access-Control-Allow-Origin"] = origin
            if request.method == "OPTIONS":
                response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                response["Access-Control-Allow-Headers"] = CORS_HEADERS
                response["Access-Control-Max-Age"] = "86400"
        return response


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


class WidgetSessionApi(WidgetApiView):
    requires_token = False

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetSessionInput"

        app_id = serializers.CharField(max_length=64)
        visitor_token = serializers.CharField(max_length=4096, required=False, allow_blank=True)
        user_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
        user_hash = serializers.CharField(max_length=128, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        name = serializers.CharField(max_length=160, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        locale = serializers.CharField(max_length=8, required=False, allow_blank=True)
        page_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
        attributes = serializers.JSONField(required=False, validators=[json_object])

    def cors_site(self, request):
        return getattr(request, "widget_site", None)

    @extend_schema(
        operation_id="widget_session",
        request=InputSerializer,
        responses={
            200: schemas.WidgetSessionOut,
            400: ERRORS[400],
            403: OpenApiResponse(schemas.ErrorOut, description="Bad user_hash, or an Origin the site does not allow."),
            404: OpenApiResponse(schemas.ErrorOut, description="Unknown app_id."),
            429: OpenApiResponse(schemas.ErrorOut, description="Too many sessions from this address."),
        },
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = {k: v for k, v in body.validated_data.items() if v not in ("", None)}
        limit = int(settings.CHARLA.get("WIDGET_SESSIONS_PER_MINUTE", 60))
        if not ratelimit.hit(f"widget-session:{_client_ip(request)}", limit=limit, window=60):
            raise RateLimited(_("Too many chat sessions from your address. Try again in a minute."))
        host = origin_host(request.META.get("HTTP_ORIGIN"))
        session = services.visitor_session_start(
            # The chat iframe is served by Charla: its own origin is not the
            # host site's, so only a foreign origin is checked against the site.
            origin_host=None if host is None or is_own_host(host) else host,
            **data,
        )
        request.widget_site = session["site"]
        return Response(
            {
                "visitor_token": session["visitor_token"],
                "contact": contact_data(session["contact"]),
                "conversations": [events.conversation_data_for_contact(c) for c in session["conversations"]],
                "site": site_data(session["site"], online=session["online"]),
            }
        )


class WidgetIdentifyApi(WidgetApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetIdentifyInput"

        user_id = serializers.CharField(max_length=128, required=False, allow_blank=True)
        user_hash = serializers.CharField(max_length=128, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        name = serializers.CharField(max_length=160, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
        locale = serializers.CharField(max_length=8, required=False, allow_blank=True)
        attributes = serializers.JSONField(required=False, validators=[json_object])

    @extend_schema(
        operation_id="widget_identify", request=InputSerializer, parameters=[TOKEN_HEADER],
        responses={200: schemas.WidgetIdentifyOut, 400: ERRORS[400], 403: ERRORS[403]},
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = {k: v for k, v in body.validated_data.items() if v not in ("", None)}
        contact = services.contact_identify(contact=request.contact, **data)
        return Response({"visitor_token": services.visitor_token_make(contact), "contact": contact_data(contact)})


class WidgetMessagesApi(WidgetApiView):
    class FilterSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetMessagesFilter"

        conversation_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        after = serializers.IntegerField(min_value=0, max_value=2**63 - 1, required=False,
                                         help_text="Only messages after this id (poll with the last next_after).")
        limit = serializers.IntegerField(min_value=1, max_value=200, default=50)

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetMessagesInput"

        conversation_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False,
                                                   help_text="Omit to continue the open conversation or start one.")
        client_id = serializers.CharField(max_length=64, help_text="A UUID you make; repeats are safe.")
        content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, max_length=20_000)
        kind = serializers.ChoiceField(
            choices=[Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.DOCUMENT, Message.Kind.LOCATION],
            default=Message.Kind.TEXT,
        )
        attachments = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                            max_length=10, required=False)
        payload = serializers.JSONField(required=False, validators=[json_object])
        context = serializers.JSONField(required=False, validators=[json_object],
                                        help_text="Product card for a conversation this message starts.")

    @extend_schema(
        operation_id="widget_messages_list", parameters=[FilterSerializer, TOKEN_HEADER],
        responses={200: schemas.WidgetMessagePage, **ERRORS},
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        f = params.validated_data
        contact = request.contact
        conversation = conversation_get_for_contact(contact=contact, conversation_id=f["conversation_id"])
        after, limit = f.get("after"), f["limit"]
        messages = message_list(conversation=conversation, after=after, limit=limit + 1, include_private=False)
        if after is not None:
            has_more = len(messages) > limit
            messages = messages[:limit]
        else:
            has_more = False
            messages = messages[-limit:]
        mark_delivered_to_contact(messages)
        return Response(
            {
                "results": [events.message_data(m) for m in messages],
                "next_after": messages[-1].pk if messages else after,
                "has_more": has_more,
                "conversation": events.conversation_data_for_contact(conversation),
                "read_up_to": message_read_up_to(conversation=conversation, sender_types=[Message.Sender.CONTACT]),
            }
        )

    @extend_schema(
        operation_id="widget_messages_create", request=InputSerializer, parameters=[TOKEN_HEADER],
        responses={
            201: OpenApiResponse(schemas.MessageOut, description="Stored."),
            200: OpenApiResponse(schemas.MessageOut, description="A repeat of client_id: the stored message."),
            429: OpenApiResponse(schemas.ErrorOut, description="Sending too fast."),
            **ERRORS,
        },
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = contact_send_checked(
            request.contact,
            conversation_id=data.get("conversation_id"),
            client_id=data["client_id"],
            content=data.get("content", ""),
            kind=data["kind"],
            payload=data.get("payload"),
            attachment_ids=data.get("attachments", []),
            context=data.get("context"),
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(events.message_data(result.message), status=code)


class WidgetReadApi(WidgetApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetReadInput"

        conversation_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        message_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)

    @extend_schema(
        operation_id="widget_read", request=InputSerializer, parameters=[TOKEN_HEADER],
        responses={200: schemas.ReadOut, **ERRORS},
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        conversation = conversation_get_for_contact(contact=request.contact, conversation_id=data["conversation_id"])
        updated = services.message_mark_read(conversation=conversation, reader="contact", up_to_id=data["message_id"])
        return Response({"updated": updated})


class WidgetTypingApi(WidgetApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetTypingInput"

        conversation_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
        state = serializers.ChoiceField(choices=["start", "stop"])

    @extend_schema(
        operation_id="widget_typing", request=InputSerializer, parameters=[TOKEN_HEADER],
        responses={204: None, **ERRORS},
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        contact = request.contact
        conversation = conversation_get_for_contact(contact=contact, conversation_id=data["conversation_id"])
        services.typing_set(
            conversation=conversation, who_type="contact", who_id=contact.pk,
            who_name=contact.display_name, state=data["state"],
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetPageViewApi(WidgetApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetPageViewInput"

        url = serializers.URLField(max_length=2000)
        title = serializers.CharField(max_length=300, required=False, allow_blank=True)

    @extend_schema(
        operation_id="widget_page_view", request=InputSerializer, parameters=[TOKEN_HEADER],
        responses={204: None, 400: ERRORS[400], 403: ERRORS[403]},
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.contact_page_view(contact=request.contact, url=data["url"], title=data.get("title", ""))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WidgetUploadApi(WidgetApiView):
    parser_classes = [MultiPartParser]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetUploadInput"

        file = serializers.FileField(allow_empty_file=True, use_url=False)

    @extend_schema(
        operation_id="widget_upload", request={"multipart/form-data": InputSerializer}, parameters=[TOKEN_HEADER],
        responses={
            201: schemas.AttachmentOut,
            400: OpenApiResponse(schemas.ErrorOut, description="Too large (10 MB), empty, or a type not allowed."),
            403: ERRORS[403],
            429: OpenApiResponse(schemas.ErrorOut, description="Uploading too fast."),
        },
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        contact = request.contact
        limit = int(settings.CHARLA.get("UPLOADS_PER_MINUTE", 20))
        if not ratelimit.hit(f"upload:contact:{contact.pk}", limit=limit, window=60):
            raise RateLimited(_("Too many uploads. Try again in a minute."))
        attachment = services.attachment_upload(
            account_id=contact.account_id, upload=body.validated_data["file"], contact=contact
        )
        return Response(events.attachment_data(attachment), status=status.HTTP_201_CREATED)


class WidgetContextApi(WidgetApiView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WidgetContextInput"

        title = serializers.CharField(max_length=500)
        url = serializers.CharField(max_length=500, required=False, allow_blank=True)
        image_url = serializers.CharField(max_length=500, required=False, allow_blank=True)
        price = serializers.CharField(max_length=500, required=False, allow_blank=True)
        ref = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        operation_id="widget_context", request=InputSerializer, parameters=[TOKEN_HEADER],
        responses={200: schemas.WidgetContextOut, 400: ERRORS[400], 403: ERRORS[403]},
    )
    def post(self, request):
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        conversation = services.contact_context_set(contact=request.contact, context=body.validated_data)
        return Response(
            {
                "conversation": events.conversation_data_for_contact(conversation) if conversation else None,
                "pending": conversation is None,
            }
        )


class WidgetShutdownApi(WidgetApiView):
    @extend_schema(
        operation_id="widget_shutdown", request=None, parameters=[TOKEN_HEADER],
        responses={204: None, 403: ERRORS[403]},
    )
    def post(self, request):
        services.visitor_token_revoke(contact=request.contact)
        return Response(status=status.HTTP_204_NO_CONTENT)
