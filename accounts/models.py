from __future__ import annotations

import secrets
from datetime import datetime, time
from zoneinfo import ZoneInfo, available_timezones

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AccountScopedModel, TimestampedModel

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _new_app_id() -> str:
    return secrets.token_urlsafe(12)


def _new_secret() -> str:
    return secrets.token_hex(32)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


class Account(TimestampedModel):
    class Plan(models.TextChoices):
        FREE = "free", _("Free")
        TEAM = "team", _("Team")
        BUSINESS = "business", _("Business")

    class OfflineReassign(models.TextChoices):
        REQUEUE = "requeue", _("Return to the queue")
        KEEP = "keep", _("Keep with the agent")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    locale = models.CharField(_("language"), max_length=8, default="en")
    plan = models.CharField(_("plan"), max_length=16, choices=Plan.choices, default=Plan.FREE)
    # Routing, SLA and closing defaults (campaigns may override).
    sla_unanswered_minutes = models.PositiveIntegerField(_("unanswered SLA (minutes)"), default=30)
    sla_business_hours_only = models.BooleanField(_("SLA clock only in business hours"), default=False)
    auto_close_hours = models.PositiveIntegerField(_("auto-close after idle hours"), default=24)
    offline_reassign = models.CharField(
        _("when an agent goes offline"), max_length=16, choices=OfflineReassign.choices,
        default=OfflineReassign.REQUEUE,
    )
    offline_grace_seconds = models.PositiveIntegerField(_("offline grace (seconds)"), default=120)
    reassign_unreplied_minutes = models.PositiveIntegerField(
        _("reassign when the assignee has not replied (minutes, 0 = never)"), default=0
    )
    prefer_last_agent = models.BooleanField(_("prefer the agent who last served the contact"), default=True)
    closing_message = models.TextField(
        _("closing message"), blank=True,
        default="",
        help_text=_("Sent to the customer when a conversation closes. Empty uses the default text."),
    )
    whatsapp_closing_template_sid = models.CharField(
        _("WhatsApp closing template (ContentSid)"), max_length=64, blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.timezone not in available_timezones():
            raise ValidationError({"timezone": _("Unknown time zone.")})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, username: str) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who works in one or more accounts. Logs in with email."""

    email = models.EmailField(_("email"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, choices=[("en", "English"), ("es", "Español")])
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def initials(self) -> str:
        parts = self.display_name.split()
        return "".join(p[0] for p in parts[:2]).upper() or "?"


class Membership(TimestampedModel):
    """A user's seat in an account: role, capacity and availability."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Admin")
        SUPERVISOR = "supervisor", _("Supervisor")
        AGENT = "agent", _("Agent")

    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    #: owner ⊃ admin ⊃ supervisor ⊃ agent (ARCHITECTURE §5).
    ROLE_RANK = {Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3, Role.OWNER: 4}

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=5, help_text=_("Most open conversations at once."))
    availability = models.CharField(
        _("availability"), max_length=8, choices=Availability.choices, default=Availability.OFFLINE
    )
    availability_changed_at = models.DateTimeField(null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="membership_unique_user")]
        indexes = [models.Index(fields=["account", "availability"], name="membership_avail_idx")]
        ordering = ["account", "user__name"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account} ({self.role})"

    def has_role(self, min_role: str) -> bool:
        return self.ROLE_RANK[self.role] >= self.ROLE_RANK[min_role]

    @property
    def is_supervisor(self) -> bool:
        return self.has_role(self.Role.SUPERVISOR)

    @property
    def is_admin(self) -> bool:
        return self.has_role(self.Role.ADMIN)


def validate_business_hours(value: dict) -> None:
    """``{"mon": [["09:00", "13:00"], ["15:00", "19:00"]], ...}``."""
    if not isinstance(value, dict):
        raise ValidationError(_("Business hours must map weekdays to intervals."))
    for day, intervals in value.items():
        if day not in WEEKDAYS:
            raise ValidationError(_("Unknown weekday: %(day)s"), params={"day": day})
        if not isinstance(intervals, list):
            raise ValidationError(_("Intervals of %(day)s must be a list."), params={"day": day})
        previous_end = None
        for interval in intervals:
            try:
                start, end = (time.fromisoformat(v) for v in interval)
            except (TypeError, ValueError):
                raise ValidationError(_("Bad interval on %(day)s: use [\"HH:MM\", \"HH:MM\"]."), params={"day": day}) from None
            if start >= end:
                raise ValidationError(_("An interval on %(day)s ends before it starts."), params={"day": day})
            if previous_end and start < previous_end:
                raise ValidationError(_("Intervals on %(day)s overlap or are out of order."), params={"day": day})
            previous_end = end


class Site(AccountScopedModel):
    """A website (or channel entry point) where the widget runs."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(_("name"), max_length=120)
    app_id = models.CharField(_("app id"), max_length=32, unique=True, default=_new_app_id)
    allowed_domains = ArrayField(
        models.CharField(max_length=253), default=list, blank=True,
        help_text=_("Host names allowed to embed the widget (e.g. shop.example.com, *.example.com)."),
    )
    identity_secret = models.CharField(_("identity secret"), max_length=64, default=_new_secret)
    require_identity = models.BooleanField(_("require identity verification"), default=False)
    # Widget look
    color_primary = models.CharField(_("primary colour"), max_length=7, default="#4F46E5")
    color_text = models.CharField(_("text colour on primary"), max_length=7, default="#FFFFFF")
    logo = models.ImageField(_("logo"), upload_to="logos/", blank=True)
    team_name = models.CharField(_("team name"), max_length=80, blank=True)
    greeting = models.CharField(_("greeting"), max_length=280, blank=True, default="")
    offline_message = models.CharField(_("offline message"), max_length=280, blank=True, default="")
    reply_time_text = models.CharField(_("typical reply time"), max_length=60, blank=True, default="")
    locale = models.CharField(_("widget language"), max_length=8, default="", blank=True)
    # Business hours
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    business_hours = models.JSONField(_("business hours"), default=dict, blank=True, validators=[validate_business_hours])
    holidays = ArrayField(models.DateField(), default=list, blank=True)
    default_campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["account", "name"], name="site_account_idx")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.timezone not in available_timezones():
            raise ValidationError({"timezone": _("Unknown time zone.")})
        if self.default_campaign_id and self.default_campaign.account_id != self.account_id:
            raise ValidationError({"default_campaign": _("That campaign belongs to another account.")})

    def is_open_at(self, when: datetime) -> bool:
        """Whether ``when`` falls in business hours. No hours set means always open."""
        if not self.business_hours:
            return True
        local = when.astimezone(ZoneInfo(self.timezone))
        if local.date() in set(self.holidays or []):
            return False
        for start, end in self.business_hours.get(WEEKDAYS[local.weekday()], []):
            if time.fromisoformat(start) <= local.time() < time.fromisoformat(end):
                return True
        return False

    def allows_origin_host(self, host: str) -> bool:
        host = (host or "").lower().split(":")[0]
        for domain in self.allowed_domains:
            domain = domain.lower().strip()
            if domain.startswith("*."):
                if host.endswith(domain[1:]) or host == domain[2:]:
                    return True
            elif host == domain:
                return True
        return False


class Invitation(AccountScopedModel):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("email"))
    role = models.CharField(_("role"), max_length=16, choices=Membership.Role.choices, default=Membership.Role.AGENT)
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["account", "email"], name="invitation_email_idx")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.account}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class AgentSession(AccountScopedModel):
    """One login of a user in one account: written at login, closed at logout,
    expiry or a switch to another account (which starts the next row)."""

    class EndReason(models.TextChoices):
        LOGOUT = "logout", _("Logout")
        EXPIRED = "expired", _("Expired")
        SWITCHED = "switched", _("Switched account")

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="agent_sessions")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agent_sessions")
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "user", "started_at"], name="agentsession_idx")]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.started_at:%Y-%m-%d %H:%M}"
