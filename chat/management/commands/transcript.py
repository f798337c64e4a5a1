"""Print a conversation's transcript, as the customer sees it, as text or JSON."""

import json

from django.core.management.base import BaseCommand, CommandError

from chat.models import Conversation, Message


class Command(BaseCommand):
    help = "Print a conversation's transcript (customer-visible messages in seq order); --json for tools and tests."

    def add_arguments(self, parser):
        parser.add_argument("conversation", type=int, nargs="?", help="The conversation id.")
        parser.add_argument("--latest", action="store_true", help="Use the most recently created conversation.")
        parser.add_argument("--notes", action="store_true", help="Include agents' private notes.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        conversation = self._conversation(options["conversation"], options["latest"])
        messages = Message.objects.filter(conversation=conversation).order_by("seq")
        if not options["notes"]:
            messages = messages.filter(internal=False)
        rows = [
            {"seq": m.seq, "author": m.author_kind, "status": m.status, "body": m.body, "internal": m.internal}
            for m in messages
        ]
        if options["json"]:
            header = {
                "id": conversation.pk,
                "status": conversation.status,
                "owner": conversation.owner,
                "visitor": conversation.visitor_id,
            }
            self.stdout.write(json.dumps({"conversation": header, "messages": rows}, ensure_ascii=False))
            return
        for row in rows:
            status = "" if row["status"] == Message.Status.COMPLETE else f" [{row['status']}]"
            self.stdout.write(f"{row['seq']:>4} {row['author']:<8}{status} {row['body']}")

    def _conversation(self, conversation_id, latest) -> Conversation:
        if latest:
            conversation = Conversation.objects.order_by("-created_at", "-pk").first()
        elif conversation_id is not None:
            conversation = Conversation.objects.filter(pk=conversation_id).first()
        else:
            raise CommandError("Name a conversation id, or pass --latest.")
        if conversation is None:
            raise CommandError("No such conversation.")
        return conversation
