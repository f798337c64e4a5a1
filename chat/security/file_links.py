"""Short-lived signed links to attachments: the only way a file is ever served."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

SALT = "parley.attachment-link"


@dataclass(frozen=True)
class FileLink:
    """What a link grants: one attachment (or its thumbnail), to its customer (`visitor_id`) or to agents (0)."""

    attachment_id: int
    visitor_id: int
    thumbnail: bool


class BadLink(Exception):
    """Forged, tampered with or expired."""


def file_link(attachment_id: int, *, visitor_id: int | None, thumbnail: bool = False) -> str:
    """The path of a signed link; `visitor_id` None makes an agents' link, which also needs a desk session."""
    # The nonce makes every link new, even two made in the same second: a client can tell a fresh one.
    nonce = secrets.randbelow(2**24)
    value = signing.dumps([attachment_id, visitor_id or 0, int(thumbnail), nonce], salt=SALT, compress=False)
    return reverse("attachment-file", args=[value])


def file_link_read(value: str, *, max_age: int) -> FileLink:
    """The grant of a link, or BadLink."""
    try:
        attachment_id, visitor_id, thumbnail, _nonce = signing.loads(value, salt=SALT, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        raise BadLink() from None
    if not all(isinstance(part, int) and not isinstance(part, bool) for part in (attachment_id, visitor_id, thumbnail)):
        raise BadLink()
    return FileLink(attachment_id, visitor_id, bool(thumbnail))


def attachment_payload(attachment, *, visitor_id: int | None) -> dict:
    """An attachment as a client sees it, with fresh links for its customer (`visitor_id`) or for agents (None)."""
    payload = {
        "id": attachment.pk,
        "name": attachment.name,
        "type": attachment.content_type,
        "size": attachment.size,
        "image": attachment.is_image,
        "url": file_link(attachment.pk, visitor_id=visitor_id),
    }
    if attachment.is_image:
        payload.update(
            width=attachment.width,
            height=attachment.height,
            thumbnail_url=file_link(attachment.pk, visitor_id=visitor_id, thumbnail=True),
        )
    return payload
