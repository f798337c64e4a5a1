"""The signed links in emails: confirm an address, unsubscribe, reopen a conversation."""

from __future__ import annotations

from django.urls import path

from chat.views import email_links

urlpatterns = [
    path("confirm/<str:token>/", email_links.email_confirm, name="email-confirm"),
    path("unsubscribe/<str:token>/", email_links.email_unsubscribe, name="email-unsubscribe"),
    path("open/<str:token>/", email_links.email_open, name="email-open"),
]
