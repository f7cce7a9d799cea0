"""Transcript downloads.

* ``/app/conversations/<id>/transcript.pdf`` — agents who may see the
  conversation: the stored PDF of a closed conversation (made now if the
  background task has not run yet); an open one is rendered on the fly.
* ``/transcripts/<token>/`` — the customer's signed link from the closing
  email: rendered on the fly without private notes or internal lines.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.exceptions import NotFound
from core.tenancy import member_required

from .models import Conversation
from .selectors import conversation_get_for_member
from .services import transcripts


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@never_cache
@member_required("agent")
def transcript_download(request: HttpRequest, conversation_id: int) -> HttpResponse:
    try:
        conversation = conversation_get_for_member(membership=request.membership, conversation_id=conversation_id)
    except NotFound:
        raise Http404 from None
    filename = f"conversation-{conversation.pk}.pdf"
    if conversation.status == Conversation.Status.CLOSED:
        if not conversation.transcript:
            transcripts.transcript_make(conversation_id=conversation.pk)
            conversation.refresh_from_db(fields=["transcript"])
        if conversation.transcript:
            return FileResponse(
                conversation.transcript.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf"
            )
    return _pdf(transcripts.render_transcript(conversation, include_internal=True), filename)


@require_GET
@never_cache
def transcript_public(request: HttpRequest, token: str) -> HttpResponse:
    ids = transcripts.public_token_read(token)
    if ids is None:
        raise Http404
    conversation_id, account_id = ids
    conversation = (
        Conversation.objects.select_related("account", "contact", "campaign", "site", "assignee__user")
        .filter(pk=conversation_id, account_id=account_id)
        .first()
    )
    if conversation is None:
        raise Http404
    return _pdf(transcripts.render_transcript(conversation, include_internal=False), f"conversation-{conversation.pk}.pdf")
