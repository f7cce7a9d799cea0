"""Campaign services and the settings page."""

from __future__ import annotations

import pytest

from campaigns import services
from campaigns.models import Campaign
from core.exceptions import PermissionDenied, ValidationError
from tests import factories


def test_campaign_create_update_and_unique_name(account, admin_member):
    campaign = services.campaign_create(account=account, actor=admin_member, name="  Ventas  ", sla_unanswered_minutes=10)
    assert campaign.name == "Ventas" and campaign.sla_unanswered_minutes == 10 and campaign.auto_close_hours is None
    with pytest.raises(ValidationError) as exc:
        services.campaign_create(account=account, name="Ventas")
    assert exc.value.field == "name"
    services.campaign_update(campaign=campaign, actor=admin_member, active=False, closing_message="¡Adiós!")
    campaign.refresh_from_db()
    assert campaign.active is False and campaign.closing_message == "¡Adiós!"
    with pytest.raises(ValidationError):
        services.campaign_update(campaign=campaign, sla_unanswered_minutes=-1)


def test_same_name_allowed_in_another_account(account, other_account):
    services.campaign_create(account=account, name="Ventas")
    services.campaign_create(account=other_account, name="Ventas")
    assert Campaign.objects.filter(name="Ventas").count() == 2


def test_only_admins_manage_campaigns(account, agent, supervisor):
    with pytest.raises(PermissionDenied):
        services.campaign_create(account=account, actor=supervisor, name="X")
    campaign = factories.CampaignFactory(account=account)
    with pytest.raises(PermissionDenied):
        services.campaign_set_agents(campaign=campaign, membership_ids=[agent.pk], actor=agent)


def test_campaign_agents_must_belong_to_the_account(account, agent, agent2, other_agent):
    campaign = factories.CampaignFactory(account=account)
    services.campaign_set_agents(campaign=campaign, membership_ids=[agent.pk, agent2.pk])
    assert set(campaign.agents.values_list("pk", flat=True)) == {agent.pk, agent2.pk}
    with pytest.raises(ValidationError):
        services.campaign_set_agents(campaign=campaign, membership_ids=[agent.pk, other_agent.pk])
    assert set(campaign.agents.values_list("pk", flat=True)) == {agent.pk, agent2.pk}
    services.campaign_set_agents(campaign=campaign, membership_ids=[agent2.pk])
    assert list(campaign.agents.values_list("pk", flat=True)) == [agent2.pk]


def test_settings_page_is_admin_only(client_for, admin_member, supervisor):
    assert client_for(admin_member).get("/settings/campaigns/").status_code == 200
    assert client_for(supervisor).get("/settings/campaigns/").status_code == 403


def test_settings_page_creates_and_edits_a_campaign(account, admin_member, agent, agent2, client_for):
    client = client_for(admin_member)
    page = client.get("/settings/campaigns/new/")
    assert page.status_code == 200 and agent.user.display_name in page.content.decode()
    response = client.post(
        "/settings/campaigns/new/",
        {"name": "Cobranzas", "active": "on", "sla_unanswered_minutes": "15", "auto_close_hours": "",
         "closing_message": "Gracias", "agents": [agent.pk]},
    )
    campaign = Campaign.objects.get(account=account, name="Cobranzas")
    assert response.status_code == 302 and response["Location"] == f"/settings/campaigns/{campaign.pk}/"
    assert campaign.sla_unanswered_minutes == 15 and campaign.auto_close_hours is None
    assert list(campaign.agents.all()) == [agent]

    response = client.post(
        f"/settings/campaigns/{campaign.pk}/",
        {"name": "Cobranzas", "sla_unanswered_minutes": "", "auto_close_hours": "48", "agents": [agent2.pk]},
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.active is False and campaign.sla_unanswered_minutes is None and campaign.auto_close_hours == 48
    assert list(campaign.agents.all()) == [agent2]
    listing = client.get("/settings/campaigns/").content.decode()
    assert "Cobranzas" in listing


def test_settings_page_rejects_duplicates_and_foreign_ids(account, admin_member, other_agent, other_account, client_for):
    factories.CampaignFactory(account=account, name="Ventas")
    foreign = factories.CampaignFactory(account=other_account, name="Ajena")
    client = client_for(admin_member)
    response = client.post("/settings/campaigns/new/", {"name": "Ventas"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    response = client.post("/settings/campaigns/new/", {"name": "Nueva", "agents": [other_agent.pk]})
    assert response.status_code == 400
    assert not Campaign.objects.filter(name="Nueva").exists()
    assert client.get(f"/settings/campaigns/{foreign.pk}/").status_code == 404
