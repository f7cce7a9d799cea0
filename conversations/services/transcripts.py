"""PDF transcripts (reportlab) and the customer's closing email.

Every close enqueues :func:`transcript_make` (a Celery task, on commit). It
locks the conversation row, and makes the PDF only if the conversation is
still closed and has no transcript yet — so a repeat or a second worker never
makes a second file — then stores it in ``Conversation.transcript`` and, after
that commit, emails the customer (when their email is known) a link to it.

Two renderings of the same conversation:

* the stored file is the team's record: every message, including bot
  messages, system lines and private notes — internal ones clearly marked
  "Internal" — downloadable from the inbox;
* the customer's link (signed, no login) renders the same layout on the fly
  without private notes and internal system lines, so notes never leak.

Text is set in DejaVu Sans (Debian's fonts-dejavu) or, where it is missing,
Bitstream Vera (ships with reportlab): both are Unicode TrueType fonts, so
Spanish text (ñ, á, ¿) renders and extracts correctly.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime, timedelta
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..models import Conversation, Message

logger = logging.getLogger(__name__)

FONT = "CharlaSans"
FONT_BOLD = "CharlaSans-Bold"
PUBLIC_SALT = "charla.transcript"
PUBLIC_MAX_AGE = 60 * 60 * 24 * 90
_FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
]
_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    if _fonts_ready:
        return
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    bundled = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    candidates = [*_FONT_CANDIDATES, (os.path.join(bundled, "Vera.ttf"), os.path.join(bundled, "VeraBd.ttf"))]
    for regular, bold in candidates:
        if os.path.exists(regular) and os.path.exists(bold):
            pdfmetrics.registerFont(TTFont(FONT, regular))
            pdfmetrics.registerFont(TTFont(FONT_BOLD, bold))
            pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)
            _fonts_ready = True
            return
    raise RuntimeError("No Unicode TrueType font found for transcripts (install fonts-dejavu).")


# --- Rendering ----------------------------------------------------------------------------


def _fmt(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "—"


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} B"


def _sender_label(message: Message, conversation: Conversation) -> str:
    if message.sender_type == Message.Sender.AGENT:
        name = message.sender_membership.user.display_name if message.sender_membership else _("Agent")
        return f"{name} ({_('agent')})"
    if message.sender_type == Message.Sender.CONTACT:
        return f"{conversation.contact.display_name} ({_('customer')})"
    if message.sender_type == Message.Sender.BOT:
        return _("Bot")
    return _("System")


def _body_lines(message: Message) -> list[str]:
    lines = [message.content] if message.content else []
    payload = message.payload or {}
    if message.kind == Message.Kind.CARD:
        lines.append(" · ".join(str(payload[k]) for k in ("title", "price", "url") if payload.get(k)))
    elif message.kind == Message.Kind.QUICK_REPLIES:
        lines.append(_("Options: %(options)s") % {"options": ", ".join(o.get("label", "") for o in payload.get("options", []))})
    elif message.kind == Message.Kind.LOCATION:
        lines.append(_("Location: %(lat)s, %(lng)s") % {"lat": payload.get("lat"), "lng": payload.get("lng")})
    for attachment in message.attachments.all():
        lines.append(_("Attachment: %(name)s (%(size)s)") % {"name": attachment.name, "size": _size(attachment.size)})
    return lines


def _messages(conversation: Conversation, include_internal: bool) -> list[Message]:
    qs = (
        Message.objects.filter(account_id=conversation.account_id, conversation_id=conversation.pk)
        .select_related("sender_membership__user")
        .prefetch_related("attachments")
        .order_by("id")
    )
    if not include_internal:
        qs = qs.exclude(kind=Message.Kind.NOTE).exclude(kind=Message.Kind.SYSTEM, payload__internal=True)
    return list(qs)


def render_transcript(conversation: Conversation, *, include_internal: bool = True) -> bytes:
    """The conversation as a PDF (A4), in the account's language and time zone."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas as rl_canvas
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()
    account = conversation.account
    try:
        tz = ZoneInfo(account.timezone)
    except Exception:
        tz = ZoneInfo("UTC")
    messages = _messages(conversation, include_internal)

    with translation.override(account.locale):
        page_label = _("Page %(page)d of %(total)d")
        title = _("Conversation #%(id)d") % {"id": conversation.pk}
        agents = []
        for m in messages:
            if m.sender_type == Message.Sender.AGENT and m.sender_membership:
                name = m.sender_membership.user.display_name
                if name not in agents:
                    agents.append(name)
        if conversation.assignee_id and conversation.assignee.user.display_name not in agents:
            agents.append(conversation.assignee.user.display_name)
        contact = conversation.contact
        contact_bits = [contact.display_name] + [v for v in (contact.email, contact.phone) if v and v != contact.display_name]
        end = conversation.closed_at or timezone.now()
        facts_rows = [
            (_("Account"), account.name),
            (_("Site"), conversation.site.name if conversation.site else "—"),
            (_("Channel"), conversation.get_channel_display()),
            (_("Campaign"), conversation.campaign.name if conversation.campaign else "—"),
            (_("Customer"), " · ".join(contact_bits)),
            (_("Agents"), ", ".join(agents) or "—"),
            (_("Opened"), f"{_fmt(conversation.created_at, tz)} ({tz.key})"),
            (_("Closed"), f"{_fmt(conversation.closed_at, tz)} ({tz.key})" if conversation.closed_at else _("still open")),
            (_("Duration"), _duration((end - conversation.created_at).total_seconds())),
            (_("Outcome"), str(conversation.get_outcome_display())),
            (_("Close reason"), str(conversation.get_close_reason_display()) if conversation.close_reason else "—"),
        ]
        internal_label = _("Internal")
        note_label = _("Internal note")
        no_messages = _("No messages.")
        generated = _("Generated %(when)s") % {"when": _fmt(timezone.now(), tz)}
        message_blocks = [
            (m, _sender_label(m, conversation), _body_lines(m)) for m in messages
        ]

    base = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10, textColor=colors.HexColor("#6B7280"))
    heading = ParagraphStyle("heading", parent=base, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=6)
    label = ParagraphStyle("label", parent=base, fontName=FONT_BOLD, fontSize=8.5, leading=11, textColor=colors.HexColor("#374151"))
    internal = ParagraphStyle("internal", parent=base, textColor=colors.HexColor("#92400E"))

    def para(text: str, style=base) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    story = [para(title, heading), para(generated, small), Spacer(1, 4 * mm)]
    table = Table([[para(k, label), para(str(v))] for k, v in facts_rows], colWidths=[32 * mm, None])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#E5E7EB")),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    story += [table, Spacer(1, 6 * mm)]
    if not message_blocks:
        story.append(para(no_messages, small))
    for message, sender, lines in message_blocks:
        is_internal = message.is_private or (message.kind == Message.Kind.SYSTEM and (message.payload or {}).get("internal"))
        head = f"{_fmt(message.created_at, tz)} · {sender}"
        if message.is_private:
            head += f" · {note_label}"
        elif is_internal:
            head += f" · {internal_label}"
        block = [para(head, small)]
        block += [para(line, internal if is_internal else base) for line in lines if line]
        block.append(Spacer(1, 2.5 * mm))
        story.append(KeepTogether(block))

    class NumberedCanvas(rl_canvas.Canvas):
        """Two passes: remember every page, then stamp "Page n of N"."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 - reportlab's API
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(FONT, 8)
                self.setFillColor(colors.HexColor("#6B7280"))
                self.drawRightString(A4[0] - 18 * mm, 10 * mm, page_label % {"page": self._pageNumber, "total": total})
                self.drawString(18 * mm, 10 * mm, f"{account.name} · {title}")
                super().showPage()
            super().save()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
        title=title, author=account.name, subject=title,
    )
    doc.build(story, canvasmaker=NumberedCanvas)
    return out.getvalue()


# --- Making and sending ------------------------------------------------------------------


def transcript_make(*, conversation_id: int) -> bool:
    """Make and store the PDF of a closed conversation, once. Returns True when
    this call made it (and so sends the customer's email)."""
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("account", "contact", "campaign", "site", "assignee__user")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None or conversation.status != Conversation.Status.CLOSED or conversation.transcript:
            return False
        pdf = render_transcript(conversation, include_internal=True)
        stamp = (conversation.closed_at or timezone.now()).strftime("%Y%m%d-%H%M%S")
        conversation.transcript.save(f"conversation-{conversation.pk}-{stamp}.pdf", ContentFile(pdf), save=False)
        Conversation.objects.filter(pk=conversation.pk).update(transcript=conversation.transcript.name)
        transaction.on_commit(lambda: closing_email_send(conversation_id=conversation_id))
    return True


def transcripts_repair(*, older_than_seconds: int = 60, limit: int = 100) -> list[int]:
    """Safety net (beat): closed conversations whose transcript task was lost."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        Conversation.objects.filter(status=Conversation.Status.CLOSED, transcript="", closed_at__lte=cutoff)
        .order_by("-closed_at")
        .values_list("id", flat=True)[:limit]
    )
    made = []
    for conversation_id in ids:
        try:
            if transcript_make(conversation_id=conversation_id):
                made.append(conversation_id)
        except Exception:
            logger.exception("transcript failed", extra={"conversation_id": conversation_id})
    return made


def public_token(conversation: Conversation) -> str:
    return signing.dumps({"c": conversation.pk, "a": conversation.account_id}, salt=PUBLIC_SALT)


def public_token_read(token: str) -> tuple[int, int] | None:
    """(conversation id, account id) from a customer link, or None."""
    try:
        data = signing.loads(token, salt=PUBLIC_SALT, max_age=PUBLIC_MAX_AGE)
        return int(data["c"]), int(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def public_url(conversation: Conversation) -> str:
    """The customer's link (mounted at ``/transcripts/<token>/``, see docs/routing.md)."""
    return f"{settings.PUBLIC_URL}/transcripts/{public_token(conversation)}/"


def closing_email_send(*, conversation_id: int) -> str | None:
    """Email the customer the closing text and the transcript link. Called once,
    by the call of :func:`transcript_make` that made the file."""
    from .closing import closing_text

    conversation = (
        Conversation.objects.select_related("account", "contact", "campaign").filter(pk=conversation_id).first()
    )
    if conversation is None or not conversation.contact.email:
        return None
    contact = conversation.contact
    language = contact.locale or conversation.account.locale
    with translation.override(language):
        subject = _("Your conversation with %(team)s") % {"team": conversation.account.name}
        body = _("%(text)s\n\nYou can download a copy of the conversation here:\n%(link)s") % {
            "text": closing_text(conversation), "link": public_url(conversation),
        }
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [contact.email])
    except Exception:
        logger.exception("closing email failed", extra={"conversation_id": conversation_id})
        return None
    return contact.email
