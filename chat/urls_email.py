"""The signed links in emails: confirm an address, unsubscribe, reopen a conversation, accept an agent invitation."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from chat.views import email_links

urlpatterns = [
    path("confirm/<str:token>/", email_links.email_confirm, name="email-confirm"),
    path("unsubscribe/<str:token>/", email_links.email_unsubscribe, name="email-unsubscribe"),
    path("open/<str:token>/", email_links.email_open, name="email-open"),
    # An invited agent chooses a password: Django's password-reset confirmation, with our pages.
    path(
        "invite/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="email/invite_set_password.html", success_url=reverse_lazy("agent-invite-done")
        ),
        name="agent-invite",
    ),
    path(
        "invite/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="email/invite_done.html"),
        name="agent-invite-done",
    ),
]
