"""Fill the demo shop with past conversations (for the reports page) and, optionally, a few live ones (for the desk)."""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, Message, Site, Visitor

PEOPLE = [
    ("Cleo Martin", "cleo.martin@example.com"), ("Noah Fischer", "noah.f@example.org"), ("Amara Okafor", "amara@example.net"),
    ("Lucas Moreau", ""), ("Yuki Tanaka", "yuki.tanaka@example.jp"), ("Sofia Rossi", "sofia.rossi@example.it"),
    ("", "jordan.lee@example.com"), ("Maya Patel", "maya.patel@example.com"), ("Elias Berg", "elias@example.se"),
    ("Léa Dubois", "lea.dubois@example.fr"), ("Omar Haddad", ""), ("Hannah Schmidt", "h.schmidt@example.de"),
    ("Diego Alvarez", "diego.alvarez@example.mx"), ("Priya Nair", "priya.nair@example.in"), ("", ""),
]
QUESTIONS = [
    ("How long does shipping take?", "Orders placed before 2 pm ship the same business day; standard delivery takes 3 to 5 business days."),
    ("Can I return shoes I wore once?", "Unworn items can be returned within 30 days of delivery."),
    ("Do you take PayPal?", "Yes, we accept PayPal, Apple Pay, Google Pay and the major cards."),
    ("Where is my order #4411?", "Once your order ships we email a tracking link; it is also under Orders in your account."),
    ("I was charged twice for one order", "I'm sorry about that. Let me get a member of our team to look at it."),
    ("Can I change the delivery address?", "An order's address can be changed until it is packed, usually within an hour."),
    ("My parcel arrived damaged", "Sorry to hear that! I'm connecting you with a person who can sort out a replacement."),
    ("Is express shipping available to Canada?", "We ship to 40 countries; international delivery takes 7 to 14 business days."),
]
AGENT_ANSWERS = [
    "Thanks for waiting! I've checked your order and sorted it out.",
    "I've refunded the duplicate charge; you'll see it within 5 business days.",
    "A replacement is on its way, no need to send the damaged one back.",
    "Done — I've updated the address on your order.",
]
LIVE = [
    ("Where is my order #5120? It's been a week.", "queue"),
    ("I need to talk to a person about a refund", "queue"),
    ("Do you ship to Norway?", "bot"),
    ("The discount code SPRING20 doesn't work", "agent"),
    ("Can I exchange a jacket for a larger size?", "agent"),
]


class Command(BaseCommand):
    help = "Create past conversations with realistic timings in the demo shop (and optionally some open ones)."

    def add_arguments(self, parser):
        parser.add_argument("--site", default="demo-shop", help="Key of the site to fill (default: demo-shop).")
        parser.add_argument("--days", type=int, default=14, help="How many past days to fill, today included.")
        parser.add_argument("--per-day", type=int, default=8, help="Average conversations per day.")
        parser.add_argument("--open", type=int, default=0, help="Also start this many open conversations now.")
        parser.add_argument("--seed", type=int, default=7, help="Random seed, for the same data every run.")

    @transaction.atomic
    def handle(self, *args, **options):
        site = Site.objects.filter(key=options["site"]).first()
        if site is None:
            raise CommandError(f"No site with key {options['site']!r}; run seed_demo first.")
        agent = get_user_model().objects.filter(agent_profile__sites=site).order_by("pk").first()
        if agent is None:
            raise CommandError("The site has no agent; run seed_demo first.")
        rng = random.Random(options["seed"])
        now = timezone.now()
        created = 0
        for days_ago in range(options["days"] - 1, -1, -1):
            day_start = (now - timedelta(days=days_ago)).replace(hour=8, minute=0, second=0, microsecond=0)
            for _ in range(max(0, round(rng.gauss(options["per_day"], options["per_day"] / 3)))):
                started = day_start + timedelta(minutes=rng.randint(0, 11 * 60))
                if started > now - timedelta(minutes=30):
                    continue
                self._past_conversation(site, agent, rng, started)
                created += 1
        for index in range(options["open"]):
            self._live_conversation(site, agent, rng, index, now)
        self.stdout.write(self.style.SUCCESS(
            f"Created {created} past and {options['open']} open conversations in {site.name}."))

    def _visitor(self, site, rng, started):
        name, email = rng.choice(PEOPLE)
        return Visitor.objects.create(
            site=site, name=name, email=email, first_seen=started - timedelta(days=rng.randint(0, 60)), last_seen=started,
            last_page_url=rng.choice(["https://shop.example/", "https://shop.example/orders", "https://shop.example/cart",
                                      "https://shop.example/products/trail-runner"]),
            user_agent=rng.choice([
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile/15E148 Safari/604.1",
            ]),
        )

    def _add(self, conversation, kind, body, at, *, agent=None, internal=False):
        conversation.last_seq += 1
        if not internal:
            conversation.last_public_seq = conversation.last_seq
        conversation.last_message_at = at
        return Message.objects.create(conversation=conversation, seq=conversation.last_seq, author_kind=kind,
                                      author_agent=agent, body=body, internal=internal, created_at=at, updated_at=at)

    def _past_conversation(self, site, agent, rng, started):
        visitor = self._visitor(site, rng, started)
        question, bot_answer = rng.choice(QUESTIONS)
        conversation = Conversation.objects.create(site=site, visitor=visitor, created_at=started, updated_at=started)
        self._add(conversation, Message.AuthorKind.CUSTOMER, question, started)
        at = started + timedelta(seconds=rng.randint(2, 6))
        self._add(conversation, Message.AuthorKind.BOT, bot_answer, at)
        if rng.random() < 0.55:  # the bot answered; the customer leaves happy
            conversation.owner = Conversation.Owner.BOT
            resolved_at = at + timedelta(minutes=rng.randint(1, 20))
        else:  # handed off: wait for a human, who answers and resolves
            queued_at = at + timedelta(seconds=rng.randint(5, 60))
            self._add(conversation, Message.AuthorKind.SYSTEM, "Connecting you with a member of our team.", queued_at)
            answered_at = queued_at + timedelta(seconds=int(rng.lognormvariate(5.2, 0.9)))
            self._add(conversation, Message.AuthorKind.AGENT, rng.choice(AGENT_ANSWERS), answered_at, agent=agent)
            conversation.owner = Conversation.Owner.AGENT
            conversation.assignee = agent
            conversation.queued_at = queued_at
            conversation.first_human_reply_at = answered_at
            resolved_at = answered_at + timedelta(minutes=rng.randint(2, 90))
        if rng.random() < 0.9:
            conversation.status = Conversation.Status.RESOLVED
            conversation.resolved_at = resolved_at
        conversation.updated_at = resolved_at if conversation.resolved_at else conversation.last_message_at
        conversation.customer_read_seq = conversation.agent_read_seq = conversation.last_seq
        conversation.save()

    def _live_conversation(self, site, agent, rng, index, now):
        question, owner = LIVE[index % len(LIVE)]
        started = now - timedelta(minutes=rng.randint(2, 40))
        visitor = self._visitor(site, rng, started)
        conversation = Conversation.objects.create(site=site, visitor=visitor, created_at=started, updated_at=started)
        self._add(conversation, Message.AuthorKind.CUSTOMER, question, started)
        at = started + timedelta(seconds=4)
        self._add(conversation, Message.AuthorKind.BOT, "Let me check that for you.", at)
        conversation.owner = owner
        if owner != Conversation.Owner.BOT:
            conversation.queued_at = at + timedelta(seconds=20)
            self._add(conversation, Message.AuthorKind.SYSTEM, "Connecting you with a member of our team.", conversation.queued_at)
        if owner == Conversation.Owner.AGENT:
            conversation.assignee = agent
            answered = conversation.queued_at + timedelta(minutes=1)
            self._add(conversation, Message.AuthorKind.AGENT, "Hi! I'm looking into it now.", answered, agent=agent)
            conversation.first_human_reply_at = answered
            at = answered + timedelta(minutes=1)
            self._add(conversation, Message.AuthorKind.CUSTOMER, "Thank you!", at)
        conversation.unread_by_agent = 1
        conversation.updated_at = at
        conversation.save()
