"""Forms: input shape and clear messages only; rules live in the services."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import WEEKDAYS, Membership, Site

WEEKDAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
_INTERVAL_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})$")
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def _language_choices(blank_label=None):
    choices = [(code, name) for code, name in settings.LANGUAGES]
    if blank_label:
        choices.insert(0, ("", blank_label))
    return choices


class SignupForm(forms.Form):
    company_name = forms.CharField(
        label=_("Company name"), max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "organization", "placeholder": _("Acme Inc.")}),
    )
    name = forms.CharField(
        label=_("Your name"), max_length=120,
        widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": _("Jane Doe")}),
    )
    email = forms.EmailField(
        label=_("Work email"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": _("jane@acme.com")}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False,
        help_text=_("At least 8 characters."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    site_domain = forms.CharField(
        label=_("Website domain"), max_length=253,
        help_text=_("Where you will add the chat widget. You can add more sites later."),
        widget=forms.TextInput(attrs={"placeholder": "acme.com", "autocapitalize": "none", "spellcheck": "false"}),
    )


    def clean_email(self):
        from accounts.selectors import user_exists

        email = self.cleaned_data["email"].strip().lower()
        if user_exists(email=email):
            raise forms.ValidationError(
                _("An account with this email already exists. Log in to create another company.")
            )
        return email

    def clean_site_domain(self):
        return _clean_domain(self.cleaned_data["site_domain"])


def _clean_domain(value: str) -> str:
    from accounts.services import normalize_domain
    from core.exceptions import ValidationError as DomainError

    try:
        return normalize_domain(value)
    except DomainError as exc:
        raise forms.ValidationError(exc.message) from None


class CompanyForm(forms.Form):
    """Signup for someone already logged in: a new company for the same user."""

    company_name = SignupForm.base_fields["company_name"]
    site_domain = SignupForm.base_fields["site_domain"]

    def clean_site_domain(self):
        return _clean_domain(self.cleaned_data["site_domain"])


class LoginForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class InvitationLoginForm(forms.Form):
    password = forms.CharField(
        label=_("Password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


class InvitationSignupForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"), max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True})
    )
    password = forms.CharField(
        label=_("Choose a password"), strip=False, help_text=_("At least 8 characters."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"placeholder": _("teammate@company.com")})
    )
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices, initial=Membership.Role.AGENT)

    def __init__(self, *args, actor: Membership | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if actor is not None and actor.role != Membership.Role.OWNER:
            self.fields["role"].choices = [c for c in Membership.Role.choices if c[0] != Membership.Role.OWNER]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class CapacityForm(forms.Form):
    capacity = forms.IntegerField(
        label=_("Capacity"), min_value=0, max_value=100,
        error_messages={
            "min_value": _("Capacity must be between 0 and 100."),
            "max_value": _("Capacity must be between 0 and 100."),
        },
    )


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    language = forms.ChoiceField(label=_("Language"), required=False)
    avatar = forms.ImageField(
        label=_("Avatar"), required=False, help_text=_("PNG, JPEG or WebP, up to 2 MB."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    clear_avatar = forms.BooleanField(label=_("Remove the current avatar"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = _language_choices(_("Browser default"))

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if avatar and avatar.size > 2 * 1024 * 1024:
            raise forms.ValidationError(_("The image is larger than 2 MB."))
        return avatar


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=_language_choices)
    next = forms.CharField(required=False)


def parse_intervals(text: str) -> list[list[str]]:
    """``"09:00-13:00, 15:00-19:00"`` → ``[["09:00", "13:00"], ["15:00", "19:00"]]``."""
    intervals = []
    for part in re.split(r"[,;]", text or ""):
        part = part.strip()
        if not part:
            continue
        match = _INTERVAL_RE.match(part)
        if not match:
            raise forms.ValidationError(
                _("“%(part)s” is not a time range. Use 09:00-17:00, separated by commas."), params={"part": part}
            )
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2 == 0:
            h2, m2 = 23, 59
        if not (0 <= h1 <= 23 and 0 <= h2 <= 23 and 0 <= m1 <= 59 and 0 <= m2 <= 59):
            raise forms.ValidationError(_("“%(part)s” is not a valid time."), params={"part": part})
        start, end = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
        if start >= end:
            raise forms.ValidationError(_("“%(part)s” ends before it starts."), params={"part": part})
        intervals.append([start, end])
    intervals.sort()
    for (_s1, e1), (s2, _e2) in zip(intervals, intervals[1:], strict=False):
        if s2 < e1:
            raise forms.ValidationError(_("Time ranges overlap."))
    return intervals


def format_intervals(intervals) -> str:
    return ", ".join(f"{start}-{end}" for start, end in intervals or [])


class SiteForm(forms.ModelForm):
    """The site settings page. Business hours are one text field per weekday."""

    allowed_domains_text = forms.CharField(
        label=_("Allowed domains"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "placeholder": "acme.com\n*.acme.com"}),
        help_text=_("One per line. The widget only loads on these hosts; *.acme.com covers every subdomain."),
    )
    holidays_text = forms.CharField(
        label=_("Holidays"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2025-12-25\n2026-01-01"}),
        help_text=_("Dates when you are closed all day, one per line (YYYY-MM-DD)."),
    )
    timezone = forms.ChoiceField(label=_("Time zone"))

    class Meta:
        model = Site
        fields = [
            "name", "team_name", "greeting", "offline_message", "reply_time_text", "locale",
            "color_primary", "color_text", "logo", "timezone", "require_identity", "default_campaign",
        ]
        labels = {
            "name": _("Site name"),
            "team_name": _("Team name"),
            "greeting": _("Greeting"),
            "offline_message": _("Offline message"),
            "reply_time_text": _("Typical reply time"),
            "locale": _("Widget language"),
            "color_primary": _("Primary colour"),
            "color_text": _("Text colour on primary"),
            "logo": _("Logo"),
            "require_identity": _("Require identity verification"),
            "default_campaign": _("Default campaign"),
        }
        help_texts = {
            "team_name": _("Shown in the widget header, e.g. “Acme Support”."),
            "greeting": _("The first thing visitors read when they open the chat."),
            "offline_message": _("Shown outside business hours or when nobody is online."),
            "reply_time_text": _("e.g. “Usually replies in a few minutes”."),
            "require_identity": _(
                "Visitors who claim a user_id must send a matching user_hash (HMAC-SHA256 of the user_id with the "
                "identity secret)."
            ),
        }
        widgets = {
            "color_primary": forms.TextInput(attrs={"type": "color"}),
            "color_text": forms.TextInput(attrs={"type": "color"}),
            "greeting": forms.Textarea(attrs={"rows": 2}),
            "offline_message": forms.Textarea(attrs={"rows": 2}),
            "logo": forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/svg+xml"}),
        }

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["timezone"].choices = [(tz, tz) for tz in sorted(available_timezones())]
        self.fields["locale"] = forms.ChoiceField(
            label=_("Widget language"), required=False,
            choices=_language_choices(_("Visitor's browser language")),
        )
        campaign_field = self.fields["default_campaign"]
        campaign_field.queryset = campaign_field.queryset.filter(account=account)
        campaign_field.empty_label = _("None")
        campaign_field.help_text = _("New conversations from this site go to this campaign's agents.")
        if not campaign_field.queryset.exists():
            del self.fields["default_campaign"]
        self.weekday_fields = []
        hours = self.instance.business_hours or {}
        for day in WEEKDAYS:
            name = f"hours_{day}"
            self.fields[name] = forms.CharField(
                label=WEEKDAY_LABELS[day], required=False,
                widget=forms.TextInput(attrs={"placeholder": _("Closed"), "spellcheck": "false"}),
            )
            self.initial.setdefault(name, format_intervals(hours.get(day)))
            self.weekday_fields.append(name)
        self.initial.setdefault("allowed_domains_text", "\n".join(self.instance.allowed_domains or []))
        self.initial.setdefault("holidays_text", "\n".join(d.isoformat() for d in self.instance.holidays or []))

    def weekday_bound_fields(self):
        return [self[name] for name in self.weekday_fields]

    def clean_color_primary(self):
        return self._clean_color("color_primary")

    def clean_color_text(self):
        return self._clean_color("color_text")

    def _clean_color(self, name):
        value = (self.cleaned_data.get(name) or "").strip()
        if not _COLOR_RE.match(value):
            raise forms.ValidationError(_("Use a hex colour like #4F46E5."))
        return value.upper()

    def clean_allowed_domains_text(self):
        text = self.cleaned_data.get("allowed_domains_text") or ""
        return [line.strip() for line in re.split(r"[\s,]+", text) if line.strip()]

    def clean_holidays_text(self):
        days = []
        for token in re.split(r"[\s,]+", self.cleaned_data.get("holidays_text") or ""):
            if not token:
                continue
            try:
                day = date.fromisoformat(token)
            except ValueError:
                raise forms.ValidationError(_("“%(value)s” is not a date (YYYY-MM-DD)."), params={"value": token})
            if day not in days:
                days.append(day)
        return sorted(days)

    def clean(self):
        cleaned = super().clean()
        hours = {}
        for day in WEEKDAYS:
            name = f"hours_{day}"
            try:
                intervals = parse_intervals(cleaned.get(name, ""))
            except forms.ValidationError as exc:
                self.add_error(name, exc)
                continue
            if intervals:
                hours[day] = intervals
        cleaned["business_hours"] = hours
        return cleaned

    def service_data(self) -> dict:
        """The cleaned values as keyword arguments of ``site_create``/``site_update``."""
        data = {
            name: self.cleaned_data[name]
            for name in self._meta.fields
            if name in self.cleaned_data and name != "logo"
        }
        if self.cleaned_data.get("logo"):
            data["logo"] = self.cleaned_data["logo"]
        elif self.cleaned_data.get("logo") is False:  # "clear" ticked
            data["logo"] = ""
        data["allowed_domains"] = self.cleaned_data["allowed_domains_text"]
        data["holidays"] = self.cleaned_data["holidays_text"]
        data["business_hours"] = self.cleaned_data["business_hours"]
        return data
