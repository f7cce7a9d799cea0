"""Seed the demo tenant that `make run` shows: idempotent, run it any number of times.

Creates (or brings back to the documented state) the account "Demo" with an
owner, a supervisor, two online agents and an admin who is also the Django
superuser, the site "Demo Motors" (app id ``demo``) with business hours, the
campaign "Sales" and three shared canned responses. Every login's password is
``demo12345``.

Campaigns and canned responses belong to apps above ``accounts`` in the layer
contract, so they are reached through the app registry, not imported.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Membership, Site, User
from accounts.services import user_sync_staff

PASSWORD = "demo12345"
ACCOUNT = {"slug": "demo", "name": "Demo", "timezone": "Europe/Madrid", "locale": "en"}

#: email, name, role; the admin is also the superuser for /admin/.
PEOPLE = [
    ("owner@demo.test", "Olivia Owner", Membership.Role.OWNER),
    ("supervisor@demo.test", "Sofía Supervisor", Membership.Role.SUPERVISOR),
    ("agent1@demo.test", "Ana Agent", Membership.Role.AGENT),
    ("agent2@demo.test", "Bruno Agent", Membership.Role.AGENT),
    ("admin@demo.test", "Adam Admin", Membership.Role.ADMIN),
]
SUPERUSER_EMAIL = "admin@demo.test"

SITE = {
    "name": "Demo Motors",
    "allowed_domains": ["localhost", "127.0.0.1"],
    "team_name": "Demo Motors sales team",
    "greeting": "Hi! 👋 Questions about a car? We usually answer in a few minutes.",
    "offline_message": "We're away right now. Leave a message and we'll email you back.",
    "reply_time_text": "Typically replies in a few minutes",
    "timezone": "Europe/Madrid",
    "business_hours": {
        "mon": [["09:00", "18:00"]],
        "tue": [["09:00", "18:00"]],
        "wed": [["09:00", "18:00"]],
        "thu": [["09:00", "18:00"]],
        "fri": [["09:00", "18:00"]],
        "sat": [["10:00", "14:00"]],
    },
}

CANNED_RESPONSES = {
    "hello": "Hi! Thanks for reaching out to Demo Motors. How can I help you today?",
    "thanks": "Thank you for chatting with us! Is there anything else I can help you with?",
    "hours": "We're open Monday to Friday 09:00–18:00 and Saturday 10:00–14:00 (Madrid time).",
}

#: Printed by the command and by `make run`.
LOGINS = [(email, name, role.label) for email, name, role in PEOPLE]


class Command(BaseCommand):
    help = "Create or refresh the demo tenant (account 'demo', its team, site, campaign, canned replies)."

    @transaction.atomic
    def handle(self, *args, **options):
        account, _ = Account.objects.update_or_create(slug=ACCOUNT["slug"], defaults=ACCOUNT)

        memberships: dict[str, Membership] = {}
        for email, name, role in PEOPLE:
            user = self._user(email, name, superuser=email == SUPERUSER_EMAIL)
            memberships[email] = self._membership(account, user, role)
            user_sync_staff(user=user)

        Campaign = apps.get_model("campaigns", "Campaign")  # noqa: N806
        campaign, _ = Campaign.objects.get_or_create(account=account, name="Sales", defaults={"active": True})
        campaign.agents.add(*(m for m in memberships.values() if m.role == Membership.Role.AGENT))

        site, _ = Site.objects.update_or_create(app_id="demo", defaults={"account": account, **SITE})
        site.full_clean()

        CannedResponse = apps.get_model("conversations", "CannedResponse")  # noqa: N806
        for shortcut, content in CANNED_RESPONSES.items():
            CannedResponse.objects.update_or_create(
                account=account, owner=None, shortcut=shortcut, defaults={"content": content}
            )

        self.stdout.write(
            self.style.SUCCESS(f"Demo tenant ready: account '{account.slug}', site app id '{site.app_id}'.")
        )
        for email, name, role in LOGINS:
            self.stdout.write(f"  {email:<22} {PASSWORD}   {name} ({role})")

    def _membership(self, account: Account, user: User, role: str) -> Membership:
        wanted = {"role": role, "capacity": 5, "is_active": True}
        if role == Membership.Role.AGENT:
            wanted["availability"] = Membership.Availability.ONLINE
        membership, created = Membership.objects.get_or_create(
            account=account, user=user, defaults={**wanted, "availability_changed_at": timezone.now()}
        )
        changed = [field for field, value in wanted.items() if getattr(membership, field) != value]
        if not created and changed:
            for field in changed:
                setattr(membership, field, wanted[field])
            if "availability" in changed:
                membership.availability_changed_at = timezone.now()
                changed.append("availability_changed_at")
            membership.save(update_fields=[*changed, "updated_at"])
        return membership

    def _user(self, email: str, name: str, *, superuser: bool) -> User:
        user, created = User.objects.get_or_create(
            email=email, defaults={"name": name, "is_staff": superuser, "is_superuser": superuser}
        )
        update = []
        if user.name != name:
            user.name = name
            update.append("name")
        if superuser and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            update += ["is_staff", "is_superuser"]
        if not user.is_active:
            user.is_active = True
            update.append("is_active")
        if created or not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            update.append("password")
        if update:
            user.save(update_fields=update)
        return user
