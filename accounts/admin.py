"""Django admin, scoped per tenant.

Superusers see everything. Owners and admins of an account get
``is_staff`` from the services and, through :class:`TenantAdminMixin`, see and
edit only rows of the accounts where they are owner/admin: querysets, every
foreign-key and many-to-many choice, and a form check that refuses a row that
points at another account's object (also for superusers, so no row ever links
two tenants).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts import signals as account_signals
from accounts.models import Account, AgentSession, Invitation, Membership, Site, User
from accounts.services import user_sync_staff

ADMIN_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def tenant_account_ids(request) -> set[int] | None:
    """Accounts whose rows the admin user may see; ``None`` means all (superuser)."""
    user = request.user
    if user.is_superuser:
        return None
    cached = getattr(request, "_tenant_admin_account_ids", None)
    if cached is None:
        cached = set(
            Membership.objects.filter(user=user, is_active=True, role__in=ADMIN_ROLES).values_list("account_id", flat=True)
        ) if user.is_active and user.is_staff else set()
        request._tenant_admin_account_ids = cached
    return cached


def _is_tenant_model(model) -> bool:
    return model is not Account and any(f.name == "account" and f.is_relation for f in model._meta.fields)


def _scope(queryset, model, ids: set[int] | None):
    """Limit a queryset of ``model`` to the accounts in ``ids``."""
    if ids is None:
        return queryset
    if model is Account:
        return queryset.filter(pk__in=ids)
    if model is User:
        return queryset.filter(memberships__account_id__in=ids, memberships__is_active=True).distinct()
    if _is_tenant_model(model):
        return queryset.filter(account_id__in=ids)
    return queryset


class TenantModelForm(forms.ModelForm):
    """Refuses a row whose related objects belong to another account."""

    tenant_request = None  # set per request by TenantAdminMixin.get_form / get_formset

    def _row_account_id(self, cleaned):
        if "account" in cleaned and isinstance(cleaned.get("account"), Account):
            return cleaned["account"].pk
        return getattr(self.instance, "account_id", None)

    def clean(self):
        cleaned = super().clean()
        model = self._meta.model
        if model is Account:
            return cleaned
        account_id = self._row_account_id(cleaned)
        ids = tenant_account_ids(self.tenant_request) if self.tenant_request is not None else None
        if ids is not None and account_id is not None and account_id not in ids:
            self.add_error("account" if "account" in self.fields else None, _("You can only manage your own accounts."))
            return cleaned
        if account_id is None:
            return cleaned
        for name, value in list(cleaned.items()):
            values = list(value) if isinstance(value, (models.QuerySet, list, tuple)) else [value]
            for obj in values:
                if isinstance(obj, models.Model) and not isinstance(obj, Account):
                    other = getattr(obj, "account_id", account_id)
                    if other != account_id:
                        self.add_error(name, _("“%(obj)s” belongs to another account.") % {"obj": obj})
                        break
        return cleaned


class TenantAdminMixin:
    """Scope a ModelAdmin or inline to the request user's accounts (see module doc)."""

    form = TenantModelForm
    #: Tenant admins may add rows of this model.
    tenant_can_add = True
    #: Tenant admins may delete rows of this model.
    tenant_can_delete = True

    # --- permissions --------------------------------------------------------
    def _tenant_ids(self, request):
        return tenant_account_ids(request)

    def _is_tenant_admin(self, request) -> bool:
        return not request.user.is_superuser and bool(self._tenant_ids(request))

    def _obj_account_id(self, obj):
        if obj is None:
            return None
        if isinstance(obj, Account):
            return obj.pk
        return getattr(obj, "account_id", None)

    def _owns(self, request, obj) -> bool:
        if obj is None:
            return True
        if isinstance(obj, User):
            return _scope(User.objects.filter(pk=obj.pk), User, self._tenant_ids(request)).exists()
        return self._obj_account_id(obj) in self._tenant_ids(request)

    def has_module_permission(self, request):
        return self._is_tenant_admin(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        if self._is_tenant_admin(request):
            return self._owns(request, obj)
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if self._is_tenant_admin(request):
            return self._owns(request, obj)
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request, *args):
        if self._is_tenant_admin(request):
            return self.tenant_can_add
        return super().has_add_permission(request, *args)

    def has_delete_permission(self, request, obj=None):
        if self._is_tenant_admin(request):
            return self.tenant_can_delete and self._owns(request, obj)
        return super().has_delete_permission(request, obj)

    # --- rows and choices ---------------------------------------------------
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return _scope(qs, qs.model, self._tenant_ids(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = _scope(field.queryset, db_field.related_model, self._tenant_ids(request))
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = _scope(field.queryset, db_field.related_model, self._tenant_ids(request))
        return field

    # modelform_factory builds a new class per call, so the request can ride on it.
    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.tenant_request = request
        return form

    def get_formset(self, request, obj=None, **kwargs):  # inlines
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.tenant_request = request
        return formset

    def save_model(self, request, obj, form, change):
        ids = self._tenant_ids(request)
        if ids is not None and self._obj_account_id(obj) not in ids and not isinstance(obj, User):
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class TenantInline(TenantAdminMixin):
    """Inlines get the same scoping; their parent's account applies to them."""

    extra = 0
    show_change_link = True


# --- accounts ---------------------------------------------------------------------


class MembershipAdminForm(TenantModelForm):
    """Team rules from the services also hold in the admin."""

    def clean(self):
        cleaned = super().clean()
        request = self.tenant_request
        role = cleaned.get("role")
        account = cleaned.get("account") or getattr(self.instance, "account", None)
        if request is None or request.user.is_superuser or account is None or role is None:
            return self._check_last_owner(cleaned, role)
        old_role = self.instance.role if self.instance.pk else None
        actor = Membership.objects.filter(account=account, user=request.user, is_active=True).first()
        touches_owner = Membership.Role.OWNER in (role, old_role)
        if touches_owner and (actor is None or actor.role != Membership.Role.OWNER):
            self.add_error("role", _("Only owners can make someone an owner or change an owner's role."))
        return self._check_last_owner(cleaned, role)

    def _check_last_owner(self, cleaned, role):
        inst = self.instance
        if inst.pk and inst.role == Membership.Role.OWNER and inst.is_active:
            demoted = (role and role != Membership.Role.OWNER) or cleaned.get("is_active") is False
            others = Membership.objects.filter(
                account_id=inst.account_id, role=Membership.Role.OWNER, is_active=True
            ).exclude(pk=inst.pk)
            if demoted and not others.exists():
                self.add_error(None, _("The team needs at least one owner. Make someone else an owner first."))
        return cleaned


class MembershipInline(TenantInline, admin.TabularInline):
    model = Membership
    form = MembershipAdminForm
    fields = ("user", "role", "capacity", "availability", "is_active")
    raw_id_fields = ("user",)
    readonly_fields = ("availability",)


class SiteInline(TenantInline, admin.TabularInline):
    model = Site
    fields = ("name", "app_id", "allowed_domains", "require_identity")
    readonly_fields = ("app_id",)


@admin.register(Account)
class AccountAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "plan", "timezone", "member_count", "created_at")
    list_filter = ("plan", "locale")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline, SiteInline]
    tenant_can_add = False
    tenant_can_delete = False
    fieldsets = (
        (None, {"fields": ("name", "slug", "plan", "timezone", "locale")}),
        (_lazy("Routing and SLA"), {"fields": (
            "sla_unanswered_minutes", "sla_business_hours_only", "offline_reassign", "offline_grace_seconds",
            "reassign_unreplied_minutes", "prefer_last_agent",
        )}),
        (_lazy("Closing"), {"fields": ("auto_close_hours", "closing_message", "whatsapp_closing_template_sid")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _members=models.Count("memberships", filter=models.Q(memberships__is_active=True))
        )

    @admin.display(description=_lazy("members"), ordering="_members")
    def member_count(self, obj):
        return obj._members

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("slug", "plan")

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        if formset.model is Membership:
            for membership in [*formset.new_objects, *(obj for obj, _ in formset.changed_objects), *formset.deleted_objects]:
                user_sync_staff(user=membership.user)
            for membership, changed in formset.changed_objects:
                _announce_access_change(membership, changed)

    def get_prepopulated_fields(self, request, obj=None):
        return self.prepopulated_fields if request.user.is_superuser else {}


def _announce_access_change(membership: Membership, changed: list[str]) -> None:
    """What the team services announce, for edits made here: a role change or
    a removal reaches the member's open sockets (they re-read what they may see)."""
    if "is_active" in changed and not membership.is_active:
        account_signals.membership_removed.send(sender=Membership, membership=membership)
    elif "role" in changed:
        account_signals.membership_changed.send(sender=Membership, membership=membership, fields=["role"])


@admin.register(Membership)
class MembershipAdmin(TenantAdminMixin, admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ("user", "account", "role", "availability", "capacity", "is_active", "last_assigned_at")
    list_filter = ("role", "availability", "is_active")
    search_fields = ("user__email", "user__name", "account__name")
    list_select_related = ("user", "account")
    raw_id_fields = ("user",)
    autocomplete_fields = ("account",)
    readonly_fields = ("availability_changed_at", "last_assigned_at", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        user_sync_staff(user=obj.user)
        if change:
            _announce_access_change(obj, form.changed_data)

    def delete_model(self, request, obj):
        user = obj.user
        super().delete_model(request, obj)
        user_sync_staff(user=user)


@admin.register(Site)
class SiteAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "account", "app_id", "domains", "require_identity", "timezone")
    list_filter = ("require_identity", "timezone")
    search_fields = ("name", "app_id", "account__name")
    list_select_related = ("account",)
    autocomplete_fields = ("account",)
    readonly_fields = ("app_id", "identity_secret", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("account", "name", "app_id", "allowed_domains", "default_campaign")}),
        (_lazy("Widget"), {"fields": (
            "color_primary", "color_text", "logo", "team_name", "greeting", "offline_message", "reply_time_text",
            "locale",
        )}),
        (_lazy("Business hours"), {"fields": ("timezone", "business_hours", "holidays")}),
        (_lazy("Identity verification"), {"fields": ("require_identity", "identity_secret")}),
    )

    @admin.display(description=_lazy("allowed domains"))
    def domains(self, obj):
        return ", ".join(obj.allowed_domains)


@admin.register(Invitation)
class InvitationAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("email", "account", "role", "invited_by", "created_at", "expires_at", "accepted_at")
    list_filter = ("role",)
    search_fields = ("email", "account__name")
    list_select_related = ("account", "invited_by")
    autocomplete_fields = ("account",)
    raw_id_fields = ("invited_by", "accepted_by")
    readonly_fields = ("token", "accepted_at", "accepted_by")


@admin.register(AgentSession)
class AgentSessionAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("user", "account", "started_at", "ended_at", "end_reason", "ip")
    list_filter = ("end_reason",)
    search_fields = ("user__email", "ip", "account__name")
    list_select_related = ("user", "account")
    date_hierarchy = "started_at"
    tenant_can_add = False
    tenant_can_delete = False

    def has_add_permission(self, request, *args):
        return False  # written by the login/logout signals only

    def has_change_permission(self, request, obj=None):
        return False  # a record: view only


class TenantMembershipOfUserInline(TenantInline, admin.TabularInline):
    model = Membership
    fk_name = "user"
    fields = ("account", "role", "capacity", "is_active")
    readonly_fields = ("account", "role")
    can_delete = False
    show_change_link = True
    tenant_can_add = False

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserCreationForm(auth_forms.BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


@admin.register(User)
class UserAdmin(TenantAdminMixin, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = ("email", "name", "language", "is_active", "is_staff", "is_superuser", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "language")
    search_fields = ("email", "name")
    readonly_fields = ("last_login", "date_joined")
    inlines = [TenantMembershipOfUserInline]
    tenant_can_add = False
    tenant_can_delete = False
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_lazy("Profile"), {"fields": ("name", "language", "avatar")}),
        (_lazy("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_lazy("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser or obj is None:
            return super().get_fieldsets(request, obj)
        # Tenant admins edit the profile only: no password, flags or permissions
        # (the same person may work for other accounts).
        return ((None, {"fields": ("email",)}), (_lazy("Profile"), {"fields": ("name", "language", "avatar")}),
                (_lazy("Dates"), {"fields": ("last_login", "date_joined")}))

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return self.readonly_fields
        return (*self.readonly_fields, "email")

