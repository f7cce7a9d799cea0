"""A new company signs up, logs out and in, and switches Charla to Spanish.

Screenshots (var/screenshots/): login, signup, team settings and site settings
on a desktop and on a 375 px wide phone.
"""

import re

from playwright.sync_api import expect

from tests.browser.conftest import screenshot

PHONE = {"width": 375, "height": 812}
#: For failure messages: the elements that stick out of the viewport.
WIDEST = """[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
EMAIL = "marta@panaderia.example"
PASSWORD = "harina-Dulce-2025"


def _sign_up(page, base):
    page.goto(f"{base}/signup/")
    expect(page.get_by_role("heading", name="Create your company account")).to_be_visible()
    screenshot(page, "signup-desktop")
    page.get_by_label("Company name").fill("Panadería Marta")
    page.get_by_label("Your name").fill("Marta Ruiz")
    page.get_by_label("Work email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Website domain").fill("https://www.panaderia.example/")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r".*/app/.*"))


def test_signup_login_and_spanish(page, new_page, live_server_url):
    base = live_server_url
    _sign_up(page, base)

    # Logged in: the team page lists the new owner.
    page.goto(f"{base}/settings/team/")
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(page.locator("#members-title")).to_be_visible()
    expect(page.locator("table .person__name", has_text="Marta Ruiz")).to_be_visible()
    page.get_by_label("Email").fill("pablo@panaderia.example")
    page.get_by_role("button", name="Send invite").click()
    expect(page.get_by_text("Invitation sent to pablo@panaderia.example.")).to_be_visible()
    screenshot(page, "team-desktop")

    # The first site was created from the signup domain.
    page.goto(f"{base}/settings/sites/")
    expect(page.get_by_text("www.panaderia.example").first).to_be_visible()
    screenshot(page, "sites-desktop")
    page.locator("a.site-card").first.click()
    expect(page.get_by_label("Monday")).to_be_visible()
    page.get_by_label("Monday").fill("09:00-14:00, 17:00-20:00")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_label("Monday")).to_have_value("09:00-14:00, 17:00-20:00")
    screenshot(page, "site-desktop")

    # Log out through the user menu, then log in again.
    page.locator("#user-menu > summary").click()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login/.*"))
    expect(page.get_by_role("heading", name="Log in to Charla")).to_be_visible()
    screenshot(page, "login-desktop")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/app/.*"))

    # Spanish, from the profile.
    page.goto(f"{base}/settings/profile/")
    page.locator("#id_language").select_option("es")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Tu perfil se guardó.")).to_be_visible()
    expect(page.get_by_role("link", name="Equipo")).to_be_visible()
    page.locator("#user-menu > summary").click()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    page.goto(f"{base}/settings/team/")
    expect(page.get_by_role("heading", name="Equipo", exact=True)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    screenshot(page, "team-desktop-es")
    page.goto(f"{base}/settings/profile/")
    screenshot(page, "profile-desktop-es")

    # The same pages on a phone.
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/settings/team/")
    expect(page.locator(".sidenav")).not_to_be_in_viewport()
    page.locator("label.topbar__menu").click()
    expect(page.get_by_role("link", name="Equipo")).to_be_in_viewport()
    page.locator("label.nav-backdrop").click(position={"x": 340, "y": 400})
    expect(page.locator(".sidenav")).not_to_be_in_viewport()
    page.wait_for_timeout(300)  # the drawer's closing transition
    screenshot(page, "team-phone")
    page.goto(f"{base}/settings/sites/")
    page.locator("a.site-card").first.click()
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.evaluate(WIDEST)
    screenshot(page, "site-phone")

    # Anonymous pages on a phone, and the language switch under the card.
    phone = new_page(viewport=PHONE)
    phone.goto(f"{base}/login/")
    screenshot(phone, "login-phone")
    phone.get_by_role("button", name="Español").click()
    expect(phone.get_by_role("heading", name="Inicia sesión en Charla")).to_be_visible()
    phone.get_by_role("button", name="English").click()
    phone.goto(f"{base}/signup/")
    screenshot(phone, "signup-phone")
    # Clear errors: a taken email and a weak password.
    phone.get_by_label("Company name").fill("Otra")
    phone.get_by_label("Your name").fill("Otro")
    phone.get_by_label("Work email").fill(EMAIL)
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_label("Website domain").fill("not a domain")
    phone.get_by_role("button", name="Create account").click()
    expect(phone.get_by_text("is not a valid domain")).to_be_visible()
    expect(phone.get_by_text("An account with this email already exists")).to_be_visible()
    screenshot(phone, "signup-phone-errors")
    # No horizontal scrolling at 375 px.
    for path in ("/login/", "/signup/", "/password-reset/"):
        phone.goto(f"{base}{path}")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], phone.evaluate(WIDEST)
