"""The agents' REST API under /api/v1/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership
from conversations import services
from conversations.models import Contact, Conversation, Message
from tests import factories
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_client_for, agent):
    return api_client_for(agent)


@pytest.fixture
def boss_api(api_client_for, supervisor):
    return api_client_for(supervisor)


def _conversations(account, n, **extra):
    return [factories.ConversationFactory(account=account, **extra) for _ in range(n)]


# --- JWT ---------------------------------------------------------------------------------


def test_token_obtain_refresh_and_use(agent, conversation):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"email": agent.user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}

    refreshed = client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200 and "access" in refreshed.json()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert client.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200


def test_token_bad_password_and_throttle(settings, agent):
    settings.LOGIN_THROTTLE = {**settings.LOGIN_THROTTLE, "per_email": 2}
    client = APIClient()
    for _ in range(2):
        bad = client.post("/api/v1/auth/token/", {"email": agent.user.email, "password": "wrong"}, format="json")
        assert bad.status_code == 401
    blocked = client.post("/api/v1/auth/token/", {"email": agent.user.email, "password": PASSWORD}, format="json")
    assert blocked.status_code == 429 and "Retry-After" in blocked


def test_api_requires_authentication(conversation):
    assert APIClient().get("/api/v1/conversations").status_code == 401


def test_api_account_header_for_non_member_is_404(api_client_for, agent, other_account):
    client = api_client_for(agent)
    client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_X_CHARLA_ACCOUNT="globex")
    assert client.get("/api/v1/conversations").status_code == 404


# --- conversations -----------------------------------------------------------------------


def test_conversation_list_views_and_filters(api, account, agent, agent2, site):
    queued = _conversations(account, 2)
    mine = factories.ConversationFactory(account=account, status="assigned", assignee=agent, priority=3)
    factories.ConversationFactory(account=account, status="assigned", assignee=agent2)  # not visible to agent
    closed = factories.ConversationFactory(account=account, status="closed", assignee=agent)

    def ids(**params):
        response = api.get("/api/v1/conversations", params)
        assert response.status_code == 200, response.json()
        return {c["id"] for c in response.json()["results"]}

    assert ids(view="queue") == {c.pk for c in queued}
    assert ids(view="mine") == {mine.pk}
    assert ids(view="closed") == {closed.pk}
    assert ids() == {c.pk for c in queued} | {mine.pk, closed.pk}
    assert ids(status="assigned") == {mine.pk}
    assert ids(priority=3) == {mine.pk}
    assert ids(site=mine.site_id) == {mine.pk}
    assert ids(channel="whatsapp") == set()
    mine.contact.name = "Zoe Findable"
    mine.contact.save()
    assert ids(q="findable") == {mine.pk}
    assert api.get("/api/v1/conversations", {"view": "bogus"}).status_code == 400


def test_conversation_list_keyset_pagination_walks_everything_once(boss_api, account):
    created = _conversations(account, 7)
    Conversation.objects.filter(pk__in=[c.pk for c in created[:3]]).update(last_message_at=None)
    for view in ("all", "queue"):
        seen, cursor = [], None
        while True:
            params = {"view": view, "limit": 3, **({"cursor": cursor} if cursor else {})}
            body = boss_api.get("/api/v1/conversations", params).json()
            seen += [c["id"] for c in body["results"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(c.pk for c in created), view
        assert len(seen) == len(set(seen))
    assert boss_api.get("/api/v1/conversations", {"cursor": "garbage!"}).status_code == 400


@pytest.mark.parametrize("n", [3, 15])
def test_conversation_list_query_count_is_flat(n, boss_api, account, agent, django_assert_max_num_queries):
    for conversation in _conversations(account, n, status="assigned", assignee=agent):
        Conversation.objects.filter(pk=conversation.pk).update(awaiting_reply_since=conversation.created_at)
    with django_assert_max_num_queries(6):
        response = boss_api.get("/api/v1/conversations", {"limit": 50})
    assert len(response.json()["results"]) == n


def test_conversation_create_for_contact_id_email_and_first_message(api, agent, contact):
    response = api.post("/api/v1/conversations", {"contact_id": contact.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["contact"]["id"] == contact.pk
    assert response.json()["status"] == "queued"

    response = api.post(
        "/api/v1/conversations",
        {"email": "New.Person@example.test", "name": "New", "message": {"content": "Hello from us", "client_id": "m1"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["contact"]["email"] == "new.person@example.test"
    assert body["assignee"]["id"] == agent.pk  # replying takes it
    assert Message.objects.filter(conversation_id=body["id"], sender_type="agent").count() == 1
    again = api.post("/api/v1/conversations", {"email": "new.person@example.test"}, format="json")
    assert again.json()["contact"]["id"] == body["contact"]["id"]
    assert Contact.objects.filter(email="new.person@example.test").count() == 1


def test_conversation_create_refuses_missing_or_foreign_contact(api, other_conversation):
    assert api.post("/api/v1/conversations", {}, format="json").status_code == 400
    foreign = api.post("/api/v1/conversations", {"contact_id": other_conversation.contact_id}, format="json")
    assert foreign.status_code == 404
    assert not Conversation.objects.filter(contact=other_conversation.contact).exclude(pk=other_conversation.pk).exists()


def test_conversation_detail_and_foreign_ids_are_404(api, conversation, other_conversation):
    response = api.get(f"/api/v1/conversations/{conversation.pk}")
    assert response.status_code == 200
    assert set(response.json()) >= {"id", "status", "assignee", "campaign", "contact", "priority", "context", "unread"}
    for path in ("", "/messages", "/read", "/close"):
        url = f"/api/v1/conversations/{other_conversation.pk}{path}"
        method = api.get if path in ("", "/messages") else api.post
        foreign = method(url, {"message_id": 1} if path == "/read" else {}, format="json")
        missing = method(f"/api/v1/conversations/999999999{path}", {"message_id": 1} if path == "/read" else {}, format="json")
        assert foreign.status_code == missing.status_code == 404, path
        assert foreign.json() == missing.json()
    sent = api.post(f"/api/v1/conversations/{other_conversation.pk}/messages", {"content": "x"}, format="json")
    assert sent.status_code == 404
    assert other_conversation.messages.count() == 0


# --- messages ---------------------------------------------------------------------------


def test_message_send_is_idempotent_201_then_200(api, conversation):
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    first = api.post(url, {"client_id": "k-1", "content": "Hi!"}, format="json")
    second = api.post(url, {"client_id": "k-1", "content": "Hi!"}, format="json")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert Message.objects.filter(conversation=conversation, client_id="k-1").count() == 1


def test_message_send_private_note_and_validation(api, conversation):
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    note = api.post(url, {"content": "internal", "private": True}, format="json")
    assert note.status_code == 201 and note.json()["kind"] == "note"
    empty = api.post(url, {"content": "   "}, format="json")
    assert empty.status_code == 400 and empty.json()["error"] == "empty"
    nul = api.post(url, {"content": "a\x00b"}, format="json")
    assert nul.status_code == 400
    bad_payload = api.post(url, {"content": "x", "payload": {"k": "a\x00"}}, format="json")
    assert bad_payload.status_code == 400


def test_message_send_to_closed_conversation_is_400_with_message(api, agent, conversation):
    services.conversation_assign(conversation=conversation, assignee=agent)
    services.conversation_close(conversation=conversation, by=agent)
    response = api.post(f"/api/v1/conversations/{conversation.pk}/messages", {"content": "late"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "This conversation is closed."


def test_message_list_cursors(api, conversation):
    ids = [
        services.message_send(conversation=conversation, sender_type="contact", content=str(i)).message.pk
        for i in range(7)
    ]
    url = f"/api/v1/conversations/{conversation.pk}/messages"
    newest = api.get(url, {"limit": 3}).json()
    assert [m["id"] for m in newest["results"]] == ids[-3:]
    assert newest["next_before"] == ids[-3] and newest["next_after"] == ids[-1]
    older = api.get(url, {"limit": 3, "before": newest["next_before"]}).json()
    assert [m["id"] for m in older["results"]] == ids[1:4]
    oldest = api.get(url, {"limit": 3, "before": older["next_before"]}).json()
    assert [m["id"] for m in oldest["results"]] == ids[:1] and oldest["next_before"] is None
    after = api.get(url, {"after": ids[2], "limit": 3}).json()
    assert [m["id"] for m in after["results"]] == ids[3:6] and after["has_more"] is True
    rest = api.get(url, {"after": after["next_after"]}).json()
    assert [m["id"] for m in rest["results"]] == ids[6:] and rest["has_more"] is False
    nothing = api.get(url, {"after": ids[-1]}).json()
    assert nothing["results"] == [] and nothing["next_after"] == ids[-1]


@pytest.mark.parametrize("n", [2, 12])
def test_message_list_query_count_is_flat(n, api, agent, conversation, django_assert_max_num_queries):
    services.conversation_assign(conversation=conversation, assignee=agent)
    for i in range(n):
        services.message_send(conversation=conversation, sender_type="contact", content=f"c{i}")
        services.message_send(conversation=conversation, sender_type="agent", membership=agent, content=f"a{i}")
    with django_assert_max_num_queries(8):
        response = api.get(f"/api/v1/conversations/{conversation.pk}/messages", {"limit": 100})
    assert len(response.json()["results"]) >= 2 * n


def test_read_close_and_unread_count(api, agent, conversation):
    services.conversation_assign(conversation=conversation, assignee=agent)
    first = services.message_send(conversation=conversation, sender_type="contact", content="1").message
    services.message_send(conversation=conversation, sender_type="contact", content="2")
    assert api.get("/api/v1/unread-count").json() == {"conversations": 1, "queue": 0}

    read = api.post(f"/api/v1/conversations/{conversation.pk}/read", {"message_id": first.pk}, format="json")
    assert read.status_code == 200 and read.json() == {"updated": 1}
    assert api.get(f"/api/v1/conversations/{conversation.pk}").json()["unread"] == 1
    assert api.post(f"/api/v1/conversations/{conversation.pk}/read", {"message_id": "x"}, format="json").status_code == 400

    closed = api.post(f"/api/v1/conversations/{conversation.pk}/close", {"outcome": "resolved"}, format="json")
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert api.get("/api/v1/unread-count").json()["conversations"] == 0
    bad = api.post(f"/api/v1/conversations/{conversation.pk}/close", {"outcome": "nope"}, format="json")
    assert bad.status_code == 400


def test_plain_agent_cannot_close_another_agents_conversation(api_client_for, agent, agent2, supervisor, conversation):
    services.conversation_assign(conversation=conversation, assignee=agent2)
    # Invisible to a plain agent: 404, not 403.
    assert api_client_for(agent).post(f"/api/v1/conversations/{conversation.pk}/close").status_code == 404
    assert api_client_for(supervisor).post(f"/api/v1/conversations/{conversation.pk}/close").status_code == 200


def test_session_authenticated_api_uses_session_account(client_for, agent, conversation):
    client = client_for(agent)
    response = client.get(f"/api/v1/conversations/{conversation.pk}")
    assert response.status_code == 200


def test_openapi_schema_and_docs(client, agent):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/v1/conversations/{conversation_id}/messages", "/api/widget/v1/session", "/api/v1/auth/token/"):
        assert path in text
    assert client.get("/api/v1/docs/").status_code == 200


def test_role_below_agent_is_not_a_thing_but_inactive_member_is_404(api_client_for, agent, conversation):
    client = api_client_for(agent)
    Membership.objects.filter(pk=agent.pk).update(is_active=False)
    assert client.get(f"/api/v1/conversations/{conversation.pk}").status_code == 404
