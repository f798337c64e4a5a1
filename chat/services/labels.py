"""Labels on conversations: the tags agents sort their work by."""

from __future__ import annotations

import re

from django.db import transaction

from chat.models import Conversation, Label
from chat.protocol.frames import is_clean_text
from chat.services.conversations import publish_conversation
from chat.services.messages import conversation_lock

LABEL_MAX_LENGTH = 40


def label_name_clean(text: str) -> str:
    """A label's canonical name: trimmed, lower case, inner whitespace as "-"; ValueError when it cannot be one."""
    if not isinstance(text, str) or not is_clean_text(text):
        raise ValueError("A label is one line of text.")
    name = re.sub(r"\s+", "-", text.strip().lower())
    if not name or len(name) > LABEL_MAX_LENGTH:
        raise ValueError(f"A label has 1 to {LABEL_MAX_LENGTH} characters.")
    return name


def conversation_label_add(*, conversation: Conversation, name: str) -> Conversation:
    """Put a label on the conversation, creating the site's label on first use; every desk hears of it."""
    name = label_name_clean(name)
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        label, _ = Label.objects.get_or_create(site_id=conversation.site_id, name=name)
        conversation.labels.add(label)
        _changed(conversation)
    return conversation


def conversation_label_remove(*, conversation: Conversation, name: str) -> Conversation:
    """Take a label off the conversation (the site keeps the label); a label it does not carry changes nothing."""
    name = label_name_clean(name)
    with transaction.atomic():
        conversation = conversation_lock(conversation.pk)
        label = Label.objects.filter(site_id=conversation.site_id, name=name).first()
        if label is not None and conversation.labels.filter(pk=label.pk).exists():
            conversation.labels.remove(label)
            _changed(conversation)
    return conversation


def _changed(conversation: Conversation) -> None:
    # Labels are the desk's business: the customer does not hear of them.
    publish_conversation(conversation, customer=False)
