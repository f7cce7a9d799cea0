"""factory_boy factories. Every tenant-owned factory takes the account."""

import factory

from django.utils import timezone

from accounts.models import Account, Invitation, Membership, Site, User
from campaigns.models import Campaign
from conversations.models import CannedResponse, Contact, Conversation, Message

PASSWORD = "correct-horse-42"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    slug = factory.Sequence(lambda n: f"company-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Sequence(lambda n: f"User {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    account = factory.SubFactory(AccountFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.AGENT
    availability = Membership.Availability.ONLINE


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    allowed_domains = factory.LazyFunction(lambda: ["localhost", "127.0.0.1", "shop.example.test"])


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    account = factory.SubFactory(AccountFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=7))


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    account = factory.SubFactory(AccountFactory)
    site = factory.SubFactory(SiteFactory, account=factory.SelfAttribute("..account"))
    name = factory.Sequence(lambda n: f"Visitor {n}")
    email = factory.Sequence(lambda n: f"visitor{n}@example.test")


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    account = factory.SubFactory(AccountFactory)
    contact = factory.SubFactory(ContactFactory, account=factory.SelfAttribute("..account"))
    site = factory.SelfAttribute("contact.site")
    status = Conversation.Status.QUEUED
    queued_at = factory.LazyFunction(timezone.now)
    last_message_at = factory.LazyFunction(timezone.now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    account = factory.SubFactory(AccountFactory)
    conversation = factory.SubFactory(ConversationFactory, account=factory.SelfAttribute("..account"))
    sender_type = Message.Sender.CONTACT
    content = factory.Sequence(lambda n: f"Message {n}")


class CannedResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CannedResponse

    account = factory.SubFactory(AccountFactory)
    shortcut = factory.Sequence(lambda n: f"reply{n}")
    content = "Thanks for writing to us!"
