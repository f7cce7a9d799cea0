from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        from conversations import facts

        from .services import fact_write

        facts.register(fact_write)
