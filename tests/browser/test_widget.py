"""The website widget in Chromium: a customer's page on another origin embeds
the snippet, a visitor chats with an agent live (WebSocket) or through HTTP
polling, identity verification, the /demo/ context card, a strict host CSP,
keyboard use, uploads, two tabs, shutdown.

Agents act through the services from this process: they write to the test
database and publish through Redis to the live server's sockets (the browser
conftest shares the server's channel prefix).

Screenshots (var/screenshots/widget-*.png): desktop closed and open, messages
of every kind, phone 375x812, offline mode, Spanish, the demo storefront,
identity error, strict CSP.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from PIL import Image
from playwright.sync_api import expect

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Membership
from conversations import services
from conversations.models import Contact, Conversation, Message
from tests import factories
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import off_loop

PHONE = {"width": 375, "height": 812}
# In the chat iframe only: remember every socket, and make new ones fail while __blockWs is set.
SOCKET_SPY = """
if (location.pathname.indexOf("/widget/frame/") === 0) {
  const Real = window.WebSocket;
  window.__ws = [];
  window.__blockWs = false;
  window.WebSocket = function (url, protocols) {
    const ws = new Real(window.__blockWs ? url.replace("/ws/widget/", "/ws/blocked/") : url, protocols);
    window.__ws.push(ws);
    return ws;
  };
}
"""
NEVER_OPEN = {"sun": [["00:00", "00:01"]]}  # business hours that are (almost) never open
LIVE_TIMEOUT = 10_000


# --- helpers ----------------------------------------------------------------------


def eventually(fn, *, timeout: float = 10.0, message: str = "condition"):
    """Poll ``fn`` (database checks) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)


def screenshot(page, name: str) -> None:
    """The viewport, as a visitor sees it (the widget is position: fixed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(350)  # let the open/close transition finish
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def host_html(
    live: str,
    app_id: str,
    *,
    boot: dict | None = None,
    csp: str | None = None,
    title: str = "Acme Shop · Running shoes",
) -> str:
    """A customer's page: the one-line snippet, or the queue stub + boot."""
    head = f'<meta http-equiv="Content-Security-Policy" content="{csp}">' if csp else ""
    if boot is None:
        snippet = f'<script src="{live}/widget.js" data-app-id="{app_id}" async></script>'
    else:
        snippet = (
            "<script>window.Charla=window.Charla||function(){(Charla.q=Charla.q||[]).push(arguments)};"
            f"Charla('boot', {json.dumps({'app_id': app_id, **boot})});</script>"
            f'<script src="{live}/widget.js" async></script>'
        )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">{head}<title>{title}</title></head>
<body><h1>Acme Shop</h1><p>Trail runners, size 42, in stock.</p>
<p><a href="#reviews" id="to-reviews">Reviews</a></p>
{snippet}</body></html>"""


def widget(page):
    return page.frame_locator("charla-widget iframe")


def bubble(page):
    return page.locator("charla-widget .b")


def open_widget(page):
    expect(bubble(page)).to_be_visible()
    bubble(page).click()
    w = widget(page)
    expect(w.locator("textarea")).to_be_visible()
    return w


def send(w, text: str) -> None:
    box = w.locator("textarea")
    box.fill(text)
    box.press("Enter")
    expect(w.locator(".row.me", has_text=text)).to_be_visible()


def contact_message(site, text: str) -> Message:
    return eventually(
        lambda: (
            Message.objects.filter(account_id=site.account_id, sender_type="contact", content=text)
            .select_related("conversation__contact")
            .first()
        ),
        message=f"the visitor's message {text!r} in the database",
    )


def chat_frame(page):
    return next(f for f in page.frames if "/widget/frame/" in f.url)


def user_hash(site, user_id: str) -> str:
    return hmac.new(site.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def shop(live_server_url):
    account = factories.AccountFactory(name="Acme", slug="acme-widget")
    site = factories.SiteFactory(
        account=account,
        name="Acme Shop",
        team_name="Acme support",
        greeting="Hi! 👋 Ask us anything about sizes, delivery or returns.",
        offline_message="We're away right now. Leave your email and we'll reply there.",
        reply_time_text="Typically replies in a few minutes",
        allowed_domains=["127.0.0.1", "localhost"],
        color_primary="#0F766E",
    )
    user = factories.UserFactory(name="Ana García", email="ana@acme-widget.test")
    agent = factories.MembershipFactory(
        account=account, user=user, role=Membership.Role.SUPERVISOR, availability=Membership.Availability.ONLINE
    )
    return SimpleNamespace(account=account, site=site, agent=agent, live=live_server_url)


def agent_says(shop, conversation_id: int, content: str = "", **kwargs) -> Message:
    return off_loop(
        services.agent_message_send, membership=shop.agent, conversation_id=conversation_id, content=content, **kwargs
    ).message


# --- (a) live chat over WebSocket ----------------------------------------------------


def test_visitor_chats_live_with_ticks_and_history_survives_reload(page, shop, other_origin_url):
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    url = other_origin_url("shop/index.html", host_html(shop.live, shop.site.app_id))
    page.goto(url)

    expect(bubble(page)).to_be_visible()
    assert page.locator("charla-widget iframe").count() == 0, "the iframe is created lazily"
    screenshot(page, "widget-desktop-closed")

    w = open_widget(page)
    expect(w.get_by_role("heading", name="Acme support")).to_be_visible()
    expect(w.get_by_text("Ask us anything about sizes")).to_be_visible()
    send(w, "Do you have these in size 43?")
    mine = w.locator(".row.me", has_text="size 43")
    expect(mine).to_have_attribute("data-status", "sent")

    message = contact_message(shop.site, "Do you have these in size 43?")
    conversation = message.conversation
    assert conversation.site_id == shop.site.pk

    # The visitor's page was recorded (page.view over the socket).
    eventually(lambda: Contact.objects.get(pk=conversation.contact_id).current_page_url == url, message="page view")

    # The agent reads (✓✓ read) and answers; typing shows live.
    off_loop(
        services.typing_set,
        conversation=conversation,
        who_type="agent",
        who_id=shop.agent.pk,
        who_name="Ana García",
        state="start",
    )
    expect(w.locator(".typing")).to_be_visible()
    off_loop(services.message_mark_read, conversation=conversation, reader="agent", up_to_id=message.pk)
    expect(mine).to_have_attribute("data-status", "read", timeout=LIVE_TIMEOUT)
    agent_says(shop, conversation.pk, "Yes! Size 43 ships tomorrow.")
    expect(w.get_by_text("Size 43 ships tomorrow.")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(w.locator(".typing")).to_be_hidden()
    expect(w.locator(".row.them", has_text="Size 43 ships tomorrow.").locator(".who")).to_have_text("Ana García")

    # The open window reads the reply: the server knows it.
    eventually(
        lambda: Message.objects.get(conversation=conversation, content="Yes! Size 43 ships tomorrow.").status == "read",
        message="the agent's reply marked read",
    )
    screenshot(page, "widget-desktop-open")

    # Reload: same visitor, same history, nothing duplicated.
    page.reload()
    w = open_widget(page)
    expect(w.get_by_text("Do you have these in size 43?")).to_have_count(1)
    expect(w.get_by_text("Size 43 ships tomorrow.")).to_have_count(1)
    send(w, "Great, thanks")
    assert contact_message(shop.site, "Great, thanks").conversation_id == conversation.pk
    assert Contact.objects.filter(account=shop.account).count() == 1
    assert errors == []


def test_unread_badge_title_flash_and_message_event_while_closed(page, shop, other_origin_url):
    page.goto(other_origin_url("shop/unread.html", host_html(shop.live, shop.site.app_id)))
    page.evaluate(
        "window.got = []; Charla('on', 'unread', n => got.push(['unread', n])); Charla('on', 'message', m => got.push(['message', m.content]))"
    )
    w = open_widget(page)
    send(w, "Hello?")
    conversation = contact_message(shop.site, "Hello?").conversation
    page.keyboard.press("Escape")
    expect(page.locator("charla-widget .f")).to_be_hidden()

    agent_says(shop, conversation.pk, "Hi, how can I help?")
    badge = page.locator("charla-widget .n")
    expect(badge).to_have_text("1", timeout=LIVE_TIMEOUT)
    expect(page.locator("charla-widget .p")).to_contain_text("Hi, how can I help?")
    page.wait_for_function("document.title.startsWith('(1)')", timeout=5000)
    assert ["message", "Hi, how can I help?"] in page.evaluate("got")
    assert ["unread", 1] in page.evaluate("got")
    screenshot(page, "widget-desktop-unread")

    page.locator("charla-widget .p .m").click()  # the preview opens the chat
    expect(widget(page).get_by_text("Hi, how can I help?")).to_be_visible()
    expect(badge).to_be_hidden()
    page.wait_for_function("!document.title.startsWith('(')", timeout=5000)


def test_message_kinds_quick_replies_and_keyboard(page, shop, other_origin_url, tmp_path):
    page.goto(other_origin_url("shop/kinds.html", host_html(shop.live, shop.site.app_id)))
    w = open_widget(page)
    send(w, "Can you show me the shoe?")
    conversation = contact_message(shop.site, "Can you show me the shoe?").conversation

    buffer = io.BytesIO()
    Image.new("RGB", (800, 500), (15, 118, 110)).save(buffer, "PNG")
    photo = services.attachment_upload(
        account_id=shop.account.pk,
        membership=shop.agent,
        upload=SimpleUploadedFile("trail-runner.png", buffer.getvalue(), "image/png"),
    )
    pdf = services.attachment_upload(
        account_id=shop.account.pk,
        membership=shop.agent,
        upload=SimpleUploadedFile("size-guide.pdf", b"%PDF-1.4\n%%EOF\n" + b" " * 40_000, "application/pdf"),
    )
    agent_says(shop, conversation.pk, "Here it is", attachment_ids=[photo.pk])
    agent_says(shop, conversation.pk, "", attachment_ids=[pdf.pk])
    agent_says(
        shop,
        conversation.pk,
        kind="card",
        payload={
            "title": "Trail Runner X 2",
            "url": f"{shop.live}/demo/",
            "image_url": f"{shop.live}/demo/car.svg",
            "price": "€89.95",
            "ref": "TRX-43",
        },
    )
    agent_says(
        shop,
        conversation.pk,
        "Our shop",
        kind="location",
        payload={"lat": 40.4168, "lng": -3.7038, "name": "Acme Shop, Puerta del Sol"},
    )
    quick = agent_says(
        shop,
        conversation.pk,
        "Shall I reserve a pair?",
        kind="quick_replies",
        payload={"options": [{"label": "Yes, please", "value": "reserve"}, {"label": "No, thanks", "value": "no"}]},
    )

    expect(w.locator("a.img img")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(w.locator("a.doc", has_text="size-guide.pdf")).to_contain_text("KB")
    expect(w.locator(".card", has_text="Trail Runner X 2")).to_contain_text("€89.95")
    location = w.locator(".loc", has_text="Puerta del Sol")
    expect(location).to_contain_text("40.41680, -3.70380")
    assert "openstreetmap.org" in location.locator("a").get_attribute("href")
    expect(w.get_by_role("button", name="Yes, please")).to_be_visible()
    screenshot(page, "widget-message-kinds")

    # The image opens in a lightbox; Escape closes the lightbox, not the chat.
    w.locator("a.img").click()
    expect(w.locator(".lb img")).to_be_visible()
    page.keyboard.press("Escape")
    expect(w.locator(".lb")).to_be_hidden()
    expect(page.locator("charla-widget .f")).to_be_visible()

    # A quick reply sends the label, with the value and the question's id.
    w.get_by_role("button", name="Yes, please").click()
    reply = contact_message(shop.site, "Yes, please")
    assert reply.payload == {"reply_to": str(quick.pk), "value": "reserve"}
    expect(w.get_by_role("button", name="No, thanks")).to_have_count(0)

    # Keyboard: Shift+Enter is a new line, Enter sends; Tab stays in the window; Escape closes.
    box = w.locator("textarea")
    box.fill("line one")
    box.press("Shift+Enter")
    box.type("line two")
    box.press("Enter")
    contact_message(shop.site, "line one\nline two")
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement && document.activeElement.tagName") == "CHARLA-WIDGET"
    page.keyboard.press("Escape")
    expect(page.locator("charla-widget .f")).to_be_hidden()
    assert page.evaluate("document.activeElement.tagName") == "CHARLA-WIDGET"  # focus back on the bubble
    assert page.evaluate("document.querySelector('charla-widget').shadowRoot.activeElement.className") == "b"
    page.keyboard.press("Enter")

    expect(page.locator("charla-widget .f")).to_be_visible()


def test_uploads_with_progress_and_clear_errors(page, shop, other_origin_url):
    page.goto(other_origin_url("shop/upload.html", host_html(shop.live, shop.site.app_id)))
    w = open_widget(page)

    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 60, 60)).save(buffer, "PNG")
    w.locator("input[type=file]").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": buffer.getvalue()}]
    )
    expect(w.locator(".row.me a.img img")).to_be_visible(timeout=LIVE_TIMEOUT)
    message = eventually(
        lambda: Message.objects.filter(account_id=shop.account.pk, sender_type="contact", kind="image").first(),
        message="image message",
    )
    assert message.attachments.get().name == "receipt.png"

    w.locator("input[type=file]").set_input_files(
        files=[{"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ" * 100}]
    )
    expect(w.locator(".alert")).to_contain_text("setup.exe")
    expect(w.locator(".alert")).to_contain_text("PDF")

    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 + 10)
    w.locator("input[type=file]").set_input_files(
        files=[{"name": "huge.pdf", "mimeType": "application/pdf", "buffer": big}]
    )
    expect(w.locator(".alert")).to_contain_text("huge.pdf")
    expect(w.locator(".alert")).to_contain_text("10 MB")
    assert Message.objects.filter(account_id=shop.account.pk, sender_type="contact").count() == 1


# --- (b) identity verification ----------------------------------------------------


def test_identity_verified_links_known_contact_and_bad_hash_is_refused(page, new_page, shop, other_origin_url):
    shop.site.require_identity = True
    shop.site.save()
    known = factories.ContactFactory(
        account=shop.account, site=shop.site, user_id="cust-42", name="Lucía Pérez", email=""
    )

    boot = {
        "user_id": "cust-42",
        "user_hash": user_hash(shop.site, "cust-42"),
        "email": "lucia@example.test",
        "name": "Lucía Pérez",
    }
    page.goto(other_origin_url("shop/account.html", host_html(shop.live, shop.site.app_id, boot=boot)))
    w = open_widget(page)
    send(w, "Where is my order?")
    message = contact_message(shop.site, "Where is my order?")
    assert message.conversation.contact_id == known.pk
    known.refresh_from_db()
    assert known.email == "lucia@example.test"
    assert Contact.objects.filter(account=shop.account).count() == 1

    # A forged hash: the window says so and offers no composer.
    intruder = new_page()
    bad = {"user_id": "cust-42", "user_hash": "0" * 64}
    intruder.goto(other_origin_url("shop/forged.html", host_html(shop.live, shop.site.app_id, boot=bad)))
    expect(bubble(intruder)).to_be_visible()
    bubble(intruder).click()
    alert = widget(intruder).get_by_role("alert")
    expect(alert).to_contain_text("couldn't verify your identity")
    expect(alert).to_contain_text("user_hash")
    expect(widget(intruder).locator("textarea")).to_be_hidden()
    screenshot(intruder, "widget-identity-error")
    assert Contact.objects.filter(account=shop.account).count() == 1


def test_identify_later_and_shutdown_forgets_the_visitor(page, shop, other_origin_url):
    page.goto(other_origin_url("shop/login.html", host_html(shop.live, shop.site.app_id)))
    w = open_widget(page)
    send(w, "Hi, anonymous here")
    contact = contact_message(shop.site, "Hi, anonymous here").conversation.contact

    page.evaluate(
        f"Charla('identify', {json.dumps({'user_id': 'u-7', 'user_hash': user_hash(shop.site, 'u-7'), 'name': 'Pablo', 'email': 'pablo@example.test'})})"
    )
    eventually(lambda: Contact.objects.get(pk=contact.pk).user_id == "u-7", message="identify")
    page.evaluate("Charla('track', 'viewed_pricing', {plan: 'pro'})")
    eventually(
        lambda: Contact.objects.get(pk=contact.pk).attributes.get("last_event") == "viewed_pricing", message="track"
    )

    key = f"charla:{shop.site.app_id}:token"
    assert page.evaluate(f"localStorage.getItem('{key}')")
    page.evaluate("Charla('shutdown')")
    expect(page.locator("charla-widget")).to_have_count(0, timeout=5000)
    assert page.evaluate(f"localStorage.getItem('{key}')") is None


def test_reconnects_and_resumes_without_losing_or_duplicating(page, shop, other_origin_url):
    page.add_init_script(SOCKET_SPY)
    page.goto(other_origin_url("shop/resume.html", host_html(shop.live, shop.site.app_id)))
    w = open_widget(page)
    send(w, "Before the drop")
    conversation = contact_message(shop.site, "Before the drop").conversation
    frame = chat_frame(page)
    frame.wait_for_function("window.__ws.length === 1 && window.__ws[0].readyState === 1")

    # The connection drops; while it is down the agent answers and the visitor writes.
    frame.evaluate("window.__blockWs = true; window.__ws.forEach((ws) => ws.close())")
    expect(w.locator(".conn")).to_have_text("Reconnecting…")
    agent_says(shop, conversation.pk, "Sent while you were away")
    box = w.locator("textarea")
    box.fill("Written while offline")
    box.press("Enter")
    frame.evaluate("window.__blockWs = false")

    expect(w.get_by_text("Sent while you were away")).to_have_count(1, timeout=20_000)
    expect(w.locator(".row.me", has_text="Written while offline")).to_have_attribute(
        "data-status", "sent", timeout=20_000
    )
    expect(w.locator(".conn")).to_be_hidden()
    assert Message.objects.filter(conversation=conversation, content="Written while offline").count() == 1
    assert frame.evaluate("window.__ws.length") >= 2
    # and live again afterwards
    agent_says(shop, conversation.pk, "Back online")
    expect(w.get_by_text("Back online")).to_have_count(1, timeout=LIVE_TIMEOUT)
    expect(w.locator(".row")).to_have_count(5)  # 2 visitor + 2 agent + "joined" line: nothing doubled


def test_page_views_on_boot_and_history_navigation(page, shop, other_origin_url):
    url = other_origin_url("shop/trail.html", host_html(shop.live, shop.site.app_id))
    page.goto(url)
    w = open_widget(page)
    send(w, "Just browsing")
    contact = contact_message(shop.site, "Just browsing").conversation.contact
    eventually(lambda: contact.page_views.filter(url=url).exists(), message="page view on boot")

    page.evaluate("history.pushState({}, '', '/shop/pricing.html'); document.title = 'Pricing · Acme';")
    pricing = url.replace("trail.html", "pricing.html")
    eventually(lambda: Contact.objects.get(pk=contact.pk).current_page_url == pricing, message="pushState page view")
    assert contact.page_views.get(url=pricing).title == "Pricing · Acme"
    page.locator("#to-reviews").click()
    eventually(lambda: contact.page_views.filter(url=f"{pricing}#reviews").exists(), message="hashchange page view")
    page.go_back()
    eventually(lambda: contact.page_views.filter(url=pricing).count() == 2, message="popstate page view")


# --- (c) HTTP polling when WebSockets are blocked ------------------------------------


def test_polling_fallback_when_websockets_are_blocked(page, shop, other_origin_url):
    page.add_init_script("window.WebSocket = function () { throw new Error('blocked'); };")
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(
        other_origin_url("shop/polling.html", host_html(shop.live, shop.site.app_id, boot={"transport": "polling"}))
    )
    w = open_widget(page)
    send(w, "Is anyone there? (polling)")
    mine = w.locator(".row.me", has_text="(polling)")
    expect(mine).to_have_attribute("data-status", "sent")
    message = contact_message(shop.site, "Is anyone there? (polling)")

    off_loop(services.message_mark_read, conversation=message.conversation, reader="agent", up_to_id=message.pk)
    agent_says(shop, message.conversation_id, "Yes, we answer over polling too.")
    expect(w.get_by_text("Yes, we answer over polling too.")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(mine).to_have_attribute("data-status", "read", timeout=LIVE_TIMEOUT)
    send(w, "Perfect")
    assert contact_message(shop.site, "Perfect").conversation_id == message.conversation_id
    assert sockets == []


def test_falls_back_to_polling_by_itself_when_sockets_fail(page, shop, other_origin_url):
    # Sockets that never open (a proxy that drops them): after a few failures, polling.
    page.add_init_script("""
      window.WebSocket = function () {
        const ws = { readyState: 0, send() {}, close() {} };
        setTimeout(() => { ws.readyState = 3; ws.onclose && ws.onclose({ code: 1006 }); }, 20);
        return ws;
      };""")
    page.goto(other_origin_url("shop/flaky.html", host_html(shop.live, shop.site.app_id)))
    w = open_widget(page)
    send(w, "Hello from a flaky network")
    message = contact_message(shop.site, "Hello from a flaky network")
    agent_says(shop, message.conversation_id, "Got it!")
    expect(w.get_by_text("Got it!")).to_be_visible(timeout=20_000)


# --- (d) the demo storefront's context card ------------------------------------------


def test_demo_chat_with_seller_sets_the_context_card(page, live_server_url):
    account = factories.AccountFactory(name="Demo", slug="demo-widget")
    factories.SiteFactory(
        account=account,
        app_id="demo",
        name="Demo Motors",
        team_name="Demo Motors sales team",
        allowed_domains=["127.0.0.1", "localhost"],
        color_primary="#E11D48",
    )
    page.goto(f"{live_server_url}/demo/")
    expect(bubble(page)).to_be_visible()
    page.locator("#chat-with-seller").click()

    w = widget(page)
    box = w.locator("textarea")
    expect(box).to_be_focused()
    expect(box).to_have_value("Hi! Is the 2019 Toyota Corolla Hybrid (ref. DM-4127) still available?")
    card = w.locator(".ctx .card")
    expect(card).to_contain_text("2019 Toyota Corolla Hybrid")
    expect(card).to_contain_text("€18,900")
    box.press("Enter")
    message = eventually(
        lambda: Message.objects.filter(account=account, sender_type="contact").first(), message="demo message"
    )
    conversation = eventually(
        lambda: Conversation.objects.filter(
            pk=message.conversation_id, context__title="2019 Toyota Corolla Hybrid"
        ).first(),
        message="the context stored on the conversation",
    )
    assert conversation.context["price"] == "€18,900"
    assert conversation.context["ref"] == "DM-4127"
    expect(card).to_be_visible()
    screenshot(page, "widget-demo-context")


# --- (e) a host page with a strict CSP ---------------------------------------------


def test_strict_host_csp_still_works(page, shop, other_origin_url):
    live = shop.live
    csp = (
        f"default-src 'none'; script-src {live}; frame-src {live}; connect-src {live}; style-src 'none'; img-src 'none'"
    )
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(other_origin_url("shop/strict.html", host_html(shop.live, shop.site.app_id, csp=csp)))

    launcher = bubble(page)
    expect(launcher).to_be_visible()
    styles = page.evaluate(
        "(() => { const s = getComputedStyle(document.querySelector('charla-widget').shadowRoot.querySelector('.b'));"
        " return [s.position, s.width, s.height, s.borderRadius]; })()"
    )
    assert styles == ["fixed", "60px", "60px", "50%"], styles  # the shadow stylesheet applied despite style-src 'none'
    w = open_widget(page)
    send(w, "Strict CSP here")
    message = contact_message(shop.site, "Strict CSP here")
    agent_says(shop, message.conversation_id, "Works under your CSP.")
    expect(w.get_by_text("Works under your CSP.")).to_be_visible(timeout=LIVE_TIMEOUT)
    screenshot(page, "widget-strict-csp")
    assert violations == []


# --- two tabs, phone, offline, Spanish ---------------------------------------------------


def test_two_tabs_stay_in_sync(page, shop, other_origin_url):
    url = other_origin_url("shop/tabs.html", host_html(shop.live, shop.site.app_id))
    page.goto(url)
    w1 = open_widget(page)
    send(w1, "First tab")
    conversation = contact_message(shop.site, "First tab").conversation

    second = page.context.new_page()
    second.goto(url)
    w2 = open_widget(second)
    expect(w2.get_by_text("First tab")).to_be_visible()
    send(w2, "Second tab")
    expect(w1.get_by_text("Second tab")).to_be_visible(timeout=LIVE_TIMEOUT)
    agent_says(shop, conversation.pk, "Both tabs see this")
    expect(w1.get_by_text("Both tabs see this")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(w2.get_by_text("Both tabs see this")).to_be_visible(timeout=LIVE_TIMEOUT)
    assert Contact.objects.filter(account=shop.account).count() == 1


def test_phone_full_screen_in_spanish(new_page, shop, other_origin_url):
    page = new_page(viewport=PHONE, locale="es-ES", is_mobile=True, has_touch=True)
    page.goto(other_origin_url("shop/phone.html", host_html(shop.live, shop.site.app_id)))
    screenshot(page, "widget-phone-closed")
    w = open_widget(page)
    frame_box = page.locator("charla-widget .f").bounding_box()
    assert frame_box["width"] == PHONE["width"] and frame_box["height"] == PHONE["height"], frame_box
    expect(bubble(page)).to_be_hidden()  # the window's own close button replaces it
    expect(w.locator("textarea")).to_have_attribute("placeholder", "Escribe un mensaje…")
    send(w, "Hola, ¿tenéis la talla 43?")
    conversation = contact_message(shop.site, "Hola, ¿tenéis la talla 43?").conversation
    agent_says(shop, conversation.pk, "¡Sí! Te la enviamos mañana.")
    expect(w.get_by_text("Te la enviamos mañana")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(w.locator(".day").first).to_have_text("Hoy")
    screenshot(page, "widget-phone-open-es")
    w.get_by_role("button", name="Cerrar chat").click()
    expect(bubble(page)).to_be_visible()


def test_offline_mode_asks_for_email_and_still_takes_the_message(page, shop, other_origin_url):
    shop.site.business_hours = NEVER_OPEN
    shop.site.holidays = []
    shop.site.save()
    page.goto(other_origin_url("shop/offline.html", host_html(shop.live, shop.site.app_id)))
    w = open_widget(page)
    expect(w.locator(".hd-st")).to_contain_text("Away")
    expect(w.get_by_role("img", name="Away")).to_be_visible()
    expect(w.get_by_text("We're away right now. Leave your email")).to_be_visible()
    send(w, "Do you deliver to Portugal?")
    contact = contact_message(shop.site, "Do you deliver to Portugal?").conversation.contact
    w.get_by_label("Your email").fill("not-an-email")
    w.get_by_role("button", name="Notify me").click()
    expect(w.get_by_text("Please enter a valid email address.")).to_be_visible()
    w.get_by_label("Your email").fill("marta@example.test")
    w.get_by_role("button", name="Notify me").click()
    expect(w.get_by_text("We'll email you at marta@example.test.")).to_be_visible()
    assert eventually(lambda: Contact.objects.get(pk=contact.pk).email == "marta@example.test", message="email saved")
    screenshot(page, "widget-offline")


def test_spanish_from_boot_locale_and_queue_position(page, shop, other_origin_url):
    # Nobody can take the chat now, and two visitors are already waiting.
    Membership.objects.filter(pk=shop.agent.pk).update(availability=Membership.Availability.OFFLINE)
    for minutes in (9, 5):
        waiting = factories.ContactFactory(account=shop.account, site=shop.site)
        factories.ConversationFactory(
            account=shop.account,
            contact=waiting,
            status=Conversation.Status.QUEUED,
            queued_at=timezone.now() - timedelta(minutes=minutes),
        )
    page.goto(other_origin_url("shop/es.html", host_html(shop.live, shop.site.app_id, boot={"locale": "es"})))
    expect(bubble(page)).to_have_attribute("aria-label", "Abrir chat")
    w = open_widget(page)
    expect(w.get_by_role("img", name="En línea")).to_be_visible()  # the status dot
    send(w, "¿Hacéis envíos a Canarias?")
    conversation = contact_message(shop.site, "¿Hacéis envíos a Canarias?").conversation
    # The routing engine tells waiting visitors their place in line (queue_position).
    expect(w.locator(".notice")).to_have_text("Eres el n.º 3 en la cola", timeout=LIVE_TIMEOUT)
    screenshot(page, "widget-spanish")
    agent_says(shop, conversation.pk, "¡Hola! Sí, enviamos a Canarias.")
    expect(w.get_by_text("enviamos a Canarias")).to_be_visible(timeout=LIVE_TIMEOUT)
    expect(w.locator(".notice")).to_be_hidden()  # taken by an agent: no longer in line
