"""The live server answers in a real browser: health and the demo storefront."""

import json

from tests.browser.conftest import screenshot


def test_healthz_answers_in_chromium(page, live_server_url):
    response = page.goto(f"{live_server_url}/healthz")

    assert response.status == 200
    assert json.loads(page.inner_text("body")) == {"status": "ok"}


def test_demo_storefront_renders_listing(page, live_server_url):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    external = []
    page.on(
        "request",
        lambda request: None if request.url.startswith((live_server_url, "data:")) else external.append(request.url),
    )

    response = page.goto(f"{live_server_url}/demo/")

    assert response.status == 200
    assert page.locator("h1").inner_text() == "2019 Toyota Corolla Hybrid"
    assert "€18,900" in page.locator(".price").inner_text()
    button = page.locator("#chat-with-seller")
    assert button.is_visible()
    car = json.loads(page.locator("#car-data").text_content())
    assert car["title"] == "2019 Toyota Corolla Hybrid"
    assert car["url"] == f"{live_server_url}/demo/"
    assert page.request.get(car["image_url"]).headers["content-type"].startswith("image/svg+xml")
    assert errors == []
    assert external == [], "the storefront must not load anything from other hosts"
    assert screenshot(page, "demo-storefront").stat().st_size > 10_000


def test_other_origin_hosts_a_page_on_another_site(page, live_server_url, other_origin_url):
    url = other_origin_url("shop/index.html", "<!doctype html><title>Shop</title><h1>Another shop</h1>")

    page.goto(url)

    assert page.locator("h1").inner_text() == "Another shop"
    assert page.evaluate("location.origin") == other_origin_url.base_url
    assert not url.startswith(live_server_url)
