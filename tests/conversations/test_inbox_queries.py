"""Query budgets of the inbox's hot pages: pinned, and flat as data grows
(no N+1: 5 rows or 50, 5 messages or 50, the same number of queries)."""

from __future__ import annotations

import pytest

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from conversations.models import Attachment, Conversation, Message, PageView
from tests import factories

pytestmark = pytest.mark.django_db

# Measured: a list page is 10 queries (session, user, membership, the
# viewer's campaigns, counts, sites, campaigns, the page's ids, its rows, the
# account switcher); a conversation page 16 (+ conversation, saved replies,
# pages visited, previous conversations, messages, attachments). Budgets
# leave no room for a query per row or per message.
LIST_BUDGET = 10
CONVERSATION_BUDGET = 16
SUPERVISOR_EXTRA = 1  # the team with its load (nav + assign dialog share it)


def fill_lists(account, agent, n: int) -> None:
    campaign = factories.CampaignFactory(account=account)
    for i in range(n):
        contact = factories.ContactFactory(account=account)
        factories.ConversationFactory(account=account, contact=contact, campaign=campaign if i % 3 == 0 else None,
                                      priority=i % 4)
        factories.ConversationFactory(
            account=account, contact=contact, assignee=agent, status=Conversation.Status.ASSIGNED,
            campaign=campaign if i % 2 else None,
        )


def fill_thread(account, agent, conversation, n: int) -> None:
    for i in range(n):
        kind = i % 4
        if kind == 0:
            message = factories.MessageFactory(account=account, conversation=conversation, content=f"question {i}")
            Attachment.objects.create(account=account, message=message, name="a.pdf", content_type="application/pdf", size=10, file="attachments/a.pdf")
        elif kind == 1:
            factories.MessageFactory(account=account, conversation=conversation, sender_type=Message.Sender.AGENT,
                                     sender_membership=agent, content=f"answer {i}")
        elif kind == 2:
            factories.MessageFactory(account=account, conversation=conversation, sender_type=Message.Sender.AGENT,
                                     sender_membership=agent, kind=Message.Kind.NOTE, content=f"note {i}")
        else:
            factories.MessageFactory(account=account, conversation=conversation, sender_type=Message.Sender.SYSTEM,
                                     kind=Message.Kind.SYSTEM, content="joined")
        PageView.objects.create(account=account, contact=conversation.contact, url=f"https://shop.example.test/{i}")
    for _ in range(min(n, 6)):
        factories.ConversationFactory(account=account, contact=conversation.contact, assignee=agent,
                                      status=Conversation.Status.CLOSED, closed_at=timezone.now())
    for _ in range(n):
        factories.CannedResponseFactory(account=account)


def count_queries(client, url: str, **headers) -> int:
    client.get(url, **headers)  # warm: template loading, session save, lazy caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200, url
    return len(captured.captured_queries)


@pytest.mark.parametrize("view", ["queue", "mine"])
def test_list_queries_are_pinned_and_flat(account, agent, client_for, django_assert_max_num_queries, view):
    client = client_for(agent)
    fill_lists(account, agent, 5)
    small = count_queries(client, f"/app/{view}/")
    fill_lists(account, agent, 45)
    large = count_queries(client, f"/app/{view}/")

    assert small == large, f"{view}: {small} queries with 5 rows, {large} with 50"
    with django_assert_max_num_queries(LIST_BUDGET):
        assert client.get(f"/app/{view}/").status_code == 200


def test_open_list_for_supervisors_is_flat(account, agent, supervisor, client_for, django_assert_max_num_queries):
    client = client_for(supervisor)
    fill_lists(account, agent, 5)
    small = count_queries(client, "/app/open/")
    fill_lists(account, agent, 45)
    for _ in range(5):
        factories.MembershipFactory(account=account)
    large = count_queries(client, "/app/open/")

    assert small == large
    with django_assert_max_num_queries(LIST_BUDGET + SUPERVISOR_EXTRA):
        client.get("/app/open/")


def test_counts_fragment_is_one_query_on_top_of_auth(account, agent, htmx_client_for, django_assert_max_num_queries):
    fill_lists(account, agent, 10)
    client = htmx_client_for(agent)
    with django_assert_max_num_queries(5):
        assert client.get("/app/counts/").status_code == 200


def test_list_fragment_is_cheaper_than_the_page(account, agent, htmx_client_for, django_assert_max_num_queries):
    fill_lists(account, agent, 20)
    client = htmx_client_for(agent)
    with django_assert_max_num_queries(8):
        response = client.get("/app/mine/", HTTP_HX_TARGET="conv-rows")
    assert response.status_code == 200


def test_conversation_queries_are_pinned_and_flat(account, agent, client_for, django_assert_max_num_queries):
    contact = factories.ContactFactory(account=account)
    conversation = factories.ConversationFactory(
        account=account, contact=contact, assignee=agent, status=Conversation.Status.ASSIGNED
    )
    client = client_for(agent)
    url = f"/app/conversations/{conversation.pk}/"
    fill_thread(account, agent, conversation, 5)
    fill_lists(account, agent, 5)
    small = count_queries(client, url)
    fill_thread(account, agent, conversation, 45)
    fill_lists(account, agent, 45)
    large = count_queries(client, url)

    assert small == large, f"conversation: {small} queries with 5 messages, {large} with 50"
    with django_assert_max_num_queries(CONVERSATION_BUDGET):
        client.get(url)


def test_conversation_for_supervisors_is_flat(account, agent, supervisor, client_for, django_assert_max_num_queries):
    contact = factories.ContactFactory(account=account)
    conversation = factories.ConversationFactory(
        account=account, contact=contact, assignee=agent, status=Conversation.Status.ASSIGNED
    )
    client = client_for(supervisor)
    url = f"/app/conversations/{conversation.pk}/"
    fill_thread(account, agent, conversation, 5)
    small = count_queries(client, url)
    fill_thread(account, agent, conversation, 45)
    for _ in range(10):
        factories.MembershipFactory(account=account, availability=Membership.Availability.AWAY)
    large = count_queries(client, url)

    assert small == large
    with django_assert_max_num_queries(CONVERSATION_BUDGET + SUPERVISOR_EXTRA):
        client.get(url)


def test_conversation_pane_fragment_is_flat(account, agent, htmx_client_for, django_assert_max_num_queries):
    contact = factories.ContactFactory(account=account)
    conversation = factories.ConversationFactory(
        account=account, contact=contact, assignee=agent, status=Conversation.Status.ASSIGNED
    )
    client = htmx_client_for(agent)
    url = f"/app/conversations/{conversation.pk}/"
    fill_thread(account, agent, conversation, 5)
    small = count_queries(client, url, HTTP_HX_TARGET="conversation-pane")
    fill_thread(account, agent, conversation, 45)
    large = count_queries(client, url, HTTP_HX_TARGET="conversation-pane")

    assert small == large
    with django_assert_max_num_queries(11):
        client.get(url, HTTP_HX_TARGET="conversation-pane")


@pytest.mark.parametrize("term", ["visitor", "no-such-text"])
@pytest.mark.parametrize("window", [1000, 3])
def test_search_fragment_is_flat(account, agent, supervisor, htmx_client_for, monkeypatch, term, window):
    """Searching costs the same with 5 rows or 50, in the window or past it
    (``selectors.conversation_search_ids``: at most two more queries)."""
    from conversations import selectors

    monkeypatch.setattr(selectors, "SEARCH_WINDOW", window)
    client = htmx_client_for(supervisor)
    url = f"/app/open/?q={term}"
    fill_lists(account, agent, 5)
    small = count_queries(client, url, HTTP_HX_TARGET="conv-rows")
    fill_lists(account, agent, 45)
    large = count_queries(client, url, HTTP_HX_TARGET="conv-rows")

    assert small == large, f"search {term!r}: {small} queries with 5 rows, {large} with 50"
    assert large <= 8 + 2
