"""Build and send one email: plain text plus HTML from templates/email/, in the site's language, unsubscribable."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from chat.models import Message
from chat.tasks import texts


def author_label(message: Message, language: str) -> str:
    """Who wrote a message, as the customer sees it."""
    kind = message.author_kind
    if kind == Message.AuthorKind.AGENT:
        agent = message.author_agent
        name = (agent.first_name or agent.get_username()) if agent is not None else ""
        return name or texts.text(language, "author.agent")
    return texts.text(language, f"author.{kind}")


def message_rows(messages, language: str) -> list[dict]:
    """What a template shows of each message: who, when, the text, and whether the customer wrote it."""
    return [
        {
            "author": author_label(message, language),
            "at": message.created_at,
            "body": message.body,
            "mine": message.author_kind == Message.AuthorKind.CUSTOMER,
            "system": message.author_kind == Message.AuthorKind.SYSTEM,
        }
        for message in messages
    ]


def build(
    *, kind: str, to: str, language: str, unsubscribe_url: str, context: dict, values: dict
) -> EmailMultiAlternatives:
    """The email `kind` (templates/email/<kind>.txt and .html) to `to`, with List-Unsubscribe for one click."""
    words = texts.texts(language, kind, **values)
    context = {**context, "t": words, "language": language, "unsubscribe_url": unsubscribe_url}
    with translation.override(language):  # dates and numbers in the templates too
        body = render_to_string(f"email/{kind}.txt", context)
        html = render_to_string(f"email/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=words["subject"],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={
            # RFC 8058: mail clients show an unsubscribe button that POSTs to the link (the view takes a POST).
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",  # RFC 3834: autoresponders do not answer it
            "Content-Language": language,
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def send(**parts) -> None:
    """Build and send (blocking: the mail server's round trips). Errors propagate, so the task retries."""
    build(**parts).send(fail_silently=False)
