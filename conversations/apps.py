from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"

    def ready(self) -> None:
        # A member's role change or removal reaches their open sockets.
        from .services.members import connect_signals

        connect_signals()
