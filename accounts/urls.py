from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    # Authentication
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/done/", views.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("switch-account/<int:account_id>/", views.switch_account, name="switch_account"),
    path("language/", views.language_switch, name="language"),
    # Settings
    path("settings/team/", views.team, name="team"),
    path("settings/team/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("settings/team/<int:membership_id>/capacity/", views.member_capacity, name="member_capacity"),
    path("settings/team/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("settings/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("settings/profile/", views.profile, name="profile"),
    path("settings/sites/", views.sites, name="sites"),
    path("settings/sites/new/", views.site_new, name="site_new"),
    path("settings/sites/<int:site_id>/", views.site_edit, name="site_edit"),
    path("settings/sites/<int:site_id>/rotate-secret/", views.site_rotate_secret, name="site_rotate_secret"),
]
