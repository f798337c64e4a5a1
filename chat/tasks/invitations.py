"""The invitation a new agent gets: a link to set their password, made with Django's password-reset tokens.

The token is default_token_generator's: it stops working once the password is set (the hash it covers
changes) or after PASSWORD_RESET_TIMEOUT.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_tasks import task

from chat.tasks import links
from chat.tasks.retry import retried


def invite_url(user) -> str:
    """The absolute set-password link for `user`, valid until used or PASSWORD_RESET_TIMEOUT passes."""
    path = reverse(
        "agent-invite",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return links.absolute(path)


def valid_days() -> int:
    """How many days an invitation link works, as the email says."""
    return max(1, settings.PASSWORD_RESET_TIMEOUT // (24 * 60 * 60))


def build_invitation(user, url: str) -> EmailMultiAlternatives:
    """The invitation email, plain text plus HTML (templates/email/invite.txt and .html)."""
    context = {
        "name": user.first_name or user.get_username(),
        "username": user.get_username(),
        "url": url,
        "days": valid_days(),
        "login_url": links.absolute(settings.LOGIN_URL),
    }
    message = EmailMultiAlternatives(
        subject=_("You are invited to answer chats on Parley"),
        body=render_to_string("email/invite.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},  # RFC 3834: autoresponders do not answer it
    )
    message.attach_alternative(render_to_string("email/invite.html", context), "text/html")
    return message


@task()
@retried
def email_invitation(user_id: int) -> dict:
    """Email a new agent their set-password link, unless they have set a password already or left."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return {"sent": 0, "why": "no address"}
    if user.has_usable_password():
        return {"sent": 0, "why": "password already set"}
    # In the language chosen on their profile, the one their desk will speak.
    profile = getattr(user, "agent_profile", None)
    with translation.override((profile.language if profile else "") or settings.LANGUAGE_CODE):
        # The link is made now, not when queued: a retry still carries a token for the user as they are.
        build_invitation(user, invite_url(user)).send(fail_silently=False)
    return {"sent": 1}
