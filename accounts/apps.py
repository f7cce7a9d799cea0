from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and team")

    def ready(self) -> None:
        from accounts import signals  # noqa: F401 - connects the login/logout receivers
