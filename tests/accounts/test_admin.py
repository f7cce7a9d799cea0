"""The Django admin is scoped per tenant for owners and admins."""

import pytest

from django.contrib import admin as django_admin
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, Site
from campaigns.models import Campaign
from conversations import models as conv_models
from tests import factories
from tests.factories import PASSWORD


@pytest.fixture
def tenant_admin(owner):
    owner.user.is_staff = True  # the services grant it; fixtures build rows directly
    owner.user.save(update_fields=["is_staff"])
    client = Client()
    assert client.login(email=owner.user.email, password=PASSWORD)
    return client


def _changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _change(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_every_model_is_registered():
    for model in (
        "accounts.Account", "accounts.User", "accounts.Membership", "accounts.Site", "accounts.Invitation",
        "accounts.AgentSession", "campaigns.Campaign", "conversations.Contact", "conversations.PageView",
        "conversations.Conversation", "conversations.Message", "conversations.Attachment",
        "conversations.CannedResponse", "conversations.AssignmentLog", "conversations.Notification",
    ):
        app_label, name = model.split(".")
        from django.apps import apps

        assert django_admin.site.is_registered(apps.get_model(app_label, name)), model


@pytest.mark.django_db
def test_tenant_admin_sees_only_own_sites_and_conversations(tenant_admin, site, other_site, conversation, other_conversation):
    page = tenant_admin.get(_changelist(Site))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Acme shop" in body
    assert "Globex shop" not in body

    page = tenant_admin.get(_changelist(conv_models.Conversation))
    assert page.status_code == 200
    body = page.content.decode()
    assert _change(conversation) in body
    assert _change(other_conversation) not in body


@pytest.mark.django_db
def test_tenant_admin_cannot_open_another_tenants_rows(tenant_admin, other_site, other_conversation, other_owner):
    for obj in (other_site, other_conversation, other_owner.account, other_owner, other_owner.user):
        response = tenant_admin.get(_change(obj))
        # The admin answers a row outside the queryset with a redirect to the index ("doesn't exist").
        assert response.status_code in (302, 404), obj
        if response.status_code == 302:
            assert response["Location"] == reverse("admin:index")
        assert tenant_admin.post(_change(obj), {"name": "pwned"}).status_code in (302, 403, 404)
    other_site.refresh_from_db()
    assert other_site.name == "Globex shop"


@pytest.mark.django_db
def test_admin_index_lists_tenant_models_only(tenant_admin):
    body = tenant_admin.get(reverse("admin:index")).content.decode()
    assert "/admin/accounts/site/" in body
    assert "/admin/conversations/conversation/" in body
    assert "/admin/auth/group/" not in body  # not a tenant model


def _site_form(site, **overrides):
    data = {
        "account": site.account_id,
        "name": site.name,
        "allowed_domains": ",".join(site.allowed_domains),
        "default_campaign": "",
        "color_primary": site.color_primary,
        "color_text": site.color_text,
        "team_name": "",
        "greeting": "",
        "offline_message": "",
        "reply_time_text": "",
        "locale": "",
        "timezone": "UTC",
        "business_hours": "{}",
        "holidays": "",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_tenant_admin_can_edit_own_site(tenant_admin, site):
    response = tenant_admin.post(_change(site), _site_form(site, name="Renamed shop"))
    assert response.status_code == 302, response.content.decode()[:2000]
    site.refresh_from_db()
    assert site.name == "Renamed shop"


@pytest.mark.django_db
def test_site_pointing_at_another_accounts_campaign_is_refused(tenant_admin, site, other_account):
    foreign = factories.CampaignFactory(account=other_account)
    response = tenant_admin.post(_change(site), _site_form(site, default_campaign=foreign.pk))
    assert response.status_code == 200
    assert "errornote" in response.content.decode()
    site.refresh_from_db()
    assert site.default_campaign_id is None


@pytest.mark.django_db
def test_superuser_also_cannot_link_two_tenants(site, other_account):
    root = factories.UserFactory(email="root@charla.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    foreign = factories.CampaignFactory(account=other_account)
    response = client.post(_change(site), _site_form(site, default_campaign=foreign.pk))
    assert response.status_code == 200
    assert "belongs to another account" in response.content.decode()
    # Superusers see every tenant.
    body = client.get(_changelist(Site)).content.decode()
    assert "Acme shop" in body


@pytest.mark.django_db
def test_membership_in_another_account_is_refused(tenant_admin, owner, agent, other_account):
    response = tenant_admin.post(
        reverse("admin:accounts_membership_add"),
        {"account": other_account.pk, "user": agent.user.pk, "role": "agent", "capacity": 5,
         "availability": "offline", "is_active": "on"},
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(account=other_account).exists()
    # Choices offered: only their own account.
    page = tenant_admin.get(reverse("admin:accounts_membership_add")).content.decode()
    assert "Globex" not in page


@pytest.mark.django_db
def test_campaign_agents_limited_to_account(tenant_admin, account, agent, other_agent):
    campaign = factories.CampaignFactory(account=account, name="Sales")
    page = tenant_admin.get(_change(campaign)).content.decode()
    assert "ana@acme.test" in page or "Ana" in page
    assert "agent@globex.test" not in page
    response = tenant_admin.post(
        _change(campaign), {"account": account.pk, "name": "Sales", "active": "on", "agents": [agent.pk, other_agent.pk],
                            "closing_message": ""}
    )
    assert response.status_code == 200
    assert not Campaign.objects.get(pk=campaign.pk).agents.exists()


@pytest.mark.django_db
def test_admin_role_rules_hold_in_admin(account, owner, admin_member, agent):
    admin_member.user.is_staff = True
    admin_member.user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(admin_member.user)
    response = client.post(
        _change(agent), {"account": account.pk, "user": agent.user.pk, "role": "owner", "capacity": 5, "is_active": "on",
                         "availability": "online"}
    )
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.role == "agent"


@pytest.mark.django_db
def test_tenant_admin_user_admin_hides_superuser_flags(tenant_admin, agent, other_agent, other_account):
    factories.MembershipFactory(account=other_account, user=agent.user, role="admin")
    body = tenant_admin.get(_changelist(type(agent.user))).content.decode()
    assert "ana@acme.test" in body
    assert "agent@globex.test" not in body
    page = tenant_admin.get(_change(agent.user)).content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="is_staff"' not in page
    assert "Globex" not in page  # the user's seat in another tenant stays hidden
    response = tenant_admin.post(
        _change(agent.user),
        {
            "name": "Ana B", "language": "es", "is_superuser": "on", "is_staff": "on",
            # The memberships inline (only this tenant's seat is shown).
            "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": agent.pk, "memberships-0-user": agent.user.pk,
            "memberships-0-capacity": "5", "memberships-0-is_active": "on",
        },
    )
    assert response.status_code == 302
    agent.user.refresh_from_db()
    assert agent.user.name == "Ana B"
    assert agent.user.is_superuser is False and agent.user.is_staff is False


@pytest.mark.django_db
def test_agents_cannot_use_admin(client_for, agent):
    response = client_for(agent).get(_changelist(Site))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_a_role_change_in_the_admin_reaches_open_sockets(account, owner, agent, capture_events):
    """Edits made here announce themselves as the team services do, so the
    member's open agent sockets re-read what they may see."""
    owner.user.is_staff = True
    owner.user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(owner.user)
    with capture_events() as events:
        response = client.post(
            _change(agent), {"account": account.pk, "user": agent.user.pk, "role": "supervisor", "capacity": 5,
                             "is_active": "on", "availability": "online"}
        )
    assert response.status_code == 302
    assert [e["groups"] for e in events.named("member.access_changed")] == [[f"member.{agent.pk}"]]


@pytest.mark.django_db
def test_campaign_agents_edited_in_the_admin_reach_open_sockets(tenant_admin, account, agent, agent2, capture_events):
    campaign = factories.CampaignFactory(account=account, name="Sales")
    campaign.agents.add(agent)
    with capture_events() as events:
        response = tenant_admin.post(
            _change(campaign), {"account": account.pk, "name": "Sales", "active": "on", "agents": [agent2.pk],
                                "closing_message": ""}
        )
    assert response.status_code == 302
    assert [e["groups"] for e in events.named("member.access_changed")] == [[f"member.{agent.pk}", f"member.{agent2.pk}"]]
