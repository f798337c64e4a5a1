"""Files customers and agents send: checked, cleaned, stored, and deleted with their conversation."""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db.models.signals import post_delete

from chat.models import Attachment, Conversation, Message, Site, Visitor
from chat.security.file_links import attachment_payload
from chat.security.file_types import FileRefused, inspect
from chat.selectors.access import NotFound
from chat.services.errors import ConversationError

_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def attachment_name_clean(name: str) -> str:
    """The uploaded name as shown and offered for download: its last part, no path or control characters, bounded."""
    name = unicodedata.normalize("NFC", name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name).strip(" .") or "file"
    stem, dot, extension = name.rpartition(".")
    if dot and len(extension) <= 10:
        return f"{stem[: 150 - len(extension)]}.{extension}"
    return name[:150]


def attachment_store(
    *, site: Site, name: str, data: bytes, visitor: Visitor | None = None, agent: AbstractBaseUser | None = None
) -> Attachment:
    """Check an upload and keep it (images re-encoded without metadata, with a thumbnail); FileRefused if not allowed."""
    if len(data) > settings.PARLEY_ATTACHMENT_MAX_BYTES:
        raise FileRefused("too_large", f"Files are limited to {settings.PARLEY_ATTACHMENT_MAX_BYTES // 1_000_000} MB.")
    name = attachment_name_clean(name)
    inspected = inspect(name, data, allowed=set(settings.PARLEY_ATTACHMENT_TYPES))
    attachment = Attachment(
        site=site,
        visitor=visitor,
        agent=agent,
        name=name,
        content_type=inspected.content_type,
        size=len(inspected.data),
        width=inspected.width,
        height=inspected.height,
    )
    # Written to storage before the row: a failed write leaves no row pointing at nothing.
    attachment.file.save(name, ContentFile(inspected.data), save=False)
    if inspected.thumbnail is not None:
        attachment.thumbnail.save(f"thumb-{name}", ContentFile(inspected.thumbnail), save=False)
    attachment.save()
    return attachment


def attachments_claim(
    ids: list[int],
    *,
    visitor: Visitor | None = None,
    agent: AbstractBaseUser | None = None,
    conversation_id: int | None = None,
) -> list[Attachment]:
    """Lock the uploads a message is about to carry: the sender's own, not yet sent (an agent's, uploaded for this
    `conversation_id`); NotFound for any other id."""
    if not ids:
        return []
    owned = Attachment.objects.select_for_update().filter(pk__in=ids, message__isnull=True)
    if visitor is not None:
        owned = owned.filter(visitor=visitor)
    else:
        owned = owned.filter(agent=agent, visitor__isnull=True, conversation_id=conversation_id)
    found = {attachment.pk: attachment for attachment in owned}
    if len(found) != len(ids):
        raise NotFound()
    total = sum(attachment.size for attachment in found.values())
    if total > settings.PARLEY_ATTACHMENT_MESSAGE_MAX_BYTES:
        limit = settings.PARLEY_ATTACHMENT_MESSAGE_MAX_BYTES // 1_000_000
        raise ConversationError("too_large", f"The files of one message are limited to {limit} MB together.")
    return [found[pk] for pk in ids]


def attachments_attach(attachments: list[Attachment], *, message: Message, conversation: Conversation) -> None:
    """Make the claimed uploads part of the message (and so of its conversation)."""
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(message=message, conversation=conversation)
    for attachment in attachments:
        attachment.message, attachment.conversation = message, conversation


def attachments_payloads(attachments: list[Attachment], *, visitor_id: int | None) -> list[dict]:
    """The files of a message as its customer (`visitor_id`) or its agents (None) see them, with fresh links."""
    return [attachment_payload(attachment, visitor_id=visitor_id) for attachment in attachments]


def _delete_files(sender, instance: Attachment, **kwargs) -> None:
    """A deleted attachment (itself, or with its conversation or visitor) takes its files from storage."""
    for field in (instance.file, instance.thumbnail):
        if field:
            field.storage.delete(field.name)


def connect_signals() -> None:
    """Delete the files of every attachment row that goes."""
    post_delete.connect(_delete_files, sender=Attachment, dispatch_uid="parley-attachment-files")
