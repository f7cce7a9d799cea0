"""Invitations, roles, capacity and removal: services and pages."""

import re
from datetime import timedelta

import pytest

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import selectors, services
from accounts.models import Invitation, Membership, User
from core import tenancy
from core.exceptions import NotFound, PermissionDenied, ValidationError
from tests import factories
from tests.factories import PASSWORD


def _accept_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/invite/[^/\s]+/)", message.body).group(1)


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    def make(account, by, email, role="agent"):
        with django_capture_on_commit_callbacks(execute=True):
            return services.invitation_create(account=account, invited_by=by, email=email, role=role)

    return make


@pytest.mark.django_db
def test_full_flow_signup_invite_accept_member_listed(client, django_capture_on_commit_callbacks, settings):
    settings.PUBLIC_URL = "https://app.charla.example"
    client.post(
        reverse("accounts:signup"),
        {
            "company_name": "Acme Flow",
            "name": "Olivia Owner",
            "email": "olivia@flow.example",
            "password": "flow-Pass-2024!",
            "site_domain": "flow.example",
        },
    )
    client.post(reverse("accounts:logout"))
    assert client.post(reverse("accounts:login"), {"email": "olivia@flow.example", "password": "flow-Pass-2024!"}).status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:team"), {"email": "Nico@Flow.example", "role": "agent"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nico@flow.example"]
    assert "Olivia Owner invited you to join Acme Flow" in message.subject
    assert "https://app.charla.example/invite/" in message.body
    path = _accept_path(message)
    assert "nico@flow.example" in client.get(reverse("accounts:team")).content.decode()  # pending list

    # The invitee opens the link in another browser and signs up.
    invitee = type(client)()
    page = invitee.get(path)
    assert page.status_code == 200
    assert "Create account and join" in page.content.decode()
    response = invitee.post(path, {"name": "Nico Nuevo", "password": "nico-Pass-555"})
    assert response.status_code == 302
    nico = User.objects.get(email="nico@flow.example")
    membership = Membership.objects.get(user=nico)
    assert membership.role == "agent"
    assert membership.account.name == "Acme Flow"
    assert invitee.session["_auth_user_id"] == str(nico.pk)

    team = client.get(reverse("accounts:team")).content.decode()
    assert "Nico Nuevo" in team
    assert "No pending invitations" in team
    # The link is used up.
    assert invitee.get(path).status_code == 410


@pytest.mark.django_db
def test_accept_as_existing_user_logs_in_and_joins(client, owner, other_owner, invite):
    inv = invite(owner.account, owner.user, "owner@globex.test", role="supervisor")
    path = reverse("accounts:invitation_accept", kwargs={"token": inv.token})

    page = client.get(path).content.decode()
    assert "Log in and join" in page
    wrong = client.post(path, {"password": "wrong"})
    assert "Incorrect password." in wrong.content.decode()
    response = client.post(path, {"password": PASSWORD})
    assert response.status_code == 302
    membership = Membership.objects.get(account=owner.account, user=other_owner.user)
    assert membership.role == "supervisor"
    # The session now works in the account that invited them.
    assert client.session[tenancy.SESSION_KEY] == owner.account.pk


@pytest.mark.django_db
def test_accept_while_logged_in_joins_with_one_click(client_for, owner, other_owner, invite):
    inv = invite(owner.account, owner.user, "owner@globex.test")
    client = client_for(other_owner)
    path = reverse("accounts:invitation_accept", kwargs={"token": inv.token})
    assert "Join Acme" in client.get(path).content.decode()
    assert client.post(path).status_code == 302
    assert Membership.objects.filter(account=owner.account, user=other_owner.user, is_active=True).exists()


@pytest.mark.django_db
def test_accept_logged_in_as_someone_else_is_refused(client_for, owner, agent, invite):
    inv = invite(owner.account, owner.user, "stranger@example.test")
    client = client_for(agent)
    path = reverse("accounts:invitation_accept", kwargs={"token": inv.token})
    assert "but you are logged in as ana@acme.test" in client.get(path).content.decode()
    client.post(path)
    assert not User.objects.filter(email="stranger@example.test").exists()
    with pytest.raises(PermissionDenied):
        services.invitation_accept(token=inv.token, user=agent.user)


@pytest.mark.django_db
def test_expired_and_used_tokens_are_refused(client, owner, invite):
    expired = invite(owner.account, owner.user, "late@example.test")
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(reverse("accounts:invitation_accept", kwargs={"token": expired.token}))
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()
    with pytest.raises(ValidationError) as exc:
        services.invitation_accept(token=expired.token, name="Late", password="late-Pass-1234")
    assert exc.value.code == "expired"

    used = invite(owner.account, owner.user, "once@example.test")
    services.invitation_accept(token=used.token, name="Once", password="once-Pass-1234")
    with pytest.raises(ValidationError) as exc:
        services.invitation_accept(token=used.token, name="Twice", password="twice-Pass-1234")
    assert exc.value.code == "used"
    response = client.post(reverse("accounts:invitation_accept", kwargs={"token": used.token}), {"name": "X", "password": "y"})
    assert response.status_code == 410
    assert "already been used" in response.content.decode()

    assert client.get(reverse("accounts:invitation_accept", kwargs={"token": "nope"})).status_code == 404


@pytest.mark.django_db
def test_accept_new_user_when_email_has_account_requires_login(owner, agent, invite):
    inv = invite(owner.account, owner.user, "someone@example.test")
    factories.UserFactory(email="someone@example.test")
    with pytest.raises(ValidationError) as exc:
        services.invitation_accept(token=inv.token, name="Imposter", password="imposter-Pass-1")
    assert exc.value.code == "login_required"


@pytest.mark.django_db
def test_reinvite_replaces_old_token(owner, invite):
    first = invite(owner.account, owner.user, "twice@example.test")
    second = invite(owner.account, owner.user, "TWICE@example.test", role="admin")

    assert first.token != second.token
    assert list(Invitation.objects.filter(account=owner.account).values_list("token", "role")) == [(second.token, "admin")]
    with pytest.raises(NotFound):
        selectors.invitation_get_pending(token=first.token)
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_invite_refuses_existing_members_and_agents(owner, agent, admin_member, invite, client_for):
    with pytest.raises(ValidationError, match="already a member"):
        invite(owner.account, owner.user, "ANA@acme.test")
    with pytest.raises(PermissionDenied):
        invite(owner.account, agent.user, "new@example.test")
    with pytest.raises(PermissionDenied):
        invite(owner.account, admin_member.user, "boss@example.test", role="owner")
    # Pages: the agent sees the team but no invite form, and cannot post one.
    client = client_for(agent)
    page = client.get(reverse("accounts:team")).content.decode()
    assert "Invite a teammate" not in page
    assert client.post(reverse("accounts:team"), {"email": "x@example.test", "role": "agent"}).status_code == 403
    # The admin's form does not offer the owner role.
    page = client_for(admin_member).get(reverse("accounts:team")).content.decode()
    assert 'value="owner"' not in page.split('id="members-title"')[0]
    response = client_for(owner).post(reverse("accounts:team"), {"email": "ana@acme.test", "role": "agent"})
    assert response.status_code == 400
    assert "already a member" in response.content.decode()


@pytest.mark.django_db
def test_revoke_invitation(client_for, owner, invite):
    inv = invite(owner.account, owner.user, "bye@example.test")
    response = client_for(owner).post(reverse("accounts:invitation_revoke", kwargs={"invitation_id": inv.pk}))
    assert response.status_code == 302
    assert not Invitation.objects.filter(pk=inv.pk).exists()


@pytest.mark.django_db
def test_role_change_rules(owner, admin_member, supervisor, agent):
    # A plain agent cannot change roles.
    with pytest.raises(PermissionDenied):
        services.membership_change_role(actor=agent, membership=supervisor, role="agent")
    # An admin can promote an agent to supervisor, not to owner.
    services.membership_change_role(actor=admin_member, membership=agent, role="supervisor")
    agent.refresh_from_db()
    assert agent.role == "supervisor"
    with pytest.raises(PermissionDenied):
        services.membership_change_role(actor=admin_member, membership=agent, role="owner")
    # ... nor demote an owner.
    with pytest.raises(PermissionDenied):
        services.membership_change_role(actor=admin_member, membership=owner, role="agent")
    # The last owner cannot demote themselves.
    with pytest.raises(ValidationError, match="at least one owner"):
        services.membership_change_role(actor=owner, membership=owner, role="admin")
    # With a second owner it works.
    services.membership_change_role(actor=owner, membership=admin_member, role="owner")
    services.membership_change_role(actor=owner, membership=owner, role="admin")
    owner.refresh_from_db()
    assert owner.role == "admin"


@pytest.mark.django_db
def test_role_change_keeps_is_staff_in_sync(owner, agent):
    assert agent.user.is_staff is False
    services.membership_change_role(actor=owner, membership=agent, role="admin")
    agent.user.refresh_from_db()
    assert agent.user.is_staff is True
    services.membership_change_role(actor=owner, membership=agent, role="agent")
    agent.user.refresh_from_db()
    assert agent.user.is_staff is False


@pytest.mark.django_db
def test_role_change_other_account_is_not_found(owner, other_agent):
    with pytest.raises(NotFound):
        services.membership_change_role(actor=owner, membership=other_agent, role="admin")


@pytest.mark.django_db
def test_remove_rules(owner, admin_member, agent, agent2):
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=agent, membership=agent2)
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=admin_member, membership=owner)
    with pytest.raises(ValidationError, match="at least one owner"):
        services.membership_remove(actor=owner, membership=owner)

    services.membership_remove(actor=admin_member, membership=agent2)
    agent2.refresh_from_db()
    assert agent2.is_active is False
    assert agent2.availability == "offline"
    assert agent2 not in selectors.membership_list(account=owner.account)
    # Anyone may leave on their own.
    services.membership_remove(actor=agent, membership=agent)
    assert not Membership.objects.get(pk=agent.pk).is_active


@pytest.mark.django_db
def test_removed_member_can_be_invited_back(owner, agent, invite):
    services.membership_remove(actor=owner, membership=agent)
    inv = invite(owner.account, owner.user, "ana@acme.test", role="supervisor")
    membership = services.invitation_accept(token=inv.token, user=agent.user)
    assert membership.pk == agent.pk
    assert membership.is_active and membership.role == "supervisor"


@pytest.mark.django_db
def test_team_pages_role_capacity_remove(client_for, owner, admin_member, agent):
    client = client_for(admin_member)
    page = client.get(reverse("accounts:team"))
    assert page.status_code == 200
    body = page.content.decode()
    for text in ("Owner@acme.test".lower(), "ana@acme.test", "Capacity", "Online"):
        assert text in body

    response = client.post(reverse("accounts:member_role", kwargs={"membership_id": agent.pk}), {"role": "supervisor"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.role == "supervisor"

    response = client.post(reverse("accounts:member_capacity", kwargs={"membership_id": agent.pk}), {"capacity": "12"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.capacity == 12
    response = client.post(
        reverse("accounts:member_capacity", kwargs={"membership_id": agent.pk}), {"capacity": "500"}, follow=True
    )
    assert "between 0 and 100" in response.content.decode()

    # Admin trying to demote the owner: refused with a message, nothing changes.
    response = client.post(
        reverse("accounts:member_role", kwargs={"membership_id": owner.pk}), {"role": "agent"}, follow=True
    )
    assert "Only owners can" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == "owner"

    response = client.post(reverse("accounts:member_remove", kwargs={"membership_id": agent.pk}))
    assert response.status_code == 302
    assert not Membership.objects.get(pk=agent.pk).is_active


@pytest.mark.django_db
def test_plain_agent_cannot_change_roles_or_capacity(client_for, agent, agent2):
    client = client_for(agent)
    assert client.post(reverse("accounts:member_role", kwargs={"membership_id": agent2.pk}), {"role": "admin"}).status_code == 403
    assert client.post(reverse("accounts:member_capacity", kwargs={"membership_id": agent2.pk}), {"capacity": 1}).status_code == 403
    response = client.post(reverse("accounts:member_remove", kwargs={"membership_id": agent2.pk}), follow=True)
    assert "Only owners and admins" in response.content.decode()
    agent2.refresh_from_db()
    assert agent2.role == "agent" and agent2.capacity == 5 and agent2.is_active


@pytest.mark.django_db
def test_switch_account(client_for, owner, other_account):
    second = factories.MembershipFactory(account=other_account, user=owner.user, role="agent")
    third_account = factories.AccountFactory(name="Initech")
    client = client_for(owner)
    assert "Acme" in client.get(reverse("accounts:team")).content.decode()

    response = client.post(reverse("accounts:switch_account", kwargs={"account_id": other_account.pk}))
    assert response.status_code == 302
    page = client.get(reverse("accounts:team")).content.decode()
    assert 'id="account-switcher"' in page
    assert f"member-{second.pk}" in page
    assert client.get(reverse("accounts:sites")).status_code == 403  # agent there

    # An account the user does not belong to: 404, and nothing changes.
    response = client.post(reverse("accounts:switch_account", kwargs={"account_id": third_account.pk}))
    assert response.status_code == 404
    assert client.session[tenancy.SESSION_KEY] == other_account.pk
    assert client.post(reverse("accounts:switch_account", kwargs={"account_id": 999999})).status_code == 404
