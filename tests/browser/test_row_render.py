"""The inbox draws a list row from a conversation's data (``renderRow`` in
``static/inbox/inbox.js``) for ``message.created``, which carries the data
and not the row's HTML. It must be the row the server draws
(``conversations.html.conversation_row``): both are compared, node for node,
once the page has localized them as it does every row."""

from __future__ import annotations

import datetime as dt

import pytest

from django.utils import timezone, translation

from accounts.models import Membership
from conversations import events, html
from conversations.models import Conversation
from tests import factories
from tests.browser.helpers import off_loop
from tests.browser.test_inbox import login

NAMES = ["María López", "<b>x</b> & 'q\"", "", "ana.maria_lópez@example.test", "  Ünïcode   Ñame  ", "42 99", "😀 Emoji Person"]


def _cases(account, site, campaign, assignee, language):
    with translation.override(language):
        return _drawn(account, site, campaign, assignee)


def _drawn(account, site, campaign, assignee):
    now = timezone.now()
    cases = []
    for i, name in enumerate(NAMES):
        contact = factories.ContactFactory(
            account=account, site=site, name=name, email="", phone="" if name else f"+34 600 000 00{i}",
            is_online=bool(i % 2),
        )
        for status, priority, channel in (
            ("queued", 0, "web"), ("assigned", 2, "whatsapp"), ("snoozed", 3, "sms"), ("bot", 1, "web"), ("closed", 2, "web"),
        ):
            conversation = factories.ConversationFactory(
                account=account, contact=contact, site=site, status=status, priority=priority, channel=channel,
                assignee=assignee if status in ("assigned", "snoozed", "closed") else None,
                campaign=campaign if i % 2 else None, unread_agent=i % 3,
                last_message_preview=(name + " — ¿hola? <script>") if i % 3 else "",
                last_message_at=now - dt.timedelta(minutes=i * 7), queued_at=now - dt.timedelta(hours=i),
                awaiting_reply_since=now - dt.timedelta(minutes=40) if i % 2 else None,
                closed_at=now if status == "closed" else None,
            )
            loaded = Conversation.objects.select_related("contact", "assignee__user", "campaign").get(pk=conversation.pk)
            cases.append((str(html.conversation_row(loaded)), events.conversation_data(loaded)))
    return cases


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_client_draws_the_rows_the_server_draws(new_page, live_server_url, account, site, language):
    supervisor = factories.MembershipFactory(account=account, role=Membership.Role.SUPERVISOR,
                                             user=factories.UserFactory(email="sofia@acme.test", name="Sofía Martín",
                                                                        language=language))
    assignee = factories.MembershipFactory(account=account, role=Membership.Role.AGENT,
                                           user=factories.UserFactory(email="o'neil@acme.test", name="Ana <b>O'Neil</b>"))
    campaign = factories.CampaignFactory(account=account, name="Coches & <motos>")
    cases = off_loop(_cases, account, site, campaign, assignee, language)
    page = login(new_page, live_server_url, supervisor, path="/app/queue/")
    compared = page.evaluate(
        """(cases) => cases.map(([html, data]) => {
            const kit = window.CharlaInbox;
            const drawn = [html, kit.renderRow(data)].map((markup) => {
                const node = kit.fromHtml(markup);
                kit.processNode(node);
                return node.outerHTML;
            });
            return drawn;
        })""",
        cases,
    )
    assert len(compared) == len(cases) == len(NAMES) * 5
    for (server, client), (_, data) in zip(compared, cases, strict=True):
        assert client == server, data
    assert page.js_errors == []
    words = {"en": ('title="Website"', ">High<"), "es": ('title="Web"', ">Alta<")}[language]
    drawn = "".join(client for _, client in compared)
    assert all(word in drawn for word in words)  # the page's language, on both sides
