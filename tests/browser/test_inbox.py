"""The agent inbox in a real browser against the live ASGI server.

Visitors are simulated with the services, called in this process (they
commit to the shared test database and publish through Redis to the live
server's sockets). Agents log in with a session cookie made here.
Screenshots land in var/screenshots/inbox-*.png.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from channels.layers import get_channel_layer

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from accounts.models import Membership
from conversations import services
from conversations.models import Conversation, Message, PageView
from core import tenancy
from tests import factories
from tests.browser.conftest import screenshot
from tests.browser.helpers import off_loop

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


# --- helpers ----------------------------------------------------------------------------


def eventually(fn, *, timeout: float = 10.0, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = off_loop(fn)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)


class GroupListener:
    """Collects the frames published to one channel-layer group (e.g. a
    visitor's ``contact.<id>``) in a background thread with its own loop."""

    def __init__(self, group: str):
        self.group = group
        self.frames: list[dict] = []
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(self.group, channel)
        self.ready.set()
        try:
            while not self._stop.is_set():
                try:
                    message = await asyncio.wait_for(layer.receive(channel), timeout=0.3)
                except TimeoutError:
                    continue
                # Events published one after another to the group travel bundled (core.channel_layer).
                for event in message.get("messages") or [message]:
                    self.frames.append(event.get("frame") or {})
        finally:
            await layer.group_discard(self.group, channel)

    def __enter__(self):
        self._thread.start()
        assert self.ready.wait(10), "the listener did not subscribe"
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def wait_for(self, predicate, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in list(self.frames):
                if predicate(frame):
                    return frame
            time.sleep(0.05)
        raise AssertionError(f"no matching frame on {self.group}: {[f.get('type') for f in self.frames]}")


def login(new_page, live_server_url: str, membership: Membership, *, viewport=DESKTOP, path: str = "/app/"):
    """A page in its own browser context, logged in as ``membership`` (session cookie)."""
    user = membership.user
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[tenancy.SESSION_KEY] = membership.account_id
    session.save()
    page = new_page(viewport=viewport)
    page.context.add_cookies([{"name": "sessionid", "value": session.session_key, "url": live_server_url}])
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    page.goto(f"{live_server_url}{path}")
    wait_socket(page)
    return page


def wait_socket(page):
    page.wait_for_function("document.documentElement.dataset.socket === 'open'")


def row(page, conversation_id: int):
    return page.locator(f"#conv-row-{conversation_id}")


@pytest.fixture
def team(account):
    """Agents not auto-assigned by routing (away), so each test decides who gets what."""
    agent = factories.MembershipFactory(
        account=account, role=Membership.Role.AGENT, availability=Membership.Availability.AWAY,
        user=factories.UserFactory(email="ana@acme.test", name="Ana García"),
    )
    agent2 = factories.MembershipFactory(
        account=account, role=Membership.Role.AGENT, availability=Membership.Availability.AWAY,
        user=factories.UserFactory(email="bruno@acme.test", name="Bruno Díaz"), capacity=3,
    )
    supervisor = factories.MembershipFactory(
        account=account, role=Membership.Role.SUPERVISOR, availability=Membership.Availability.AWAY,
        user=factories.UserFactory(email="sofia@acme.test", name="Sofía Martín"),
    )
    return agent, agent2, supervisor


def visitor(account, site, name="María López", **extra):
    return factories.ContactFactory(
        account=account, site=site, name=name, email=f"{name.split()[0].lower()}@example.test", **extra
    )


# --- (a) queue → mine → reply ---------------------------------------------------------------


def test_first_message_appears_in_queue_moves_to_mine_and_the_reply_is_stored(new_page, live_server_url, account, site, team):
    agent, _, supervisor = team
    queue_page = login(new_page, live_server_url, agent, path="/app/queue/")
    mine_page = login(new_page, live_server_url, agent, path="/app/mine/")  # the same agent on a second device
    assert queue_page.locator("#conv-empty").is_visible()

    contact = visitor(account, site, phone="+34 600 111 222")
    sent = off_loop(services.contact_message_send, contact=contact, content="Hola, ¿sigue disponible el Corolla?",
                    context={"title": "2019 Toyota Corolla Hybrid", "url": "https://shop.example.test/corolla", "price": "€18,900"})
    conversation_id = sent.message.conversation_id

    row(queue_page, conversation_id).wait_for()
    assert "Corolla" in row(queue_page, conversation_id).inner_text()
    queue_page.locator("#conv-empty").wait_for(state="hidden")
    queue_page.wait_for_function("document.title.startsWith('(1)')")

    conversation = off_loop(Conversation.objects.get, pk=conversation_id)
    off_loop(services.conversation_assign, conversation=conversation, assignee=agent, by=supervisor)

    row(queue_page, conversation_id).wait_for(state="detached")
    row(mine_page, conversation_id).wait_for()

    row(mine_page, conversation_id).click()
    mine_page.wait_for_url(f"**/app/conversations/{conversation_id}/**")
    mine_page.locator("#composer-input").wait_for()
    assert "Hola, ¿sigue disponible el Corolla?" in mine_page.locator("#thread").inner_text()
    assert "2019 Toyota Corolla Hybrid" in mine_page.locator(".context-card").inner_text()

    with GroupListener(f"contact.{contact.pk}") as visitor_side:
        mine_page.locator("#composer-input").fill("¡Hola María! Sí, sigue disponible.")
        mine_page.locator("#composer-input").press("Enter")
        frame = visitor_side.wait_for(
            lambda f: f.get("type") == "message.created" and "sigue disponible." in f["data"]["message"]["content"]
        )
    assert "html" not in frame["data"]  # visitors get data, never the agents' fragment
    stored = eventually(
        lambda: Message.objects.filter(conversation_id=conversation_id, sender_type="agent", kind="text").first(),
        message="the reply stored",
    )
    assert stored.content == "¡Hola María! Sí, sigue disponible." and stored.sender_membership_id == agent.pk
    mine_page.locator(f"#msg-{stored.pk}").wait_for()
    assert mine_page.locator(".msg--pending").count() == 0
    assert mine_page.locator(f"#msg-{stored.pk}").count() == 1  # optimistic bubble replaced, not doubled
    assert mine_page.locator(f"#msg-{stored.pk} .msg__author").inner_text() == "You"
    assert queue_page.js_errors == [] and mine_page.js_errors == []


# --- (b) soft lock -----------------------------------------------------------------------------


def test_other_agent_typing_shows_a_soft_lock(new_page, live_server_url, account, site, team):
    agent, _, supervisor = team
    contact = visitor(account, site)
    conversation = factories.ConversationFactory(account=account, contact=contact, assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    off_loop(services.message_send, conversation=conversation, sender_type="contact", content="Necesito ayuda")
    url = f"/app/conversations/{conversation.pk}/"
    ana = login(new_page, live_server_url, agent, path=url)
    sofia = login(new_page, live_server_url, supervisor, path=url)
    ana.wait_for_timeout(300)  # both joined conv.<id>

    sofia.locator("#composer-input").click()
    sofia.keyboard.type("Te ayudo yo", delay=30)

    lock = ana.locator(".composer__lock")
    lock.wait_for(state="visible")
    assert lock.inner_text().strip() == "Sofía Martín is replying"
    sofia.locator("#composer-input").fill("")
    sofia.locator("#composer-input").press("Backspace")
    lock.wait_for(state="hidden", timeout=8000)


# --- (c) supervisor reassigns ---------------------------------------------------------------------


def test_supervisor_reassigns_and_both_lists_update_live(new_page, live_server_url, account, site, team):
    agent, agent2, supervisor = team
    contact = visitor(account, site, name="Pedro Sánchez")
    conversation = factories.ConversationFactory(account=account, contact=contact, assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    off_loop(services.message_send, conversation=conversation, sender_type="contact", content="¿Aceptan mi coche?")
    factories.ConversationFactory(account=account, contact=visitor(account, site, name="Lucía Fernández"), assignee=agent2,
                                  status=Conversation.Status.ASSIGNED)
    ana = login(new_page, live_server_url, agent, path="/app/mine/")
    bruno = login(new_page, live_server_url, agent2, path="/app/mine/")
    row(ana, conversation.pk).wait_for()
    assert row(bruno, conversation.pk).count() == 0

    sofia = login(new_page, live_server_url, supervisor, path=f"/app/conversations/{conversation.pk}/")
    sofia.locator("#assign-menu summary").click()
    dialog = sofia.locator(".assign-dialog")
    dialog.wait_for()
    option = dialog.locator(f".agent-option[data-member-id='{agent2.pk}']")
    assert "1/3" in option.inner_text() and "Away" in option.inner_text()
    screenshot(sofia, "inbox-supervisor-reassign")
    option.click()
    dialog.get_by_role("button", name="Assign", exact=True).click()

    row(ana, conversation.pk).wait_for(state="detached")
    row(bruno, conversation.pk).wait_for()
    sofia.locator(".conv-header__assignee", has_text="Bruno Díaz").wait_for()
    assert eventually(lambda: Conversation.objects.get(pk=conversation.pk).assignee_id == agent2.pk)
    assert sofia.js_errors == [] and ana.js_errors == [] and bruno.js_errors == []


def test_plain_agent_cannot_reassign_through_the_ui(new_page, live_server_url, account, site, team, client_for):
    agent, agent2, _ = team
    conversation = factories.ConversationFactory(account=account, contact=visitor(account, site), assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    ana = login(new_page, live_server_url, agent, path=f"/app/conversations/{conversation.pk}/")
    assert ana.locator("#assign-menu").count() == 0
    # A forged request gets the refusal as a toast; nothing changes.
    ana.evaluate(
        """([url, id]) => htmx.ajax('POST', url, {target: '#conversation-pane', swap: 'outerHTML', values: {assignee: id}})""",
        [f"/app/conversations/{conversation.pk}/assign/", agent2.pk],
    )
    ana.locator("#inbox-toasts .toast--error", has_text="Only supervisors can reassign").wait_for()
    assert off_loop(lambda: Conversation.objects.get(pk=conversation.pk).assignee_id) == agent.pk


# --- (d) saved replies and private notes -------------------------------------------------------------


def test_canned_response_expands_and_private_note_stays_internal(new_page, live_server_url, account, site, team):
    agent, _, _ = team
    factories.CannedResponseFactory(account=account, shortcut="precio", content="El precio incluye IVA y transferencia.")
    factories.CannedResponseFactory(account=account, shortcut="prueba", content="¿Cuándo quieres la prueba?")
    contact = visitor(account, site)
    conversation = factories.ConversationFactory(account=account, contact=contact, assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    ana = login(new_page, live_server_url, agent, path=f"/app/conversations/{conversation.pk}/")
    composer = ana.locator("#composer-input")

    composer.click()
    ana.keyboard.type("Claro. /pre")
    menu = ana.locator("#canned-menu")
    menu.wait_for(state="visible")
    assert menu.locator(".canned-menu__item").count() == 1
    screenshot(ana, "inbox-canned-menu")
    ana.keyboard.press("Tab")
    assert composer.input_value() == "Claro. El precio incluye IVA y transferencia."
    menu.wait_for(state="hidden")  # hidden once the expansion is applied (not necessarily at once)

    with GroupListener(f"contact.{contact.pk}") as visitor_side:
        ana.locator(".composer__tab--note").click()
        composer.fill("Cliente VIP: ofrecer 2% de descuento")
        ana.keyboard.press("Control+Enter")
        note = eventually(lambda: Message.objects.filter(conversation=conversation, kind="note").first(), message="the note")
        ana.locator(f"#msg-{note.pk}.msg--note").wait_for()
        time.sleep(1.0)  # anything published to the visitor would have arrived by now
        assert not [f for f in visitor_side.frames if "VIP" in str(f)], "a private note reached the visitor"
    assert note.content == "Cliente VIP: ofrecer 2% de descuento"


# --- (e) the visitor's page, live ----------------------------------------------------------------------


def test_visitor_navigation_shows_live_in_the_contact_pane(new_page, live_server_url, account, site, team):
    agent, _, _ = team
    contact = visitor(account, site)
    conversation = factories.ConversationFactory(account=account, contact=contact, assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    off_loop(services.contact_page_view, contact=contact, url="https://shop.example.test/", title="Acme Shop")
    ana = login(new_page, live_server_url, agent, path=f"/app/conversations/{conversation.pk}/")
    assert "Acme Shop" in ana.locator("[data-current-page-title]").inner_text()

    off_loop(services.contact_page_view, contact=contact, url="https://shop.example.test/cars/corolla-2019?ref=ad",
             title="2019 Toyota Corolla · Acme Shop")

    ana.locator("[data-current-page-title]", has_text="2019 Toyota Corolla").wait_for()
    link = ana.locator("[data-current-page-link]")
    assert link.get_attribute("href") == "https://shop.example.test/cars/corolla-2019?ref=ad"
    assert ana.locator("#page-trail .trail__item").first.inner_text().startswith("2019 Toyota Corolla")


# --- keyboard, phone and the screenshots --------------------------------------------------------------------


def test_keyboard_navigation_and_help_overlay(new_page, live_server_url, account, site, team):
    agent, _, _ = team
    ids = []
    for name in ("Elena Torres", "Diego Romero", "Laura Navarro"):
        conversation = factories.ConversationFactory(account=account, contact=visitor(account, site, name=name),
                                                     assignee=agent, status=Conversation.Status.ASSIGNED)
        off_loop(services.message_send, conversation=conversation, sender_type="contact", content=f"Hola, soy {name}")
        ids.append(conversation.pk)
    ana = login(new_page, live_server_url, agent, path="/app/mine/")
    first, second = ana.locator("#conv-rows > .conv-row").nth(0), ana.locator("#conv-rows > .conv-row").nth(1)

    ana.keyboard.press("j")
    ana.wait_for_function("document.querySelector('#conversation-pane[data-conversation-id]')")
    assert first.get_attribute("aria-current") == "true"
    ana.keyboard.press("j")
    ana.wait_for_function(
        "id => document.querySelector('#conversation-pane').dataset.conversationId === id",
        arg=second.get_attribute("data-conversation-id"),
    )
    assert second.get_attribute("aria-current") == "true"
    ana.keyboard.press("k")
    ana.wait_for_function("document.querySelector('#conv-rows > .conv-row').getAttribute('aria-current') === 'true'")

    ana.keyboard.press("r")
    assert ana.evaluate("document.activeElement.id") == "composer-input"
    ana.keyboard.press("Escape")
    ana.keyboard.press("e")
    assert ana.locator("#close-menu").get_attribute("open") is not None
    ana.keyboard.press("Escape")

    ana.keyboard.press("?")
    dialog = ana.locator("#shortcuts-dialog")
    dialog.wait_for(state="visible")
    screenshot(ana, "inbox-keyboard-overlay")
    ana.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # Back and forward work: the URL is the state.
    ana.go_back()
    ana.wait_for_function(
        "id => document.querySelector('#conversation-pane').dataset.conversationId === id",
        arg=second.get_attribute("data-conversation-id"),
    )
    assert ana.js_errors == []


def test_phone_shows_one_pane_at_a_time(new_page, live_server_url, account, site, team):
    agent, _, _ = team
    conversation = factories.ConversationFactory(account=account, contact=visitor(account, site), assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    off_loop(services.message_send, conversation=conversation, sender_type="contact", content="¿Tienen el modelo en blanco?")
    phone = login(new_page, live_server_url, agent, viewport=PHONE, path="/app/mine/")
    assert phone.locator("#list-pane").is_visible()
    assert phone.locator("#conversation-pane").is_hidden()

    row(phone, conversation.pk).click()
    phone.locator("#composer-input").wait_for()
    phone.locator("#list-pane").wait_for(state="hidden")
    phone.locator("#composer-input").fill("Sí, lo tenemos en blanco perla.")
    phone.locator(".composer__send").click()
    eventually(lambda: Message.objects.filter(conversation=conversation, sender_type="agent").exists(), message="the reply")

    phone.locator("[data-back]").click()
    phone.locator("#list-pane").wait_for(state="visible")
    assert phone.url.endswith("/app/mine/")


def test_reconnect_catches_up_without_duplicates(new_page, live_server_url, account, site, team):
    """The socket drops; a message arrives meanwhile; after reconnecting the
    thread shows it once (fetched after the last id), and the list is fresh."""
    agent, _, _ = team
    contact = visitor(account, site)
    conversation = factories.ConversationFactory(account=account, contact=contact, assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    off_loop(services.message_send, conversation=conversation, sender_type="contact", content="primero")
    sockets: list = []
    blocked = {"on": False}

    def route(ws):
        if blocked["on"]:
            ws.close()  # the network is down: every reconnect attempt fails
            return
        ws.connect_to_server()
        sockets.append(ws)

    page = new_page(viewport=DESKTOP)
    page.route_web_socket("**/ws/agent/", route)
    ana = login(lambda **kw: page, live_server_url, agent, path=f"/app/conversations/{conversation.pk}/")

    blocked["on"] = True
    sockets[-1].close()
    ana.wait_for_function("document.documentElement.dataset.socket === 'closed'")
    missed = off_loop(services.message_send, conversation=conversation, sender_type="contact", content="mientras tanto")
    ana.locator("#connection-banner").wait_for(state="visible", timeout=15_000)
    blocked["on"] = False

    ana.locator(f"#msg-{missed.message.pk}").wait_for(timeout=40_000)
    wait_socket(ana)
    ana.locator("#connection-banner").wait_for(state="hidden")
    ana.wait_for_timeout(500)
    assert ana.locator(f"#msg-{missed.message.pk}").count() == 1
    assert ana.locator("#thread .msg").count() == 2
    # Live again: the next message arrives over the new socket.
    later = off_loop(services.message_send, conversation=conversation, sender_type="contact", content="ya estás")
    ana.locator(f"#msg-{later.message.pk}").wait_for()
    assert ana.js_errors == []


# --- a realistic inbox, for the screenshots ---------------------------------------------------------------


def _png(width: int = 480, height: int = 300) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), "#dbeafe")
    draw = ImageDraw.Draw(image)
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=(219 - y // 6, 234 - y // 8, 254 - y // 10))
    draw.rounded_rectangle([60, 120, 420, 220], radius=40, fill="#b91c1c")
    draw.rounded_rectangle([130, 80, 330, 140], radius=30, fill="#991b1b")
    for x in (130, 350):
        draw.ellipse([x - 35, 185, x + 35, 255], fill="#111827")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _scene(account, site, agent, agent2, supervisor):
    """A queue with a few kinds of waiting conversations and one rich thread of the agent's."""
    from django.utils import timezone

    campaign = factories.CampaignFactory(account=account, name="Seguros Hogar")
    campaign.agents.add(agent)
    now = timezone.now()
    waiting = [
        ("Diego Romero", "Buenas tardes, tengo una duda con mi seguro de hogar", Conversation.Channel.WEB, 3, 42, campaign),
        ("Laura Navarro", "¿Cuántos kilómetros tiene el Corolla?", Conversation.Channel.WHATSAPP, 2, 18, None),
        ("Sergio Castro", "¿Aceptan coche como parte de pago?", Conversation.Channel.WEB, 1, 7, None),
        ("+34 611 222 333", "Hola, ¿abren el sábado?", Conversation.Channel.SMS, 1, 3, None),
        ("Nuria Ortega", "Quería saber el precio final con financiación", Conversation.Channel.WEB, 1, 1, None),
    ]
    for name, text, channel, priority, minutes, camp in waiting:
        contact = factories.ContactFactory(account=account, site=site, name=name if not name.startswith("+") else "",
                                           phone=name if name.startswith("+") else "", email="" if name.startswith("+") else f"{name.split()[0].lower()}@example.test",
                                           is_online=minutes < 20)
        conversation = factories.ConversationFactory(account=account, contact=contact, channel=channel, priority=priority, campaign=camp)
        off_loop(services.message_send, conversation=conversation, sender_type="contact", content=text)
        since = now - timezone.timedelta(minutes=minutes)
        Conversation.objects.filter(pk=conversation.pk).update(
            queued_at=since, awaiting_reply_since=since, last_message_at=since, first_contact_message_at=since
        )

    maria = factories.ContactFactory(
        account=account, site=site, name="María López", email="maria.lopez@example.test", phone="+34 600 123 456",
        document_number="X1234567Y", country="ES", locale="es", visit_count=4, is_online=True,
        attributes={"plan": "premium", "city": "Madrid"},
    )
    for url, title in (("https://shop.example.test/", "Autos Sol — coches de ocasión"),
                       ("https://shop.example.test/coches?marca=toyota", "Toyota de ocasión"),
                       ("https://shop.example.test/coches/toyota-corolla-hybrid-2019", "Toyota Corolla Hybrid 2019")):
        off_loop(services.contact_page_view, contact=maria, url=url, title=title)
    sent = off_loop(services.contact_message_send, contact=maria, content="Hola, ¿sigue disponible el Toyota Corolla?",
                    context={"title": "2019 Toyota Corolla Hybrid", "url": "https://shop.example.test/coches/toyota-corolla-hybrid-2019",
                             "price": "18.900 €", "ref": "TC-2019-044"})
    conversation = off_loop(Conversation.objects.get, pk=sent.message.conversation_id)
    off_loop(services.conversation_assign, conversation=conversation, assignee=agent, by=supervisor)
    off_loop(services.agent_message_send, membership=agent, conversation_id=conversation.pk,
             content="¡Hola María! Sí, sigue disponible. Tiene 62.000 km, un solo propietario y el libro de revisiones al día.")
    off_loop(services.message_send, conversation=conversation, sender_type="contact", content="¿Se puede financiar a 48 meses? ¿Tenéis más fotos del interior?")
    off_loop(services.agent_message_send, membership=agent, conversation_id=conversation.pk, private=True,
             content="Cliente recurrente: se le puede ofrecer un 2 % de descuento.")
    off_loop(services.message_send, conversation=conversation, sender_type="bot", kind="quick_replies",
             content="¿Quieres que te llamemos?", payload={"options": [{"label": "Sí, llamadme"}, {"label": "Mejor por chat"}]})
    off_loop(services.agent_message_send, membership=agent, conversation_id=conversation.pk,
             content="A 48 meses queda en 389 €/mes con una entrada de 2.000 €. Te envío la simulación por email.")
    off_loop(services.message_send, conversation=conversation, sender_type="contact", content="¡Perfecto, muchas gracias!")
    first_ids = list(Message.objects.filter(conversation=conversation).order_by("id").values_list("id", flat=True)[:3])
    Message.objects.filter(pk__in=first_ids).update(created_at=now - timezone.timedelta(days=1, hours=2))
    for other, text in (("Pedro Sánchez", "¿Tienen el modelo en color blanco?"), ("Lucía Fernández", "Gracias, lo pienso y os digo.")):
        contact = factories.ContactFactory(account=account, site=site, name=other)
        mine = factories.ConversationFactory(account=account, contact=contact, assignee=agent, status=Conversation.Status.ASSIGNED)
        off_loop(services.message_send, conversation=mine, sender_type="contact", content=text)
    assert PageView.objects.filter(contact=maria).count() == 3
    return conversation


def test_screens_desktop_and_phone(new_page, live_server_url, account, site, team):
    agent, agent2, supervisor = team
    conversation = _scene(account, site, agent, agent2, supervisor)

    queue = login(new_page, live_server_url, agent, path="/app/queue/")
    assert queue.locator("#conv-rows > .conv-row").count() == 5
    assert "Urgent" in queue.locator("#conv-rows > .conv-row").first.inner_text()
    queue.locator("[data-sla]:visible").first.wait_for()
    screenshot(queue, "inbox-desktop-queue")

    desk = login(new_page, live_server_url, agent, path=f"/app/conversations/{conversation.pk}/")
    # The agent attaches a photo through the page (stored by the live server), then sends it.
    upload = desk.request.post(
        f"{live_server_url}/app/conversations/{conversation.pk}/attachments/",
        multipart={"file": {"name": "interior.png", "mimeType": "image/png", "buffer": _png()}},
        headers={"X-CSRFToken": desk.evaluate("CharlaInbox.csrf()")},
    )
    assert upload.status == 201, upload.text()
    off_loop(services.agent_message_send, membership=agent, conversation_id=conversation.pk,
             content="Aquí tienes una del interior:", attachment_ids=[upload.json()["id"]])
    desk.reload()
    wait_socket(desk)
    desk.locator(".msg--note").wait_for()
    desk.locator(".attachment--image img").wait_for()
    assert desk.locator(".day-sep").count() == 2  # yesterday and today
    assert desk.locator(".chip").count() == 2
    desk.wait_for_timeout(600)
    screenshot(desk, "inbox-desktop-conversation")

    phone_list = login(new_page, live_server_url, agent, viewport=PHONE, path="/app/mine/")
    screenshot(phone_list, "inbox-phone-list")
    phone = login(new_page, live_server_url, agent, viewport=PHONE, path=f"/app/conversations/{conversation.pk}/")
    phone.wait_for_timeout(600)
    screenshot(phone, "inbox-phone-conversation")
    phone.locator("[data-toggle-contact]").first.click()
    phone.locator("#contact-pane").wait_for(state="visible")
    phone.wait_for_timeout(300)
    screenshot(phone, "inbox-phone-contact")
    assert queue.js_errors == [] and desk.js_errors == [] and phone.js_errors == []


def test_search_and_filters_swap_the_list_and_keep_the_url(new_page, live_server_url, account, site, team):
    agent, _, _ = team
    for name, channel in (("Zoe Quintana", Conversation.Channel.WEB), ("Elena Torres", Conversation.Channel.WHATSAPP),
                          ("Diego Romero", Conversation.Channel.WEB)):
        factories.ConversationFactory(account=account, contact=visitor(account, site, name=name), assignee=agent,
                                      status=Conversation.Status.ASSIGNED, channel=channel)
    ana = login(new_page, live_server_url, agent, path="/app/mine/")
    rows = ana.locator("#conv-rows > .conv-row")
    assert rows.count() == 3

    ana.locator("[data-search-input]").fill("zoe")
    ana.wait_for_function("document.querySelectorAll('#conv-rows > .conv-row').length === 1")
    assert "Zoe Quintana" in rows.first.inner_text()
    assert "q=zoe" in ana.url

    ana.locator("[data-search-input]").fill("")
    ana.wait_for_function("document.querySelectorAll('#conv-rows > .conv-row').length === 3")
    ana.locator(".filter-menu summary").click()
    ana.locator("select[name=channel]").select_option("whatsapp")
    ana.wait_for_function("document.querySelectorAll('#conv-rows > .conv-row').length === 1")
    assert "Elena Torres" in rows.first.inner_text() and "channel=whatsapp" in ana.url

    ana.reload()  # the URL is the state
    wait_socket(ana)
    assert rows.count() == 1 and ana.locator("select[name=channel]").input_value() == "whatsapp"
    assert ana.js_errors == []


def test_load_older_messages_keeps_the_reading_position(new_page, live_server_url, account, site, team):
    agent, _, _ = team
    conversation = factories.ConversationFactory(account=account, contact=visitor(account, site), assignee=agent,
                                                 status=Conversation.Status.ASSIGNED)
    ids = [
        factories.MessageFactory(account=account, conversation=conversation, content=f"Mensaje número {i}").pk
        for i in range(45)
    ]
    ana = login(new_page, live_server_url, agent, path=f"/app/conversations/{conversation.pk}/")
    assert ana.locator("#thread .msg").count() == 30
    ana.locator("#thread").evaluate("t => t.scrollTop = 0")
    anchor = ana.locator(f"#msg-{ids[15]}")
    before = anchor.bounding_box()["y"]

    ana.locator("[data-load-older]").click()
    ana.locator("#thread-start").wait_for()

    assert ana.locator("#thread .msg").count() == 45
    assert ana.locator(f"#msg-{ids[0]}").count() == 1
    assert abs(anchor.bounding_box()["y"] - before) < 40  # the message being read did not jump away
    assert ana.js_errors == []
