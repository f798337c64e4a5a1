"""Create the demo shop: a site, an admin, an agent, a knowledge base, canned responses and labels (idempotent)."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from chat.models import AgentProfile, CannedResponse, KnowledgeArticle, Label, Site

DEMO_SITE_KEY = "demo-shop"
# A shop's week: people answer on weekdays and Saturday mornings; the bot takes the rest and asks for an address.
DEMO_HOURS = {**{str(day): [["08:00", "20:00"]] for day in range(5)}, "5": [["10:00", "16:00"]]}
DEMO_TIME_ZONE = "Europe/London"
DEMO_ADMIN = ("admin", "parley-admin")
DEMO_AGENT = ("agent", "parley-agent")

ARTICLES = [
    (
        "Shipping times",
        "en",
        "Orders placed before 2 pm ship the same business day. Standard delivery takes 3 to 5 business days; "
        "express delivery arrives in 1 to 2 business days.",
    ),
    (
        "Shipping costs",
        "en",
        "Standard shipping is free on orders over $50; below that it costs $4.95. Express shipping costs $12.95 "
        "whatever the order total.",
    ),
    (
        "International shipping",
        "en",
        "We ship to 40 countries. International delivery takes 7 to 14 business days, and customs duties are paid "
        "by the recipient on arrival.",
    ),
    (
        "Returns policy",
        "en",
        "You can return unworn items within 30 days of delivery. Start a return from Orders in your account, print "
        "the prepaid label and drop the parcel at any post office.",
    ),
    (
        "Refunds",
        "en",
        "Refunds go back to the original payment method within 5 business days after the returned parcel reaches "
        "our warehouse. Shipping fees are refunded only for faulty items.",
    ),
    (
        "Exchanges",
        "en",
        "To swap a size or colour, start a return and place a new order; we do not hold stock for exchanges, so this "
        "is the fastest way to get the item you want.",
    ),
    (
        "Payment methods",
        "en",
        "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay. Your card is charged when "
        "the order ships, not when you place it.",
    ),
    (
        "Tracking your order",
        "en",
        "Once your order ships we email a tracking link. You can also see the tracking number under Orders in your "
        "account; the carrier updates it within 24 hours.",
    ),
    (
        "Cancelling or changing an order",
        "en",
        "An order can be cancelled or its address changed until it is packed, usually within one hour of purchase. "
        "Open the order in your account and choose Cancel or Edit address.",
    ),
    (
        "Resetting your password",
        "en",
        "Forgot your password? Click Sign in, then Forgot password, and we email you a link that works for one hour. "
        "Check your spam folder if it does not arrive.",
    ),
    (
        "Deleting your account",
        "en",
        "You can delete your account under Account settings, Privacy. We erase your personal data within 30 days, "
        "except invoices we must keep by law.",
    ),
    (
        "Gift cards",
        "en",
        "Gift cards are sent by email, never expire and can be combined with any payment method. They cannot be "
        "exchanged for cash.",
    ),
    (
        "Warranty",
        "en",
        "All products carry a two-year warranty against manufacturing defects. Send us a photo of the fault and your "
        "order number and we replace the item free of charge.",
    ),
    ("配送时间", "zh-hans", "下午两点前下单当天发货。标准配送需要3到5个工作日，加急配送1到2个工作日送达。"),
    (
        "退货政策",
        "zh-hans",
        "商品在签收后30天内未穿着可以退货。请在账户的订单页面申请退货，打印预付运单后到任意邮局寄回。",
    ),
    ("付款方式", "zh-hans", "我们支持Visa、万事达卡、美国运通、PayPal、Apple Pay和Google Pay。订单发货时才会扣款。"),
    ("订单跟踪", "zh-hans", "订单发货后我们会通过电子邮件发送物流跟踪链接，您也可以在账户的订单页面查看运单号。"),
]

CANNED = [
    ("hello", "Hi! Thanks for reaching out — I'm here and happy to help."),
    ("thanks", "Thanks for your patience! Is there anything else I can help you with?"),
    ("refund", "I've started your refund; it reaches your original payment method within 5 business days."),
    ("tracking", "You can follow your parcel with the tracking link we emailed, or under Orders in your account."),
]

# Labels a shop's desk sorts by, with their colours (#rrggbb).
LABELS = [
    ("refund", "#b42318"),
    ("bug", "#dc6803"),
    ("shipping", "#2563eb"),
    ("vip", "#6941c6"),
    ("billing", "#067647"),
]


def labels_ensure(site: Site) -> int:
    """Create the demo labels the site lacks; existing ones keep their name and colour. Returns how many were new."""
    return sum(
        Label.objects.get_or_create(site=site, name=name, defaults={"color": color})[1] for name, color in LABELS
    )


class Command(BaseCommand):
    help = (
        "Create what is missing of the demo shop (its admin and agent, knowledge base, canned responses, labels) "
        "and change nothing that exists; --reset restores the demo's articles, canned responses and passwords."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--origin",
            action="append",
            default=[],
            help="An extra origin allowed to embed the demo widget (repeatable).",
        )
        parser.add_argument(
            "--open-all-hours",
            action="store_true",
            help="No business hours: the team counts as available around the clock (for tests that must not "
            "depend on the time of day).",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Restore the demo articles, canned responses and passwords, undoing a manager's edits.",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        port = os.environ.get("PORT", "8000")
        origins = [f"http://127.0.0.1:{port}", f"http://localhost:{port}", *options["origin"]]
        site, created = Site.objects.get_or_create(key=DEMO_SITE_KEY, defaults={"name": "Demo Shop"})
        site.allowed_origins = sorted(set(site.allowed_origins) | set(origins))
        site.identity_secret = site.identity_secret or "demo-identity-secret"
        if options["open_all_hours"]:
            site.business_hours = {}
        elif created or options["reset"]:
            site.business_hours, site.time_zone = DEMO_HOURS, DEMO_TIME_ZONE
        site.save()

        # `make run` runs this on every start: a manager's edits (an article rewritten or unpublished, a
        # changed password) must survive it. Only --reset writes over them.
        ensure = "update_or_create" if options["reset"] else "get_or_create"
        for title, language, body in ARTICLES:
            getattr(KnowledgeArticle.objects, ensure)(
                site=site, title=title, defaults={"body": body, "language": language, "published": True}
            )
        for shortcut, text in CANNED:
            getattr(CannedResponse.objects, ensure)(site=site, shortcut=shortcut, defaults={"text": text})
        # Labels are the team's own once created (renamed, recoloured): only the missing ones are added.
        labels_ensure(site)

        User = get_user_model()
        admin, created = User.objects.get_or_create(username=DEMO_ADMIN[0], defaults={"first_name": "Ada"})
        if created or options["reset"]:
            admin.is_staff = admin.is_superuser = True
            admin.set_password(DEMO_ADMIN[1])
            admin.save()
        agent, created = User.objects.get_or_create(username=DEMO_AGENT[0], defaults={"first_name": "Sam"})
        if created or options["reset"]:
            agent.set_password(DEMO_AGENT[1])
            agent.save()
        profile, _ = AgentProfile.objects.get_or_create(user=agent)
        profile.sites.add(site)

        self.stdout.write(
            self.style.SUCCESS(f"Demo site '{site.name}' (key {site.key}) allows {', '.join(site.allowed_origins)}")
        )
        self.stdout.write(f"  admin: {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}   (/admin/)")
        self.stdout.write(f"  agent: {DEMO_AGENT[0]} / {DEMO_AGENT[1]}   (/agent/)")
        self.stdout.write(
            f"  {len(ARTICLES)} knowledge-base articles, {len(CANNED)} canned responses, {len(LABELS)} labels"
        )
