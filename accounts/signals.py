"""Account signals: what other apps may react to, and the login/logout hooks.

``membership_changed`` (role or capacity) and ``membership_removed`` let
higher layers (routing in ``conversations``) react without ``accounts``
importing them: a removed agent's open conversations should go back to the
queue. Receivers connect in their ``AppConfig.ready()``.

The ``user_logged_in``/``user_logged_out`` receivers below write
``AgentSession`` rows through the services (see ``agent_session_start``).
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import Signal, receiver

#: ``membership``, ``fields`` (list of changed field names).
membership_changed = Signal()
#: ``membership`` (now inactive).
membership_removed = Signal()


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


@receiver(user_logged_in, dispatch_uid="accounts.agent_session_start")
def _on_login(sender, request, user, **kwargs):
    from accounts.services import agent_session_start
    from core.tenancy import SESSION_KEY, membership_for

    session = getattr(request, "session", None)
    account_id = session.get(SESSION_KEY) if session is not None else None
    membership = membership_for(user, account_id=account_id)
    agent_session_start(
        user=user,
        account=membership.account if membership else None,
        session_key=(session.session_key or "") if session is not None else "",
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "") if request is not None else "",
    )


@receiver(user_logged_out, dispatch_uid="accounts.agent_session_end")
def _on_logout(sender, request, user, **kwargs):
    from accounts.services import agent_session_end

    session = getattr(request, "session", None)
    if user is None or session is None:
        return
    agent_session_end(user=user, session_key=session.session_key or "")
