from django.apps import AppConfig


class ChatConfig(AppConfig):
    """The Parley chat app."""

    name = "chat"
    verbose_name = "Parley"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat.realtime import effects
        from chat.services import assignment, attachments, knowledge, revocation

        attachments.connect_signals()
        knowledge.connect_signals()
        revocation.connect_signals()
        effects.register_filler(assignment.assignment_fill)
