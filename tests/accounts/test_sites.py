"""Site settings pages: list, create, edit, business hours, identity secret."""

import pytest

from django.urls import reverse

from accounts.forms import parse_intervals
from accounts.models import Site
from tests import factories


def _site_post(**overrides):
    data = {
        "name": "Acme shop",
        "allowed_domains_text": "shop.acme.example\n*.acme.example",
        "color_primary": "#112233",
        "color_text": "#ffffff",
        "team_name": "Acme Support",
        "greeting": "Hi there!",
        "offline_message": "We are away.",
        "reply_time_text": "In a few minutes",
        "locale": "es",
        "timezone": "Europe/Madrid",
        "hours_mon": "09:00-13:00, 15:00-19:00",
        "hours_tue": "9:00-17:00",
        "hours_wed": "",
        "hours_thu": "",
        "hours_fri": "",
        "hours_sat": "",
        "hours_sun": "",
        "holidays_text": "2025-12-25\n2026-01-01",
        "require_identity": "on",
    }
    data.update(overrides)
    return data


def test_parse_intervals():
    assert parse_intervals("09:00-13:00, 15:00 - 19:00") == [["09:00", "13:00"], ["15:00", "19:00"]]
    assert parse_intervals("") == []
    for bad in ("9-5", "13:00-09:00", "09:00-12:00, 11:00-14:00", "25:00-26:00"):
        with pytest.raises(Exception):  # noqa: B017 - forms.ValidationError
            parse_intervals(bad)


@pytest.mark.django_db
def test_sites_list_and_edit(client_for, owner, site):
    client = client_for(owner)
    page = client.get(reverse("accounts:sites"))
    assert page.status_code == 200
    assert "Acme shop" in page.content.decode()

    url = reverse("accounts:site_edit", kwargs={"site_id": site.pk})
    page = client.get(url).content.decode()
    assert site.app_id in page
    assert "data-app-id" in page
    assert site.identity_secret[-4:] in page

    response = client.post(url, _site_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    site.refresh_from_db()
    assert site.allowed_domains == ["shop.acme.example", "*.acme.example"]
    assert site.business_hours == {"mon": [["09:00", "13:00"], ["15:00", "19:00"]], "tue": [["09:00", "17:00"]]}
    assert [d.isoformat() for d in site.holidays] == ["2025-12-25", "2026-01-01"]
    assert site.color_primary == "#112233"
    assert site.timezone == "Europe/Madrid"
    assert site.require_identity is True
    assert site.locale == "es"
    # The form shows the saved hours back as text.
    assert "09:00-13:00, 15:00-19:00" in client.get(url).content.decode()


@pytest.mark.django_db
def test_site_form_errors_are_clear(client_for, owner, site):
    client = client_for(owner)
    url = reverse("accounts:site_edit", kwargs={"site_id": site.pk})
    response = client.post(url, _site_post(hours_mon="9 to 5", color_primary="blue", allowed_domains_text="bad domain!"))
    assert response.status_code == 400
    body = response.content.decode()
    assert "is not a time range" in body
    assert "Use a hex colour" in body
    site.refresh_from_db()
    assert site.color_primary == "#4F46E5"


@pytest.mark.django_db
def test_site_new(client_for, owner):
    client = client_for(owner)
    assert client.get(reverse("accounts:site_new")).status_code == 200
    response = client.post(reverse("accounts:site_new"), _site_post(name="Blog", allowed_domains_text="blog.acme.example"))
    assert response.status_code == 302
    new = Site.objects.get(account=owner.account, name="Blog")
    assert new.allowed_domains == ["blog.acme.example"]


@pytest.mark.django_db
def test_site_rotate_secret(client_for, owner, site):
    before = site.identity_secret
    client = client_for(owner)
    response = client.post(reverse("accounts:site_rotate_secret", kwargs={"site_id": site.pk}))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.identity_secret != before and len(site.identity_secret) == 64


@pytest.mark.django_db
def test_site_default_campaign_limited_to_account(client_for, owner, site, other_account):
    mine = factories.CampaignFactory(account=owner.account, name="Sales")
    theirs = factories.CampaignFactory(account=other_account, name="Theirs")
    client = client_for(owner)
    url = reverse("accounts:site_edit", kwargs={"site_id": site.pk})
    assert "Theirs" not in client.get(url).content.decode()
    response = client.post(url, _site_post(default_campaign=theirs.pk))
    assert response.status_code == 400
    response = client.post(url, _site_post(default_campaign=mine.pk))
    assert response.status_code == 302
    site.refresh_from_db()
    assert site.default_campaign == mine


@pytest.mark.django_db
def test_sites_need_admin(client_for, supervisor, site):
    client = client_for(supervisor)
    assert client.get(reverse("accounts:sites")).status_code == 403
    assert client.get(reverse("accounts:site_edit", kwargs={"site_id": site.pk})).status_code == 403
    assert client.post(reverse("accounts:site_rotate_secret", kwargs={"site_id": site.pk})).status_code == 403


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, site):
    response = client.get(reverse("accounts:team"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
