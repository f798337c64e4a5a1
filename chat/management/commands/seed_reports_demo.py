"""Fill the demo shop with past conversations (for the reports page: the bot's outcomes and feedback, customers'
ratings and agents' labels included) and, optionally, a few live ones (for the desk)."""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chat.ai.retrieval import contains_cjk
from chat.management.commands.seed_demo import labels_ensure
from chat.models import Conversation, KnowledgeArticle, Label, Message, Site, Visitor

PEOPLE = [
    ("Cleo Martin", "cleo.martin@example.com"),
    ("Noah Fischer", "noah.f@example.org"),
    ("Amara Okafor", "amara@example.net"),
    ("Lucas Moreau", ""),
    ("Yuki Tanaka", "yuki.tanaka@example.jp"),
    ("Sofia Rossi", "sofia.rossi@example.it"),
    ("", "jordan.lee@example.com"),
    ("Maya Patel", "maya.patel@example.com"),
    ("Elias Berg", "elias@example.se"),
    ("Léa Dubois", "lea.dubois@example.fr"),
    ("Omar Haddad", ""),
    ("Hannah Schmidt", "h.schmidt@example.de"),
    ("Diego Alvarez", "diego.alvarez@example.mx"),
    ("Priya Nair", "priya.nair@example.in"),
    ("", ""),
]
# Questions the bot answers from an article (question, answer, article title).
ANSWERABLE = [
    (
        "How long does shipping take?",
        "Orders placed before 2 pm ship the same business day; standard delivery takes 3 to 5 business days.",
        "Shipping times",
    ),
    ("Can I return shoes I wore once?", "Unworn items can be returned within 30 days of delivery.", "Returns policy"),
    ("Do you take PayPal?", "Yes, we accept PayPal, Apple Pay, Google Pay and the major cards.", "Payment methods"),
    (
        "Where is my order #4411?",
        "Once your order ships we email a tracking link; it is also under Orders in your account.",
        "Tracking your order",
    ),
    (
        "Can I change the delivery address?",
        "An order's address can be changed until it is packed, usually within an hour.",
        "Cancelling or changing an order",
    ),
    (
        "Is express shipping available to Canada?",
        "We ship to 40 countries; international delivery takes 7 to 14 business days.",
        "International shipping",
    ),
    (
        "I forgot my password",
        "Click Sign in, then Forgot password: we email you a link that works for one hour.",
        "Resetting your password",
    ),
    ("多久能到货？", "下午两点前下单当天发货，标准配送需要3到5个工作日。", "配送时间"),
    ("可以用PayPal付款吗？", "可以，我们支持PayPal、Apple Pay、Google Pay和主流信用卡。", "付款方式"),
]
# Vague questions the bot answers with a choice of topics first (question, options); the customer picks the first
# option, whose answer follows.
VAGUE = [
    (
        "shipping?",
        ["Shipping costs", "Shipping times"],
        "Standard shipping is free on orders over $50; below that it costs $4.95.",
    ),
    (
        "refund",
        ["Refunds", "Returns policy"],
        "Refunds go back to your original payment method within 5 business days of the parcel reaching us.",
    ),
]
# Questions the knowledge base has no article for: a few phrasings of each, in English and Chinese, weighted so
# that some come back often (as the reports page's unanswered list should show).
UNANSWERED = [
    (
        6,
        [
            "What are your opening hours?",
            "opening hours?",
            "When are you open?",
            "What are your opening hours",
            "你们几点开门？",
            "营业时间是几点？",
        ],
    ),
    (
        4,
        [
            "do you have a store in Berlin",
            "Do you have a store in Berlin?",
            "Is there a shop in Berlin?",
            "Berlin store?",
            "柏林有门店吗？",
        ],
    ),
    (
        4,
        [
            "my discount code is not working",
            "My discount code isn't working",
            "discount code not working",
            "The discount code SPRING20 doesn't work",
            "优惠码不能用",
        ],
    ),
    (1, ["Can I pay in instalments?"]),
    (1, ["Do you offer gift wrapping?"]),
    (1, ["Are your shoes vegan?"]),
]
# Questions the bot hands over at once (question, the bot's reply).
HANDOFF = [
    ("I was charged twice for one order", "I'm sorry about that. Let me get a member of our team to look at it."),
    (
        "My parcel arrived damaged",
        "Sorry to hear that! I'm connecting you with a person who can sort out a replacement.",
    ),
]
NO_ANSWER = {
    "en": "Sorry, I couldn't find an answer to that. You can rephrase it, or talk to a person.",
    "zh-hans": "抱歉，我没有找到答案。您可以换个说法，或者转人工。",
}
HANDING_OFF = {
    "en": "I'll connect you with a member of our team.",
    "zh-hans": "我为您转接人工客服。",
}
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

# Labels agents would put on a conversation, by what the customer first wrote (lower-cased substrings).
LABEL_HINTS = [
    ("refund", ("refund", "charged twice", "退")),
    ("billing", ("charged", "paypal", "pay ", "instalments", "付款")),
    ("shipping", ("shipping", "deliver", "parcel", "order #", "canada", "norway", "到货", "配送")),
    ("bug", ("discount code", "password", "doesn't work", "not working", "优惠码")),
]
# How likely a resolved conversation is rated, and how, out of 1..5: people who got a quick human answer are
# mostly happy, a slow one less so, and a bot answer they gave a 👎 mostly not.
RATED = {"human": 0.6, "bot": 0.3}
SCORE_WEIGHTS = {
    "quick": [2, 3, 8, 30, 57],
    "slow": [8, 12, 20, 35, 25],
    "bot": [3, 5, 12, 35, 45],
    "thumbs_down": [30, 30, 22, 13, 5],
}
QUICK_ANSWER = timedelta(minutes=5)
COMMENTS = {
    1: ["Nobody answered my actual question.", "Took forever and the problem is still there."],
    2: ["Slow, and I had to explain everything twice.", "The answer didn't match my order."],
    3: ["Fine, but it took a while.", "OK in the end."],
    4: ["Helpful, thanks!", "Sorted quickly."],
    5: ["Super quick and friendly, thank you!", "Perfect, problem solved in minutes.", "Great service 👏"],
}


class Command(BaseCommand):
    help = (
        "Create past conversations with realistic timings and bot outcomes in the demo shop "
        "(and optionally some open ones)."
    )

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
        # Ratings and labels draw from their own generator, so a seed gives the same conversations as before.
        self.support_rng = random.Random(f"{options['seed']}-support")
        labels_ensure(site)
        self.labels = {label.name: label for label in Label.objects.filter(site=site)}
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
        self.stdout.write(
            self.style.SUCCESS(f"Created {created} past and {options['open']} open conversations in {site.name}.")
        )

    def _visitor(self, site, rng, started):
        name, email = rng.choice(PEOPLE)
        return Visitor.objects.create(
            site=site,
            name=name,
            email=email,
            first_seen=started - timedelta(days=rng.randint(0, 60)),
            last_seen=started,
            last_page_url=rng.choice(
                [
                    "https://shop.example/",
                    "https://shop.example/orders",
                    "https://shop.example/cart",
                    "https://shop.example/products/trail-runner",
                ]
            ),
            user_agent=rng.choice(
                [
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile/15E148 Safari/604.1",
                ]
            ),
        )

    def _add(self, conversation, kind, body, at, *, agent=None, internal=False, **fields):
        conversation.last_seq += 1
        if not internal:
            conversation.last_public_seq = conversation.last_seq
        conversation.last_message_at = at
        return Message.objects.create(
            conversation=conversation,
            seq=conversation.last_seq,
            author_kind=kind,
            author_agent=agent,
            body=body,
            internal=internal,
            created_at=at,
            updated_at=at,
            **fields,
        )

    def _source(self, site, title):
        article = KnowledgeArticle.objects.filter(site=site, title=title).first()
        if article is None:
            return []
        url = reverse("help-article", kwargs={"site_key": site.key, "article_id": article.pk})
        return [{"id": article.pk, "title": article.title, "url": url}]

    def _bot(self, conversation, trigger, body, at, *, outcome, language, feedback=None, **meta):
        return self._add(
            conversation,
            Message.AuthorKind.BOT,
            body,
            at,
            trigger=trigger,
            outcome=outcome,
            feedback=feedback,
            meta={"language": language, **meta},
        )

    def _past_conversation(self, site, agent, rng, started):
        visitor = self._visitor(site, rng, started)
        conversation = Conversation.objects.create(site=site, visitor=visitor, created_at=started, updated_at=started)
        roll = rng.random()
        if roll < 0.55:
            at, handoff = self._bot_answers(conversation, rng, started)
        elif roll < 0.8:
            at, handoff = self._bot_misses(conversation, rng, started)
        else:
            question, reply = rng.choice(HANDOFF)
            asked = self._add(conversation, Message.AuthorKind.CUSTOMER, question, started)
            at = started + timedelta(seconds=rng.randint(2, 6))
            self._bot(conversation, asked, reply, at, outcome=Message.Outcome.HANDOFF, language="en", handoff=True)
            handoff = "bot"
        if handoff:
            resolved_at = self._human_answers(conversation, agent, rng, at, by=handoff)
        else:  # the bot answered; the customer leaves
            conversation.owner = Conversation.Owner.BOT
            resolved_at = at + timedelta(minutes=rng.randint(1, 20))
        if rng.random() < 0.9:
            conversation.status = Conversation.Status.RESOLVED
            conversation.resolved_at = resolved_at
        conversation.updated_at = resolved_at if conversation.resolved_at else conversation.last_message_at
        conversation.customer_read_seq = conversation.agent_read_seq = conversation.last_seq
        self._rate(conversation)
        conversation.save()
        self._label(conversation)

    def _first_question(self, conversation) -> str:
        first = conversation.messages.filter(author_kind=Message.AuthorKind.CUSTOMER).order_by("seq").first()
        return first.body.lower() if first else ""

    def _label(self, conversation):
        """The labels an agent would have put on it: from its first question, on most conversations a person saw."""
        rng = self.support_rng
        if rng.random() > (0.85 if conversation.first_human_reply_at else 0.25):
            return
        question = self._first_question(conversation)
        names = [name for name, hints in LABEL_HINTS if any(hint in question for hint in hints)][:2]
        if conversation.visitor.email and rng.random() < 0.12:
            names.append("vip")
        labels = [self.labels[name] for name in names if name in self.labels]
        if labels:
            conversation.labels.add(*labels)

    def _rate(self, conversation):
        """Some resolved conversations get the customer's 1-5 rating, mostly 4-5, a few with a comment."""
        rng = self.support_rng
        if conversation.status != Conversation.Status.RESOLVED:
            return
        human = conversation.first_human_reply_at is not None
        if rng.random() > RATED["human" if human else "bot"]:
            return
        if human:
            waited = conversation.first_human_reply_at - (conversation.queued_at or conversation.created_at)
            weights = SCORE_WEIGHTS["quick" if waited < QUICK_ANSWER else "slow"]
        elif conversation.messages.filter(feedback=-1).exists():
            weights = SCORE_WEIGHTS["thumbs_down"]
        else:
            weights = SCORE_WEIGHTS["bot"]
        conversation.rating = rng.choices([1, 2, 3, 4, 5], weights=weights)[0]
        conversation.rating_comment = rng.choice(COMMENTS[conversation.rating]) if rng.random() < 0.3 else ""
        conversation.rated_at = min(timezone.now(), conversation.resolved_at + timedelta(seconds=rng.randint(10, 300)))

    def _bot_answers(self, conversation, rng, started):
        """The bot answers from an article (after asking which topic, sometimes); the customer may rate it.

        Returns the time of the last message, and who handed off ("customer" or "") when a 👎 made the
        customer ask for a person.
        """
        site, at = conversation.site, started
        if rng.random() < 0.15:
            vague, options, answer = rng.choice(VAGUE)
            asked = self._add(conversation, Message.AuthorKind.CUSTOMER, vague, at)
            at += timedelta(seconds=rng.randint(2, 5))
            self._bot(
                conversation,
                asked,
                "Which of these do you mean?",
                at,
                outcome=Message.Outcome.CLARIFY,
                language="en",
                options=options,
            )
            question = title = options[0]  # the customer clicks the first topic; its title is sent as a message
            at += timedelta(seconds=rng.randint(5, 30))
        else:
            question, answer, title = rng.choice(ANSWERABLE)
        language = "zh-hans" if contains_cjk(question) else "en"
        asked = self._add(conversation, Message.AuthorKind.CUSTOMER, question, at)
        at += timedelta(seconds=rng.randint(2, 6))
        verdict = rng.random()
        feedback = 1 if verdict < 0.45 else -1 if verdict < 0.57 else None
        self._bot(
            conversation,
            asked,
            answer,
            at,
            outcome=Message.Outcome.ANSWERED,
            language=language,
            feedback=feedback,
            sources=self._source(site, title),
        )
        wants_person = rng.random() < (0.6 if feedback == -1 else 0.05)
        return at, "customer" if wants_person else ""

    def _bot_misses(self, conversation, rng, started):
        """A question without an article: the customer rephrases, asks for a person, or gives up."""
        phrasings = rng.choices([group for _weight, group in UNANSWERED], weights=[w for w, _ in UNANSWERED])[0]
        # The first phrasing of each is the common one.
        at, question = started, rng.choices(phrasings, weights=[3] + [1] * (len(phrasings) - 1))[0]
        for attempt in range(2):
            language = "zh-hans" if contains_cjk(question) else "en"
            asked = self._add(conversation, Message.AuthorKind.CUSTOMER, question, at)
            at += timedelta(seconds=rng.randint(2, 6))
            self._bot(
                conversation,
                asked,
                NO_ANSWER[language],
                at,
                outcome=Message.Outcome.UNANSWERED,
                language=language,
                actions=["rephrase", "human"],
            )
            conversation.bot_misses = attempt + 1
            next_step = rng.random()
            if attempt == 0 and next_step < 0.35 and len(phrasings) > 1:  # tries other words
                question = rng.choice([p for p in phrasings if p != question])
                at += timedelta(seconds=rng.randint(10, 40))
                continue
            if attempt == 1 and conversation.site.bot_handoff_after and conversation.site.bot_handoff_after <= 2:
                at += timedelta(seconds=1)
                self._bot(
                    conversation,
                    None,
                    HANDING_OFF[language],
                    at,
                    outcome=Message.Outcome.HANDOFF,
                    language=language,
                    handoff=True,
                )
                return at, "bot"
            return at, "customer" if next_step < 0.7 else ""
        return at, ""

    def _human_answers(self, conversation, agent, rng, at, *, by):
        """The conversation goes to the queue; a person answers. Returns when the person resolved it."""
        queued_at = at + timedelta(seconds=rng.randint(5, 60) if by == "customer" else 1)
        self._add(conversation, Message.AuthorKind.SYSTEM, "Connecting you with a member of our team.", queued_at)
        answered_at = queued_at + timedelta(seconds=int(rng.lognormvariate(5.2, 0.9)))
        self._add(conversation, Message.AuthorKind.AGENT, rng.choice(AGENT_ANSWERS), answered_at, agent=agent)
        conversation.owner = Conversation.Owner.AGENT
        conversation.assignee = agent
        conversation.queued_at = conversation.handed_off_at = queued_at
        conversation.first_human_reply_at = answered_at
        conversation.bot_misses = 0
        return answered_at + timedelta(minutes=rng.randint(2, 90))

    def _live_conversation(self, site, agent, rng, index, now):
        question, owner = LIVE[index % len(LIVE)]
        started = now - timedelta(minutes=rng.randint(2, 40))
        visitor = self._visitor(site, rng, started)
        conversation = Conversation.objects.create(site=site, visitor=visitor, created_at=started, updated_at=started)
        asked = self._add(conversation, Message.AuthorKind.CUSTOMER, question, started)
        at = started + timedelta(seconds=4)
        if owner == Conversation.Owner.BOT:
            answer = "Yes, we ship to Norway; international delivery takes 7 to 14 business days."
            self._bot(
                conversation,
                asked,
                answer,
                at,
                outcome=Message.Outcome.ANSWERED,
                language="en",
                sources=self._source(site, "International shipping"),
            )
        else:
            self._bot(
                conversation, asked, HANDING_OFF["en"], at, outcome=Message.Outcome.HANDOFF, language="en", handoff=True
            )
        conversation.owner = owner
        if owner != Conversation.Owner.BOT:
            conversation.queued_at = conversation.handed_off_at = at + timedelta(seconds=20)
            self._add(
                conversation,
                Message.AuthorKind.SYSTEM,
                "Connecting you with a member of our team.",
                conversation.queued_at,
            )
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
        if owner != Conversation.Owner.BOT:  # a person has seen it: it carries the labels its question suggests
            names = [name for name, hints in LABEL_HINTS if any(hint in question.lower() for hint in hints)][:1]
            conversation.labels.add(*(self.labels[name] for name in names if name in self.labels))
