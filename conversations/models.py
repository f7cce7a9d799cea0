from __future__ import annotations

import os

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AccountScopedModel


class Contact(AccountScopedModel):
    """A person on the customer side: site visitor, WhatsApp or SMS customer."""

    site = models.ForeignKey("accounts.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    user_id = models.CharField(_("external user id"), max_length=128, blank=True)
    email = models.EmailField(_("email"), blank=True)
    name = models.CharField(_("name"), max_length=160, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    document_number = models.CharField(_("document number"), max_length=32, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    locale = models.CharField(_("language"), max_length=8, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    visit_count = models.PositiveIntegerField(default=1)
    current_page_url = models.URLField(max_length=2000, blank=True)
    current_page_title = models.CharField(max_length=300, blank=True)
    is_online = models.BooleanField(default=False)
    token_version = models.PositiveIntegerField(default=1, help_text=_("Bump to revoke visitor tokens."))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "site", "user_id"], condition=~Q(user_id=""), name="contact_unique_user_id"
            )
        ]
        indexes = [
            models.Index(fields=["account", "email"], name="contact_email_idx"),
            models.Index(fields=["account", "phone"], name="contact_phone_idx"),
            models.Index(fields=["account", "document_number"], name="contact_document_idx"),
            models.Index(fields=["account", "-last_seen_at"], name="contact_seen_idx"),
            # Inbox search (``icontains`` is ``UPPER(col) LIKE UPPER(term)``): trigrams of the upper-cased fields.
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"), OpClass(Upper("email"), name="gin_trgm_ops"),
                OpClass(Upper("phone"), name="gin_trgm_ops"), OpClass(Upper("document_number"), name="gin_trgm_ops"),
                name="contact_search_trgm",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or f"Visitor #{self.pk}"


class PageView(AccountScopedModel):
    """The trail of pages a visitor opened."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="page_views")
    url = models.URLField(max_length=2000)
    title = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "contact", "-created_at"], name="pageview_contact_idx")]


class Conversation(AccountScopedModel):
    class Channel(models.TextChoices):
        WEB = "web", _("Website")
        WHATSAPP = "whatsapp", _("WhatsApp")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        BOT = "bot", _("With bot")
        QUEUED = "queued", _("Waiting")
        ASSIGNED = "assigned", _("Assigned")
        SNOOZED = "snoozed", _("Snoozed")
        CLOSED = "closed", _("Closed")

    class Priority(models.IntegerChoices):
        LOW = 0, _("Low")
        NORMAL = 1, _("Normal")
        HIGH = 2, _("High")
        URGENT = 3, _("Urgent")

    class LeadQuality(models.TextChoices):
        NONE = "", _("—")
        HOT = "hot", _("Hot")
        WARM = "warm", _("Warm")
        COLD = "cold", _("Cold")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPOINTMENT = "appointment_scheduled", _("Appointment scheduled")
        OFFER = "offer_made", _("Offer made")
        PURCHASED = "purchased", _("Purchased")
        NOT_INTERESTED = "not_interested", _("Not interested")
        ITEM_SOLD = "item_sold", _("Item sold")
        RESOLVED = "resolved", _("Resolved")

    class CloseReason(models.TextChoices):
        AGENT = "agent", _("Closed by an agent")
        IDLE = "idle", _("Closed after inactivity")
        CONTACT = "contact", _("Closed by the customer")
        SYSTEM = "system", _("Closed by the system")

    site = models.ForeignKey("accounts.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    assignee = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_conversations"
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    lead_quality = models.CharField(max_length=8, choices=LeadQuality.choices, blank=True, default="")
    outcome = models.CharField(max_length=32, choices=Outcome.choices, default=Outcome.PENDING)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    context = models.JSONField(default=dict, blank=True, help_text=_("Product card: title, url, image_url, price, ref."))
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # Timestamps reports need.
    queued_at = models.DateTimeField(null=True, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_contact_message_at = models.DateTimeField(null=True, blank=True)
    first_agent_response_at = models.DateTimeField(null=True, blank=True)
    last_contact_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # SLA: the oldest customer message still waiting for an agent reply.
    awaiting_reply_since = models.DateTimeField(null=True, blank=True)
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    # Counters
    unread_agent = models.PositiveIntegerField(default=0, help_text=_("Messages the agents have not read."))
    unread_contact = models.PositiveIntegerField(default=0, help_text=_("Messages the contact has not read."))
    message_count = models.PositiveIntegerField(default=0)
    last_message_preview = models.CharField(max_length=200, blank=True)
    transcript = models.FileField(upload_to="transcripts/%Y/%m/", blank=True)
    # The visitor's flood limit: their messages since ``flood_since``, the
    # start of the current window (kept on the row every send locks and
    # updates anyway; ``services.messages.flood_limit``).
    flood_since = models.DateTimeField(null=True, blank=True, editable=False)
    flood_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["account", "status", "-priority", "queued_at", "id"], name="conv_queue_idx"),
            models.Index(fields=["account", "assignee", "status", "-last_message_at", "-id"], name="conv_mine_idx"),
            models.Index(fields=["account", "-last_message_at", "-id"], name="conv_recent_idx"),
            models.Index(fields=["account", "contact", "-created_at"], name="conv_contact_idx"),
            models.Index(fields=["account", "campaign", "status"], name="conv_campaign_idx"),
            models.Index(fields=["account", "status", "-closed_at", "-id"], name="conv_closed_idx"),
            # Beat sweeps scan every tenant by time; small partial indexes
            # keep them cheap (docs/decisions.md).
            models.Index(
                fields=["awaiting_reply_since"], name="conv_sla_due_idx",
                condition=Q(awaiting_reply_since__isnull=False, sla_breached_at__isnull=True),
            ),
            models.Index(fields=["last_message_at"], name="conv_idle_idx", condition=~Q(status="closed")),
            models.Index(fields=["snoozed_until"], name="conv_snoozed_idx", condition=Q(status="snoozed")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


class Message(AccountScopedModel):
    class Sender(models.TextChoices):
        CONTACT = "contact", _("Contact")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        DOCUMENT = "document", _("Document")
        CARD = "card", _("Card")
        QUICK_REPLIES = "quick_replies", _("Quick replies")
        LOCATION = "location", _("Location")
        SYSTEM = "system", _("System")
        NOTE = "note", _("Private note")

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender_type = models.CharField(max_length=16, choices=Sender.choices)
    sender_membership = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    content = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENT)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    client_id = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"], condition=~Q(client_id=""), name="message_unique_client_id"
            )
        ]
        indexes = [
            models.Index(fields=["account", "conversation", "id"], name="message_conv_idx"),
            models.Index(fields=["account", "external_id"], name="message_external_idx", condition=~Q(external_id="")),
            GinIndex(OpClass(Upper("content"), name="gin_trgm_ops"), name="message_content_trgm"),  # inbox search
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sender_type}: {self.content[:40]}"

    @property
    def is_private(self) -> bool:
        return self.kind == self.Kind.NOTE


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.account_id}/{timezone.now():%Y/%m}/{os.path.basename(filename)}"


class Attachment(AccountScopedModel):
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    thumbnail = models.ImageField(upload_to="attachments/thumbs/", blank=True)
    uploaded_by_contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    uploaded_by_membership = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["account", "message"], name="attachment_message_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class CannedResponse(AccountScopedModel):
    """A saved reply, expanded in the composer by typing ``/shortcut``."""

    shortcut = models.SlugField(max_length=40)
    content = models.TextField()
    owner = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.CASCADE, related_name="canned_responses",
        help_text=_("Empty: shared with the whole team."),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "owner", "shortcut"], name="canned_unique_shortcut"),
            models.UniqueConstraint(
                fields=["account", "shortcut"], condition=Q(owner__isnull=True), name="canned_unique_shared_shortcut"
            ),
        ]
        ordering = ["shortcut"]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


class AssignmentLog(AccountScopedModel):
    """Every assignment and reassignment: who, by whom, why."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="assignment_logs")
    assignee = models.ForeignKey("accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    previous_assignee = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_by = models.ForeignKey(
        "accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("Empty: the system."),
    )
    reason = models.CharField(max_length=300)

    class Meta:
        indexes = [models.Index(fields=["account", "conversation", "-created_at"], name="assignlog_conv_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reason


class Notification(AccountScopedModel):
    """An in-app notification row for one member (SLA alerts, mentions…)."""

    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="notifications")
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    text = models.CharField(max_length=300)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "membership", "read_at"], name="notification_member_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text
