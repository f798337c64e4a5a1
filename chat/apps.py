from django.apps import AppConfig


class ChatConfig(AppConfig):
    """The Parley chat app."""

    name = "chat"
    verbose_name = "Parley"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.services import knowledge

        knowledge.connect_signals()
