"""Parsing and validating client frames: every field is checked before anything acts on it."""

from __future__ import annotations

import json
import uuid

from django.conf import settings

from chat.protocol.cursors import BadCursor, Cursor


class ProtocolError(Exception):
    """A frame the server refuses; answered with an `error` frame, the socket stays open."""

    def __init__(self, code: str, detail: str, ref: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref


# Deeper JSON than this is refused before parsing: no real frame nests more than a few levels,
# and the C parser's RecursionError on deep input can upset the interpreter afterwards.
MAX_NESTING = 32


def too_deep(text: str, limit: int = MAX_NESTING) -> bool:
    """True when brackets nest deeper than `limit` (brackets inside strings may over-count; that only refuses)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class FrameTooLarge(Exception):
    """A frame over PARLEY_MAX_FRAME_BYTES; the socket closes with 4009 (too large)."""


def decode(text_data: str | None, bytes_data: bytes | None) -> dict:
    """Turn a WebSocket frame into a JSON object with a string `type`, or raise."""
    if bytes_data is not None and text_data is None:
        if len(bytes_data) > settings.PARLEY_MAX_FRAME_BYTES:
            raise FrameTooLarge()
        raise ProtocolError("bad_request", "Binary frames are not part of the protocol; send JSON text.")
    text = text_data or ""
    # Characters are at most 4 bytes; only encode when the cheap bound does not settle it.
    if (
        len(text) * 4 > settings.PARLEY_MAX_FRAME_BYTES
        and len(text.encode("utf-8", "surrogatepass")) > settings.PARLEY_MAX_FRAME_BYTES
    ):
        raise FrameTooLarge()
    if too_deep(text):
        raise ProtocolError("bad_request", f"JSON nested deeper than {MAX_NESTING} levels.")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_request", "The frame is not valid JSON.") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_request", "A frame must be a JSON object.")
    kind = frame.get("type")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError("bad_request", "A frame needs a string `type`.")
    return frame


def _ref(frame: dict) -> str:
    return str(frame.get("type"))[:64]


def integer(frame: dict, name: str, *, minimum: int = 0, optional: bool = False) -> int | None:
    """A non-negative integer field (booleans are not integers)."""
    value = frame.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not (minimum <= value < 2**53):
        raise ProtocolError("bad_request", f"`{name}` must be an integer of at least {minimum}.", _ref(frame))
    return value


def nullable_integer(frame: dict, name: str) -> int | None:
    """An integer field that must be present but may be null."""
    if name not in frame:
        raise ProtocolError("bad_request", f"`{name}` is required (an id, or null).", _ref(frame))
    return integer(frame, name, minimum=1, optional=True)


def boolean(frame: dict, name: str, *, default: bool | None = None) -> bool:
    """A true/false field."""
    value = frame.get(name, default)
    if not isinstance(value, bool):
        raise ProtocolError("bad_request", f"`{name}` must be true or false.", _ref(frame))
    return value


def client_id(frame: dict) -> str:
    """The sender's idempotency key: a UUID string."""
    value = frame.get("client_id")
    if not isinstance(value, str) or len(value) > 64:
        raise ProtocolError("bad_request", "`client_id` must be a UUID string.", _ref(frame))
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ProtocolError("bad_request", "`client_id` must be a UUID string.", _ref(frame)) from None


def body(frame: dict, ref: str) -> str:
    """A message body: text, not blank, within PARLEY_MAX_BODY_CHARS."""
    value = frame.get("body")
    if not isinstance(value, str):
        raise ProtocolError("bad_request", "`body` must be a string.", ref)
    value = value.strip()
    if not value:
        raise ProtocolError("empty", "The message is empty.", ref)
    if len(value) > settings.PARLEY_MAX_BODY_CHARS:
        raise ProtocolError("too_long", f"Messages are limited to {settings.PARLEY_MAX_BODY_CHARS} characters.", ref)
    if "\x00" in value:
        raise ProtocolError("bad_request", "`body` must not contain NUL characters.", ref)
    return value


def cursor(frame: dict) -> Cursor:
    """A resume position "S.I"; missing means from the start."""
    try:
        return Cursor.parse(frame.get("cursor"))
    except BadCursor as exc:
        raise ProtocolError("bad_request", str(exc), _ref(frame)) from None


def choice(frame: dict, name: str, allowed: tuple[str, ...]) -> str:
    """A field restricted to a few words."""
    value = frame.get(name)
    if value not in allowed:
        raise ProtocolError("bad_request", f"`{name}` must be one of {', '.join(allowed)}.", _ref(frame))
    return value
