"""Canned responses: saved replies expanded in the composer with ``/shortcut``.

Shared responses (no owner) belong to the whole team and only admins and
owners change them; personal ones belong to one member and only that member
changes them.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Membership
from core.exceptions import PermissionDenied, ValidationError

from ..models import CannedResponse

SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
CONTENT_MAX_CHARS = 5000


def _clean(*, shortcut: str, content: str) -> tuple[str, str]:
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    if not SHORTCUT_RE.match(shortcut):
        raise ValidationError(
            _("Use 1 to 40 lowercase letters, digits, - or _ for the shortcut (e.g. thanks or price-list)."),
            field="shortcut",
        )
    content = (content or "").strip()
    if not content:
        raise ValidationError(_("Write the text of the response."), field="content")
    if len(content) > CONTENT_MAX_CHARS:
        raise ValidationError(
            _("The response is too long (%(max)s characters at most).") % {"max": CONTENT_MAX_CHARS},
            field="content",
        )
    return shortcut, content


def _check_can_edit(*, membership: Membership, shared: bool, canned: CannedResponse | None = None) -> None:
    if canned is not None and canned.account_id != membership.account_id:
        raise PermissionDenied(_("This response belongs to another account."))
    if shared and not membership.is_admin:
        raise PermissionDenied(_("Only admins can change shared responses."))
    if canned is not None and canned.owner_id is not None and canned.owner_id != membership.pk:
        raise PermissionDenied(_("Only its owner can change a personal response."))


def _taken(*, membership: Membership, shortcut: str, shared: bool, exclude_id: int | None = None) -> bool:
    qs = CannedResponse.objects.filter(account_id=membership.account_id, shortcut=shortcut)
    qs = qs.filter(owner__isnull=True) if shared else qs.filter(owner_id=membership.pk)
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return qs.exists()


def _save(canned: CannedResponse, *, update_fields: list[str] | None = None) -> CannedResponse:
    try:
        with transaction.atomic():
            canned.save(update_fields=update_fields)
    except IntegrityError:
        raise ValidationError(_("That shortcut is already in use."), field="shortcut") from None
    return canned


@transaction.atomic
def canned_response_create(*, membership: Membership, shortcut: str, content: str, shared: bool = False) -> CannedResponse:
    shortcut, content = _clean(shortcut=shortcut, content=content)
    _check_can_edit(membership=membership, shared=shared)
    if _taken(membership=membership, shortcut=shortcut, shared=shared):
        raise ValidationError(_("That shortcut is already in use."), field="shortcut")
    canned = CannedResponse(
        account_id=membership.account_id,
        shortcut=shortcut,
        content=content,
        owner=None if shared else membership,
    )
    return _save(canned)


@transaction.atomic
def canned_response_update(
    *, membership: Membership, canned: CannedResponse, shortcut: str, content: str, shared: bool | None = None
) -> CannedResponse:
    """Edit text and shortcut; ``shared`` moves it between personal and shared
    (only admins may share, and only the owner may move a personal one)."""
    _check_can_edit(membership=membership, shared=canned.owner_id is None, canned=canned)
    shortcut, content = _clean(shortcut=shortcut, content=content)
    shared = canned.owner_id is None if shared is None else shared
    _check_can_edit(membership=membership, shared=shared)
    if _taken(membership=membership, shortcut=shortcut, shared=shared, exclude_id=canned.pk):
        raise ValidationError(_("That shortcut is already in use."), field="shortcut")
    canned.shortcut = shortcut
    canned.content = content
    canned.owner = None if shared else membership
    return _save(canned, update_fields=["shortcut", "content", "owner", "updated_at"])


@transaction.atomic
def canned_response_delete(*, membership: Membership, canned: CannedResponse) -> None:
    _check_can_edit(membership=membership, shared=canned.owner_id is None, canned=canned)
    canned.delete()
