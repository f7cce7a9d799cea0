"""The widget's own endpoints: /widget.js, /widget/frame/, /widget/config/."""

from __future__ import annotations

import gzip
import json
import re

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def test_loader_served_with_origin_caching_and_cors(client, settings):
    settings.PUBLIC_URL = "https://chat.example.com"
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    response = client.get("/widget.js", HTTP_HOST="chat.example.com")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age=300" in response["Cache-Control"]
    assert response["ETag"].startswith('"')
    body = response.content.decode()
    assert 'ORIGIN = "https://chat.example.com"' in body
    assert "__CHARLA_ORIGIN__" not in body


def test_loader_uses_request_origin_when_host_is_not_public_url(client, settings):
    settings.PUBLIC_URL = "https://chat.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    body = client.get("/widget.js", HTTP_HOST="10.0.0.5:8000").content.decode()
    assert 'ORIGIN = "http://10.0.0.5:8000"' in body


def test_loader_etag_gives_304(client):
    first = client.get("/widget.js")
    again = client.get("/widget.js", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]


def test_loader_gzip_when_accepted(client):
    plain = client.get("/widget.js")
    zipped = client.get("/widget.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert zipped["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped["Vary"]
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) <= 10 * 1024


def test_frame_page_for_a_site(client, site):
    site.allowed_domains = ["shop.example.test", "*.acme.test"]
    site.team_name = "Acme support"
    site.save()
    response = client.get(f"/widget/frame/?app_id={site.app_id}")

    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    ancestors = re.search(r"frame-ancestors ([^;]+)", csp).group(1)
    assert "https://shop.example.test" in ancestors and "http://shop.example.test:*" in ancestors
    assert "https://*.acme.test" in ancestors
    html = response.content.decode()
    config = json.loads(
        re.search(r'<script id="charla-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert config["app_id"] == site.app_id
    assert config["api"].endswith("/api/widget/v1/")
    assert config["ws"].startswith("ws://") and config["ws"].endswith("/ws/widget/")
    assert config["site"]["team_name"] == "Acme support"
    assert "identity_secret" not in html and site.identity_secret not in html
    assert "/static/widget/frame.js" in html and "/static/widget/frame.css" in html


def test_frame_unknown_app_is_404(client):
    response = client.get("/widget/frame/?app_id=nope")
    assert response.status_code == 404
    assert b"charla-config" not in response.content


def test_config_is_public_and_cors(client, site):
    site.color_primary = "#E11D48"
    site.save()
    response = client.get(f"/widget/config/?app_id={site.app_id}")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    data = response.json()
    assert data["colors"] == {"primary": "#E11D48", "text": "#FFFFFF"}
    assert data["online"] is True
    assert set(data) >= {"team_name", "greeting", "offline_message", "reply_time_text", "logo_url", "locale"}
    assert site.identity_secret not in response.content.decode()


def test_config_unknown_app(client):
    response = client.get("/widget/config/?app_id=missing")
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == "*"


def test_config_reports_offline_outside_business_hours(client, account):
    site = factories.SiteFactory(account=account, business_hours={"mon": [["00:00", "00:01"]]}, holidays=[])
    data = client.get(f"/widget/config/?app_id={site.app_id}").json()
    assert data["online"] is False


def test_install_snippet_partial(rf, site):
    from django.template.loader import render_to_string

    request = rf.get("/settings/sites/1/")
    html = render_to_string("conversations/widget/install_snippet.html", {"site": site, "request": request})
    assert f'data-app-id="{site.app_id}"' in html
    assert "http://testserver/widget.js" in html
    assert "hashlib.sha256" in html and "createHmac" in html and "hash_hmac" in html
    assert site.identity_secret not in html


def test_install_snippet_partial_with_public_url(rf, site):
    from django.template.loader import render_to_string

    html = render_to_string(
        "conversations/widget/install_snippet.html",
        {"site": site, "request": rf.get("/"), "public_url": "https://chat.example.com"},
    )
    html = html.replace("&lt;", "<").replace("&gt;", ">")
    assert '<script src="https://chat.example.com/widget.js" data-app-id="' in html
