"""Server-rendered pages: the demo shop that embeds the widget."""

from django.shortcuts import render

from chat.admin import embed_snippet
from chat.management.commands.seed_demo import DEMO_SITE_KEY
from chat.models import Site

PRODUCTS = [
    # name, price, colour class, short description
    ("Linen overshirt", "$68", "sand", "Breathable washed linen, relaxed fit."),
    ("Merino crew", "$84", "moss", "Fine-gauge merino that doesn't itch."),
    ("Canvas tote", "$32", "clay", "Heavy 16 oz canvas, leather handles."),
    ("Everyday sneaker", "$110", "slate", "Recycled knit upper, cushioned sole."),
]


def home(request):
    """The demo shop: a small storefront with the widget embedded by the very snippet sites paste."""
    site = Site.objects.filter(key=DEMO_SITE_KEY).first() or Site.objects.order_by("pk").first()
    context = {
        "site": site,
        "snippet": embed_snippet(request, site) if site else "",
        "products": [{"name": n, "price": p, "tone": c, "blurb": b} for n, p, c, b in PRODUCTS],
    }
    return render(request, "chat/home.html", context)
