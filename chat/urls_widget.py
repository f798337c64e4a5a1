"""Routes of the customer side: the demo page and the widget frame."""

from django.urls import path

from chat.views import pages

urlpatterns = [
    path("", pages.home, name="home"),
]
