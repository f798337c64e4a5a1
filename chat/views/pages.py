"""Server-rendered pages."""

from django.shortcuts import render

from chat.models import Site


def home(request):
    """The landing page: what runs here and where to go."""
    return render(request, "chat/home.html", {"site": Site.objects.order_by("pk").first()})
