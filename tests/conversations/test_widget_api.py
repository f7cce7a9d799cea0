"""The widget's HTTP API under /api/widget/v1/ (boot, identity, polling
fallback, uploads, context, shutdown)."""

from __future__ import annotations

import hashlib
import hmac
import io

import pytest
from PIL import Image
from rest_framework.test import APIClient

from conversations import services
from conversations.models import Attachment, Contact, Conversation, Message

pytestmark = pytest.mark.django_db

BASE = "/api/widget/v1"


@pytest.fixture
def steady_clock(monkeypatch):
    """Rate limits count in fixed windows: keep a test inside one."""
    from types import SimpleNamespace

    monkeypatch.setattr("core.ratelimit.time", SimpleNamespace(time=lambda: 1_800_000_000.0))


def _hash(site, user_id: str) -> str:
    return hmac.new(site.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _session(client, site, **body):
    return client.post(f"{BASE}/session", {"app_id": site.app_id, **body}, format="json")


@pytest.fixture
def visitor(site):
    """A booted visitor: ``(client with its token, contact)``."""
    client = APIClient()
    body = _session(client, site).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['visitor_token']}")
    return client, Contact.objects.get(pk=body["contact"]["id"])


# --- session ----------------------------------------------------------------------------


def test_session_new_visitor_gets_token_and_site_look(site):
    site.team_name, site.greeting = "Acme team", "Hi! Ask us anything."
    site.save()
    response = _session(APIClient(), site, page_url="https://shop.example.test/p/1", name="Lu")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"visitor_token", "contact", "conversations", "site"}
    assert body["conversations"] == []
    assert body["contact"]["name"] == "Lu"
    assert body["site"]["team_name"] == "Acme team" and body["site"]["greeting"] == "Hi! Ask us anything."
    assert body["site"]["online"] is True
    assert set(body["site"]["colors"]) == {"primary", "text"}
    assert services.visitor_token_read(body["visitor_token"]).pk == body["contact"]["id"]


def test_session_returning_token_keeps_visitor_and_conversations(site, visitor):
    client, contact = visitor
    services.contact_message_send(contact=contact, client_id="c", content="hello")
    token = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    again = _session(APIClient(), site, visitor_token=token).json()
    assert again["contact"]["id"] == contact.pk
    assert len(again["conversations"]) == 1
    assert Contact.objects.filter(site=site).count() == 1


def test_session_identity_ok_and_bad_hash(site):
    site.require_identity = True
    site.save()
    ok = _session(APIClient(), site, user_id="u-1", user_hash=_hash(site, "u-1"), email="u1@example.test")
    assert ok.status_code == 200 and ok.json()["contact"]["user_id"] == "u-1"
    bad = _session(APIClient(), site, user_id="u-1", user_hash="0" * 64)
    assert bad.status_code == 403 and bad.json()["error"] == "bad_user_hash"
    missing = _session(APIClient(), site, user_id="u-1")
    assert missing.status_code == 403


def test_session_unknown_app_is_404(site):
    response = APIClient().post(f"{BASE}/session", {"app_id": "nope"}, format="json")
    assert response.status_code == 404


def test_session_origin_rules_and_cors(site):
    bad = APIClient().post(
        f"{BASE}/session", {"app_id": site.app_id}, format="json", HTTP_ORIGIN="https://evil.example"
    )
    assert bad.status_code == 403
    assert "Access-Control-Allow-Origin" not in bad
    good = APIClient().post(
        f"{BASE}/session", {"app_id": site.app_id}, format="json", HTTP_ORIGIN="https://shop.example.test"
    )
    assert good.status_code == 200
    assert good["Access-Control-Allow-Origin"] == "https://shop.example.test"
    # The chat iframe is served by Charla itself: its origin is always fine.
    own = APIClient().post(f"{BASE}/session", {"app_id": site.app_id}, format="json", HTTP_ORIGIN="http://testserver")
    assert own.status_code == 200
    preflight = APIClient().options(
        f"{BASE}/session", HTTP_ORIGIN="https://shop.example.test", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://shop.example.test"
    assert "content-type" in preflight["Access-Control-Allow-Headers"]


def test_session_is_rate_limited_per_address(settings, steady_clock, site):
    settings.CHARLA = {**settings.CHARLA, "WIDGET_SESSIONS_PER_MINUTE": 2}
    codes = [_session(APIClient(), site).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_requests_without_or_with_forged_token_are_403(site):
    assert APIClient().get(f"{BASE}/messages", {"conversation_id": 1}).status_code == 403
    forged = APIClient()
    forged.credentials(HTTP_X_VISITOR_TOKEN="forged")
    assert forged.post(f"{BASE}/messages", {"client_id": "x", "content": "hi"}, format="json").status_code == 403
    assert Message.objects.count() == 0


def test_identify_attaches_profile_and_checks_hash(site, visitor):
    client, contact = visitor
    response = client.post(f"{BASE}/identify", {"email": "lu@example.test", "name": "Lu"}, format="json")
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.email == "lu@example.test" and contact.name == "Lu"
    site.require_identity = True
    site.save()
    bad = client.post(f"{BASE}/identify", {"user_id": "u-9", "user_hash": "f" * 64}, format="json")
    assert bad.status_code == 403
    good = client.post(f"{BASE}/identify", {"user_id": "u-9", "user_hash": _hash(site, "u-9")}, format="json")
    assert good.status_code == 200 and good.json()["contact"]["user_id"] == "u-9"


# --- polling fallback ---------------------------------------------------------------------


def test_polling_send_and_receive_with_ticks(visitor, agent):
    client, contact = visitor
    sent = client.post(f"{BASE}/messages", {"client_id": "p-1", "content": "Anyone there?"}, format="json")
    assert sent.status_code == 201
    again = client.post(f"{BASE}/messages", {"client_id": "p-1", "content": "Anyone there?"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
    conversation_id = sent.json()["conversation_id"]
    first_id = sent.json()["id"]

    reply = services.agent_message_send(membership=agent, conversation_id=conversation_id, content="Yes! Hi.").message
    services.agent_message_send(membership=agent, conversation_id=conversation_id, content="secret", private=True)
    services.message_mark_read(
        conversation=Conversation.objects.get(pk=conversation_id), reader="agent", up_to_id=first_id
    )

    polled = client.get(f"{BASE}/messages", {"conversation_id": conversation_id, "after": first_id})
    assert polled.status_code == 200
    body = polled.json()
    contents = [m["content"] for m in body["results"]]
    assert "Yes! Hi." in contents and "secret" not in contents
    assert all(m["kind"] != "note" for m in body["results"])
    delivered = next(m for m in body["results"] if m["id"] == reply.pk)
    assert delivered["status"] == "delivered"
    reply.refresh_from_db()
    assert reply.status == "delivered"
    assert body["read_up_to"] == first_id  # the visitor's message got its read tick
    assert body["next_after"] == body["results"][-1]["id"]
    assert client.get(f"{BASE}/messages", {"conversation_id": conversation_id, "after": body["next_after"]}).json()[
        "results"
    ] == []

    read = client.post(f"{BASE}/read", {"conversation_id": conversation_id, "message_id": reply.pk}, format="json")
    assert read.status_code == 200
    reply.refresh_from_db()
    assert reply.status == "read"


def test_polling_other_visitors_conversation_is_404(visitor, conversation, other_conversation):
    client, _contact = visitor
    for conv in (conversation, other_conversation):
        assert client.get(f"{BASE}/messages", {"conversation_id": conv.pk}).status_code == 404
        sent = client.post(f"{BASE}/messages", {"conversation_id": conv.pk, "client_id": "z", "content": "x"}, format="json")
        assert sent.status_code == 404
    assert Message.objects.count() == 0


def test_polling_send_is_rate_limited_per_contact(settings, steady_clock, visitor):
    settings.CHARLA = {**settings.CHARLA, "RATE_LIMIT_PER_CONTACT": 2}
    client, _contact = visitor
    codes = [
        client.post(f"{BASE}/messages", {"client_id": f"r{i}", "content": "hi"}, format="json").status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]


def test_typing_and_page_view(visitor):
    client, contact = visitor
    conversation_id = client.post(f"{BASE}/messages", {"client_id": "t", "content": "hi"}, format="json").json()[
        "conversation_id"
    ]
    typing = client.post(f"{BASE}/typing", {"conversation_id": conversation_id, "state": "start"}, format="json")
    assert typing.status_code == 204
    assert client.post(f"{BASE}/typing", {"conversation_id": conversation_id, "state": "x"}, format="json").status_code == 400
    view = client.post(f"{BASE}/page-view", {"url": "https://shop.example.test/cart", "title": "Cart"}, format="json")
    assert view.status_code == 204
    contact.refresh_from_db()
    assert contact.current_page_url == "https://shop.example.test/cart"
    assert client.post(f"{BASE}/page-view", {"url": "javascript:x"}, format="json").status_code == 400


# --- uploads ------------------------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _upload(client, name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"{BASE}/uploads", {"file": SimpleUploadedFile(name, data, content_type)}, format="multipart")


def test_upload_png_gets_thumbnail_and_can_be_sent(visitor):
    client, contact = visitor
    response = _upload(client, "photo.png", _png(), "image/png")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["content_type"] == "image/png" and body["thumbnail_url"]
    sent = client.post(f"{BASE}/messages", {"client_id": "img", "attachments": [body["id"]]}, format="json")
    assert sent.status_code == 201
    assert sent.json()["kind"] == "image" and sent.json()["attachments"][0]["id"] == body["id"]


def test_upload_refusals(settings, visitor):
    client, _contact = visitor
    limit = settings.CHARLA["ATTACHMENT_MAX_BYTES"]
    too_big = _upload(client, "big.txt", b"a" * (limit + 1), "text/plain")
    assert too_big.status_code == 400 and too_big.json()["error"] == "too_large"
    exe = _upload(client, "setup.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/x-msdownload")
    assert exe.status_code == 400 and exe.json()["error"] == "bad_type"
    disguised = _upload(client, "cat.png", b"MZ\x90\x00" + b"\x00" * 100, "image/png")
    assert disguised.status_code == 400
    empty = _upload(client, "empty.txt", b"", "text/plain")
    assert empty.status_code == 400
    assert Attachment.objects.count() == 0


# --- context and shutdown -------------------------------------------------------------------


def test_context_waits_for_next_conversation_then_updates_open_one(visitor):
    client, contact = visitor
    card = {"title": "Blue sofa", "url": "https://shop.example.test/sofa", "price": "€499"}
    pending = client.post(f"{BASE}/context", card, format="json")
    assert pending.status_code == 200 and pending.json() == {"conversation": None, "pending": True}
    conversation_id = client.post(f"{BASE}/messages", {"client_id": "c1", "content": "Is it in stock?"}, format="json").json()[
        "conversation_id"
    ]
    assert Conversation.objects.get(pk=conversation_id).context["title"] == "Blue sofa"

    updated = client.post(f"{BASE}/context", {"title": "Red chair"}, format="json")
    assert updated.json()["pending"] is False
    assert updated.json()["conversation"]["context"]["title"] == "Red chair"
    assert client.post(f"{BASE}/context", {"title": "x", "url": "javascript:alert(1)"}, format="json").status_code == 400


def test_shutdown_revokes_the_token(visitor):
    client, contact = visitor
    assert client.post(f"{BASE}/shutdown").status_code == 204
    assert client.get(f"{BASE}/messages", {"conversation_id": 1}).status_code == 403
    assert client.post(f"{BASE}/messages", {"client_id": "x", "content": "hi"}, format="json").status_code == 403
    contact.refresh_from_db()
    assert contact.token_version == 2
