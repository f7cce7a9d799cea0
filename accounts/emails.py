"""Outgoing account emails, rendered in the right language.

Sent through Django's email backend (``EMAIL_URL``); links use
``settings.PUBLIC_URL`` so they work from any mail client.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Invitation

logger = logging.getLogger(__name__)


def invitation_send_email(*, invitation_id: int) -> bool:
    """Email the accept link of a pending invitation. Returns whether it was sent."""
    from accounts.services import invitation_accept_url

    invitation = Invitation.objects.select_related("account", "invited_by").filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_pending:
        return False
    inviter = invitation.invited_by
    language = (inviter.language if inviter else "") or invitation.account.locale or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {
            "invitation": invitation,
            "account": invitation.account,
            "inviter_name": inviter.display_name if inviter else invitation.account.name,
            "accept_url": invitation_accept_url(invitation),
            "role": invitation.get_role_display(),
            "ttl_days": settings.INVITATION_TTL_DAYS,
            "public_url": settings.PUBLIC_URL,
        }
        subject = _("%(inviter)s invited you to join %(account)s on Charla") % {
            "inviter": context["inviter_name"],
            "account": invitation.account.name,
        }
        text = render_to_string("accounts/emails/invitation.txt", context)
        html = render_to_string("accounts/emails/invitation.html", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [invitation.email])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:
        logger.exception("invitation email failed", extra={"invitation_id": invitation_id})
        return False
    return True
