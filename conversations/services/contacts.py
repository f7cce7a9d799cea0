"""Visitors: widget sessions, identity, page views and presence."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Site
from core import presence
from core.exceptions import NotFound, PermissionDenied, ValidationError

from .. import events
from ..models import Contact, Conversation, PageView
from ..selectors import conversation_open_for_contact

TOKEN_SALT = "charla.visitor"
PENDING_CONTEXT_TTL = 60 * 60 * 24


def visitor_token_make(contact: Contact) -> str:
    return signing.dumps({"c": contact.pk, "v": contact.token_version}, salt=TOKEN_SALT, compress=True)


def visitor_token_read(token: str, *, max_age: int | None = None) -> Contact:
    """The contact a visitor token names; ``PermissionDenied`` when forged,
    expired or revoked."""
    max_age = max_age if max_age is not None else settings.CHARLA["VISITOR_TOKEN_MAX_AGE"]
    try:
        data = signing.loads(token or "", salt=TOKEN_SALT, max_age=max_age)
        contact = Contact.objects.select_related("site", "account").get(pk=int(data["c"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, Contact.DoesNotExist):
        raise PermissionDenied(_("Your chat session is not valid. Please reload the page."), code="bad_token") from None
    if contact.token_version != data.get("v"):
        raise PermissionDenied(_("Your chat session was ended. Please reload the page."), code="revoked_token")
    return contact


@transaction.atomic
def visitor_token_revoke(*, contact: Contact) -> Contact:
    """Forget the visitor on this browser (widget ``shutdown``): every token
    issued so far stops working and the visitor's open sockets are closed."""
    Contact.objects.filter(pk=contact.pk).update(token_version=F("token_version") + 1, updated_at=timezone.now())
    contact.refresh_from_db(fields=["token_version"])
    events.publish_session_revoked(contact)
    return contact


def user_hash_valid(site: Site, *, user_id: str, user_hash: str | None) -> bool:
    expected = hmac.new(site.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return bool(user_hash) and hmac.compare_digest(expected, str(user_hash).lower())


def _check_identity(site: Site, *, user_id: str | None, user_hash: str | None) -> None:
    if not user_id:
        return
    if (site.require_identity or user_hash) and not user_hash_valid(site, user_id=user_id, user_hash=user_hash):
        raise PermissionDenied(_("Identity verification failed (user_hash does not match)."), code="bad_user_hash")


def _site_for_app_id(app_id: str) -> Site:
    try:
        return Site.objects.select_related("account").get(app_id=app_id or "")
    except Site.DoesNotExist:
        raise NotFound(_("Unknown app_id: this chat is not configured.")) from None


def _apply_profile(contact: Contact, *, fields: dict[str, Any]) -> list[str]:
    changed = []
    for name in ("email", "name", "phone", "locale"):
        value = fields.get(name)
        if value and getattr(contact, name) != value:
            setattr(contact, name, str(value)[: Contact._meta.get_field(name).max_length])
            changed.append(name)
    attributes = fields.get("attributes")
    if attributes:
        if not isinstance(attributes, dict):
            raise ValidationError(_("attributes must be an object."), field="attributes")
        contact.attributes = {**contact.attributes, **{str(k)[:64]: v for k, v in list(attributes.items())[:50]}}
        changed.append("attributes")
    return changed


def _merge_into(source: Contact, target: Contact) -> None:
    """An anonymous visitor logged in: their conversations follow them."""
    Conversation.objects.filter(account_id=source.account_id, contact=source).update(contact=target)
    source.token_version += 1
    source.save(update_fields=["token_version", "updated_at"])
    events.publish_session_revoked(source)


def _pending_context_key(contact_id: int) -> str:
    return f"widget-context:{contact_id}"


def contact_pending_context(contact: Contact) -> dict[str, Any] | None:
    """The card set with :func:`contact_context_set` while no conversation
    was open; used once, by the next conversation the visitor starts."""
    key = _pending_context_key(contact.pk)
    card = cache.get(key)
    if card:
        transaction.on_commit(lambda: cache.delete(key))
    return card or None


@transaction.atomic
def contact_context_set(*, contact: Contact, context: Any) -> Conversation | None:
    """Show a product card (widget ``context``) on the visitor's open
    conversation; with none open, keep it for the next one they start."""
    from .conversations import clean_context, conversation_update_fields

    card = clean_context(context)
    if not card:
        raise ValidationError(_("A context card needs a title."), field="context")
    conversation = conversation_open_for_contact(contact=contact)
    if conversation is None:
        cache.set(_pending_context_key(contact.pk), card, timeout=PENDING_CONTEXT_TTL)
        return None
    return conversation_update_fields(conversation=conversation, context=card)


@transaction.atomic
def visitor_session_start(
    *,
    app_id: str,
    visitor_token: str | None = None,
    user_id: str | None = None,
    user_hash: str | None = None,
    origin_host: str | None = None,
    page_url: str | None = None,
    **profile: Any,
) -> dict[str, Any]:
    """Boot a widget: find or create the visitor, verify identity, count a visit.

    Returns the visitor token and what the widget needs to draw itself.
    """
    site = _site_for_app_id(app_id)
    if origin_host is not None and not site.allows_origin_host(origin_host):
        raise PermissionDenied(_("This website is not allowed to use this chat (%(host)s).") % {"host": origin_host}, code="bad_origin")
    user_id = (str(user_id).strip()[:128] or None) if user_id else None
    _check_identity(site, user_id=user_id, user_hash=user_hash)

    token_contact = None
    if visitor_token:
        try:
            token_contact = visitor_token_read(visitor_token)
        except PermissionDenied:
            token_contact = None  # a stale token starts a fresh visitor
        if token_contact is not None and token_contact.site_id != site.pk:
            token_contact = None

    now = timezone.now()
    if user_id:
        contact = Contact.objects.select_for_update().filter(account=site.account, site=site, user_id=user_id).first()
        if contact is None and token_contact is not None and not token_contact.user_id:
            contact = token_contact
            contact.user_id = user_id
        elif contact is None:
            contact = Contact(account=site.account, site=site, user_id=user_id, first_seen_at=now, visit_count=0)
        elif token_contact is not None and not token_contact.user_id and token_contact.pk != contact.pk:
            _merge_into(token_contact, contact)
    elif token_contact is not None and not token_contact.user_id:
        contact = token_contact
    elif token_contact is not None:
        # The host page booted without the user it identified before (logout):
        # start an anonymous visitor rather than exposing the known one.
        contact = Contact(account=site.account, site=site, first_seen_at=now, visit_count=0)
    else:
        contact = Contact(account=site.account, site=site, first_seen_at=now, visit_count=0)

    _apply_profile(contact, fields=profile)
    contact.visit_count += 1
    contact.last_seen_at = now
    if page_url:
        contact.current_page_url = str(page_url)[:2000]
    contact.save()

    conversations = list(
        Conversation.objects.filter(account_id=site.account_id, contact=contact)
        .select_related("assignee__user", "contact")
        .order_by("-created_at")[:20]
    )
    return {
        "visitor_token": visitor_token_make(contact),
        "contact": contact,
        "site": site,
        "conversations": conversations,
        "online": site.is_open_at(now),
    }


@transaction.atomic
def contact_identify(
    *, contact: Contact, user_id: str | None = None, user_hash: str | None = None, **profile: Any
) -> Contact:
    """Attach known data to the visitor. A ``user_id`` needs a valid hash when
    the site requires identity; an id already used by another contact of
    the site merges this visitor into it."""
    site = contact.site
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if user_id:
        user_id = str(user_id).strip()[:128]
        _check_identity(site, user_id=user_id, user_hash=user_hash)
        if contact.user_id and contact.user_id != user_id:
            raise PermissionDenied(_("This visitor is already identified as another user."), code="identity_conflict")
        existing = Contact.objects.filter(account_id=contact.account_id, site=site, user_id=user_id).exclude(pk=contact.pk).first()
        if existing is not None:
            _merge_into(contact, existing)
            contact = existing
        else:
            contact.user_id = user_id
    _apply_profile(contact, fields=profile)
    contact.save()
    return contact


@transaction.atomic
def contact_find_or_create(*, account_id: int, email: str = "", phone: str = "", name: str = "") -> tuple[Contact, bool]:
    """The account's contact with this email (else phone), or a new one.
    Returns ``(contact, created)``. For API clients starting a conversation."""
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.core.validators import validate_email

    email = (email or "").strip().lower()
    phone = (phone or "").strip()[:32]
    if not email and not phone:
        raise ValidationError(_("Give the contact's id, email or phone."), field="contact")
    if email:
        try:
            validate_email(email)
        except DjangoValidationError:
            raise ValidationError(_("Enter a valid email address."), field="email") from None
    qs = Contact.objects.filter(account_id=account_id)
    contact = (qs.filter(email__iexact=email) if email else qs.filter(phone=phone)).order_by("-last_seen_at", "-id").first()
    if contact is not None:
        return contact, False
    contact = Contact.objects.create(account_id=account_id, email=email, phone=phone, name=(name or "").strip()[:160])
    return contact, True


@transaction.atomic
def contact_page_view(*, contact: Contact, url: str, title: str = "") -> PageView:
    url = (url or "").strip()[:2000]
    if not url.startswith(("http://", "https://")):
        raise ValidationError(_("page.view needs an http(s) url."), field="url")
    title = (title or "")[:300]
    view = PageView.objects.create(account_id=contact.account_id, contact=contact, url=url, title=title)
    Contact.objects.filter(pk=contact.pk).update(
        current_page_url=url, current_page_title=title, last_seen_at=timezone.now()
    )
    contact.current_page_url, contact.current_page_title = url, title
    events.publish_presence_contact(contact, account_id=contact.account_id)
    return view


def _set_online(contact: Contact, online: bool) -> None:
    with transaction.atomic():
        updated = Contact.objects.filter(pk=contact.pk, is_online=not online).update(
            is_online=online, last_seen_at=timezone.now()
        )
        if updated:
            contact.is_online = online
            events.publish_presence_contact(contact, account_id=contact.account_id)


def contact_connection_opened(*, contact: Contact, channel_name: str) -> None:
    presence.connect("contact", contact.pk, channel_name)
    _set_online(contact, True)


def contact_connection_closed(*, contact: Contact, channel_name: str) -> int:
    """Forget one tab. Returns the tabs left; call :func:`contact_presence_settle`
    after the reload grace when none are left."""
    return presence.disconnect("contact", contact.pk, channel_name)


def contact_presence_settle(*, contact: Contact) -> None:
    if presence.live_count("contact", contact.pk) == 0:
        _set_online(contact, False)
