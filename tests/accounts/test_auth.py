"""Signup, login, logout, throttling, password reset, home and language."""

import re

import pytest

from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Account, Membership, Site, User
from core.exceptions import ValidationError
from tests.factories import PASSWORD

SIGNUP = {
    "company_name": "Tienda Sol",
    "name": "Lucía Gómez",
    "email": "Lucia@TiendaSol.example",
    "password": "a-Very-good-pass-91",
    "site_domain": "https://www.tiendasol.example/contacto",
}


def _signup(client, **overrides):
    return client.post(reverse("accounts:signup"), {**SIGNUP, **overrides})


@pytest.mark.django_db
def test_signup_creates_account_owner_and_site_and_logs_in(client):
    response = _signup(client)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    user = User.objects.get(email="lucia@tiendasol.example")
    membership = Membership.objects.get(user=user)
    assert membership.role == Membership.Role.OWNER
    assert membership.availability == Membership.Availability.ONLINE
    assert membership.account.name == "Tienda Sol"
    assert membership.account.slug == "tienda-sol"
    site = Site.objects.get(account=membership.account)
    assert site.allowed_domains == ["www.tiendasol.example"]
    assert user.is_staff is True  # owners may use the scoped /admin/
    # Logged in, and the team page shows the new member.
    team = client.get(reverse("accounts:team"))
    assert team.status_code == 200
    assert "Lucía Gómez" in team.content.decode()


@pytest.mark.django_db
def test_signup_slug_is_unique():
    first = services.account_signup(
        company_name="Acme", name="A", email="a@x.example", password=SIGNUP["password"], site_domain="a.example"
    )
    second = services.account_signup(
        company_name="Acme", name="B", email="b@x.example", password=SIGNUP["password"], site_domain="b.example"
    )
    assert first.account.slug == "acme"
    assert second.account.slug == "acme-2"


@pytest.mark.django_db
def test_signup_refuses_duplicate_email(client, owner):
    response = _signup(client, email="OWNER@acme.test")

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Account.objects.filter(name="Tienda Sol").count() == 0
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("password", "12345678", "too common"),
        ("site_domain", "not a domain!", "not a valid domain"),
        ("email", "nope", "valid email"),
    ],
)
def test_signup_shows_clear_field_errors(client, field, value, message):
    response = _signup(client, **{field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_logged_in_user_can_create_another_company(client_for, owner):
    client = client_for(owner)
    response = client.post(reverse("accounts:signup"), {"company_name": "Second Co", "site_domain": "second.example"})

    assert response.status_code == 302
    assert Membership.objects.filter(user=owner.user, role="owner").count() == 2
    # The new company becomes the current one.
    assert "Second Co" in client.get(reverse("accounts:team")).content.decode()


def test_normalize_domain_keeps_hosts_and_wildcards():
    assert services.normalize_domain(" HTTPS://Shop.Example.com:8443/a?b ") == "shop.example.com"
    assert services.normalize_domain("*.example.com") == "*.example.com"
    assert services.normalize_domain("localhost") == "localhost"
    with pytest.raises(ValidationError):
        services.normalize_domain("exa mple.com")


@pytest.mark.django_db
def test_login_with_email_and_password_then_logout(client, owner):
    response = client.post(reverse("accounts:login"), {"email": "Owner@Acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home"))["Location"] == "/app/"

    assert client.get(reverse("accounts:logout")).status_code == 405  # POST only
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("home"))["Location"] == reverse("accounts:login")


@pytest.mark.django_db
def test_login_wrong_password_shows_error(client, owner):
    response = client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "Incorrect email or password." in response.content.decode()


@pytest.mark.django_db
def test_login_redirects_to_safe_next_only(client, owner):
    ok = client.post(reverse("accounts:login") + "?next=/settings/team/", {"email": "owner@acme.test", "password": PASSWORD})
    assert ok["Location"] == "/settings/team/"
    client.post(reverse("accounts:logout"))
    evil = client.post(
        reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert evil["Location"] == reverse("home")


@pytest.mark.django_db
def test_login_throttled_per_email_without_checking_password(client, owner, settings):
    settings.LOGIN_THROTTLE = {"per_ip": 100, "per_email": 3, "window": 600}
    for _ in range(3):
        client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": "wrong"})

    # The right password is refused too: the password is not even checked.
    response = client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts. Try again in 10 minutes." in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another email from the same IP is not blocked by the email counter.
    response = client.post(reverse("accounts:login"), {"email": "other@acme.test", "password": "x"})
    assert response.status_code == 200


@pytest.mark.django_db
def test_login_throttled_per_ip(client, owner, settings):
    settings.LOGIN_THROTTLE = {"per_ip": 4, "per_email": 100, "window": 300}
    for n in range(4):
        client.post(reverse("accounts:login"), {"email": f"guess{n}@acme.test", "password": "wrong"})

    response = client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD})
    assert response.status_code == 429
    assert "Try again in 5 minutes" in response.content.decode()
    # Another IP is fine.
    response = client.post(
        reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD}, REMOTE_ADDR="10.0.0.9"
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_login_success_resets_email_counter(client, owner, settings):
    settings.LOGIN_THROTTLE = {"per_ip": 100, "per_email": 3, "window": 600}
    for _ in range(2):
        client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": "wrong"})
    assert client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD}).status_code == 302
    client.post(reverse("accounts:logout"))

    # Two more failures would have reached the limit without the reset.
    for _ in range(2):
        client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": "wrong"})
    assert client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_password_reset_end_to_end(client, owner, settings):
    settings.PUBLIC_URL = "https://charla.example"
    response = client.post(reverse("accounts:password_reset"), {"email": "OWNER@acme.test"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@acme.test"]
    link = re.search(r"https://charla\.example(/reset/\S+/)", message.body).group(1)
    assert message.alternatives and link in message.alternatives[0][0]

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "brand-New-pass-77", "new_password2": "brand-New-pass-77"})
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:password_reset_complete")

    assert client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": PASSWORD}).status_code == 200
    ok = client.post(reverse("accounts:login"), {"email": "owner@acme.test", "password": "brand-New-pass-77"})
    assert ok.status_code == 302
    # The link works once.
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


@pytest.mark.django_db
def test_password_reset_is_rate_limited_per_email(client, owner, mailoutbox):
    url = reverse("accounts:password_reset")
    for _ in range(3):
        assert client.post(url, {"email": "owner@acme.test"}).status_code == 302
    refused = client.post(url, {"email": "owner@acme.test"})
    assert refused.status_code == 429
    assert "Too many password reset requests" in refused.content.decode()
    assert len(mailoutbox) == 3
    # Another address from the same IP is still served (the IP allows 10 an hour).
    assert client.post(url, {"email": "someone@else.test"}).status_code == 302


@pytest.mark.django_db
def test_password_reset_unknown_email_reveals_nothing(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@nowhere.example"})
    assert response.status_code == 302
    assert mail.outbox == []


@pytest.mark.django_db
def test_auth_pages_render(client):
    for name in ("accounts:login", "accounts:signup", "accounts:password_reset", "accounts:password_reset_done"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert b'lang="en"' in response.content


@pytest.mark.django_db
def test_language_switch_on_login_page_translates(client):
    response = client.post(reverse("set_language"), {"language": "es", "next": reverse("accounts:login")})
    assert response.status_code == 302
    page = client.get(reverse("accounts:login")).content.decode()
    assert 'lang="es"' in page
    assert "Iniciar sesión" in page


@pytest.mark.django_db
def test_profile_language_wins_over_browser(client_for, owner):
    client = client_for(owner)
    response = client.post(reverse("accounts:profile"), {"name": "Olga Owner", "language": "es"})
    assert response.status_code == 302
    owner.user.refresh_from_db()
    assert owner.user.language == "es"
    assert owner.user.name == "Olga Owner"

    page = client.get(reverse("accounts:team"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Equipo" in page
    assert "Cerrar sesión" in page
    # The toast about the saved profile is in the new language too.
    assert "Tu perfil se guardó." in page


@pytest.mark.django_db
def test_profile_avatar_upload(client_for, owner):
    from io import BytesIO

    from PIL import Image

    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = BytesIO()
    Image.new("RGB", (8, 8), "#4F46E5").save(buffer, format="PNG")
    upload = SimpleUploadedFile("me.png", buffer.getvalue(), content_type="image/png")
    client = client_for(owner)
    response = client.post(reverse("accounts:profile"), {"name": "Olga", "language": "", "avatar": upload})
    assert response.status_code == 302
    owner.user.refresh_from_db()
    assert owner.user.avatar.name.startswith("avatars/")
    assert owner.user.avatar.url in client.get(reverse("accounts:profile")).content.decode()


@pytest.mark.django_db
def test_topbar_language_menu_saves_user_language(client_for, owner):
    client = client_for(owner)
    response = client.post(reverse("accounts:language"), {"language": "es", "next": "/settings/team/"})
    assert response["Location"] == "/settings/team/"
    owner.user.refresh_from_db()
    assert owner.user.language == "es"
