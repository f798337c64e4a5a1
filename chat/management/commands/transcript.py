"""Print a conversation's transcript, as the customer sees it, as text or JSON, with its rating and labels."""

import json

from django.core.management.base import BaseCommand, CommandError

from chat.models import Conversation, Message


class Command(BaseCommand):
    help = (
        "Print a conversation's transcript (customer-visible messages in seq order), then its rating and labels; "
        "--json for tools and tests."
    )

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
        labels = sorted(conversation.labels.values_list("name", flat=True))
        rating = (
            None
            if conversation.rating is None
            else {
                "score": conversation.rating,
                "comment": conversation.rating_comment,
                "rated_at": conversation.rated_at.isoformat() if conversation.rated_at else None,
            }
        )
        if options["json"]:
            header = {
                "id": conversation.pk,
                "status": conversation.status,
                "owner": conversation.owner,
                "visitor": conversation.visitor_id,
                "rating": rating,
                "labels": labels,
            }
            self.stdout.write(json.dumps({"conversation": header, "messages": rows}, ensure_ascii=False))
            return
        for row in rows:
            status = "" if row["status"] == Message.Status.COMPLETE else f" [{row['status']}]"
            self.stdout.write(f"{row['seq']:>4} {row['author']:<8}{status} {row['body']}")
        # After the messages, and only when there is one, so the lines above read as before.
        if rating is not None:
            comment = f": {rating['comment']}" if rating["comment"] else ""
            self.stdout.write(f"rated {rating['score']}/5{comment}")
        if labels:
            self.stdout.write("labels: " + ", ".join(labels))

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
