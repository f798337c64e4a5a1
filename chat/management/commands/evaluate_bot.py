"""Print how the offline bot does on an evaluation set: top-1 right, confidently wrong, not answered, per language."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from chat.ai.evaluation import evaluate, load, table
from chat.management.commands.seed_demo import ARTICLES

SETS = Path(settings.BASE_DIR) / "tests" / "chat" / "bot_eval"


class Command(BaseCommand):
    help = "Score the offline bot on an evaluation set (dev or heldout) against the demo knowledge base."

    def add_arguments(self, parser):
        parser.add_argument(
            "sets",
            nargs="*",
            default=["dev", "heldout"],
            help="Set names under tests/chat/bot_eval/ (default: dev heldout).",
        )
        parser.add_argument("--mistakes", action="store_true", help="Also list every reply that was not right.")

    def handle(self, *args, **options):
        for name in options["sets"]:
            path = SETS / f"{name}.json"
            if not path.exists():
                self.stderr.write(f"no evaluation set {path}")
                continue
            tallies = evaluate(load(path), ARTICLES)
            self.stdout.write(f"\n{name} ({path.name})\n\n{table(tallies)}\n")
            if options["mistakes"]:
                for language, tally in sorted(tallies.items()):
                    for line in tally.mistakes:
                        self.stdout.write(f"  [{language}] {line}")
