"""Parsing and validating client frames: every field is checked before anything acts on it."""

from __future__ import annotations

import json
import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

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


# What no text field may hold: control characters (Unicode's Cc: C0, DEL and C1) and lone surrogates
# ("\ud800" escapes), which are not text at all: no UTF-8 encoder, database or browser takes them, so
# one would fail late, as a server error, with the frame half handled. A message body may keep tab,
# newline and carriage return.
_NOT_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_BODY_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A client_id is written in ASCII: the hex digits, hyphens, braces or "urn:uuid:" that uuid.UUID reads.
# Checked first because uuid.UUID also takes a leading sign, whitespace or full-width digits (int() does).
_UUID_TEXT = re.compile(r"(?:urn:uuid:)?\{?[0-9A-Fa-f-]{32,36}\}?")


def is_clean_text(value: str, *, multiline: bool = False) -> bool:
    """No control characters (tab, newline and carriage return allowed when `multiline`) and no lone surrogates."""
    return (_NOT_BODY_TEXT if multiline else _NOT_TEXT).search(value) is None


def holds_lone_surrogate(data: object) -> bool:
    """True when any string of decoded JSON, object keys included, holds a lone surrogate."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
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
    # Refused before anything reads a field, and without a `ref`: echoing the frame's text back would send
    # the client a string that cannot be encoded either.
    if holds_lone_surrogate(frame):
        raise ProtocolError(
            "bad_request", "The frame holds a lone surrogate (a \\ud800-\\udfff escape), which is not text."
        )
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
    if not isinstance(value, str) or not _UUID_TEXT.fullmatch(value):
        raise ProtocolError("bad_request", "`client_id` must be a UUID string.", _ref(frame))
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ProtocolError("bad_request", "`client_id` must be a UUID string.", _ref(frame)) from None


def body(frame: dict, ref: str, *, may_be_empty: bool = False) -> str:
    """A message body: text (tab and line breaks are the only control characters), not blank, within the limit.

    `may_be_empty` is for a message that carries files: it may say nothing (or leave `body` out).
    """
    value = frame.get("body")
    if may_be_empty and value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ProtocolError("bad_request", "`body` must be a string.", ref)
    if not is_clean_text(value, multiline=True):
        raise ProtocolError(
            "bad_request", "`body` must not contain control characters other than tab and line breaks.", ref
        )
    value = value.strip()
    if not value and not may_be_empty:
        raise ProtocolError("empty", "The message is empty.", ref)
    if len(value) > settings.PARLEY_MAX_BODY_CHARS:
        raise ProtocolError("too_long", f"Messages are limited to {settings.PARLEY_MAX_BODY_CHARS} characters.", ref)
    return value


def cursor(frame: dict) -> Cursor:
    """A resume position "S.I"; missing means from the start."""
    value = frame.get("cursor")
    if isinstance(value, str) and not is_clean_text(value):  # the parser's `$` would let a final newline by
        raise ProtocolError("bad_request", 'cursor must look like "12.3"', _ref(frame))
    try:
        return Cursor.parse(value)
    except BadCursor as exc:
        raise ProtocolError("bad_request", str(exc), _ref(frame)) from None


def choice(frame: dict, name: str, allowed: tuple[str, ...]) -> str:
    """A field restricted to a few words."""
    value = frame.get(name)
    if value not in allowed:
        raise ProtocolError("bad_request", f"`{name}` must be one of {', '.join(allowed)}.", _ref(frame))
    return value


def text(frame: dict, name: str, *, max_length: int, optional: bool = True, multiline: bool = False) -> str:
    """A string field, trimmed and bounded, without control characters (line breaks allowed when `multiline`)."""
    value = frame.get(name)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise ProtocolError("bad_request", f"`{name}` must be a string.", _ref(frame))
    if not is_clean_text(value, multiline=multiline):
        raise ProtocolError("bad_request", f"`{name}` must not contain control characters.", _ref(frame))
    value = value.strip()
    if len(value) > max_length:
        raise ProtocolError("bad_request", f"`{name}` is limited to {max_length} characters.", _ref(frame))
    if not value and not optional:
        raise ProtocolError("bad_request", f"`{name}` is required.", _ref(frame))
    return value


def email(frame: dict, name: str = "email", *, optional: bool = False) -> str:
    """An email address as Django's EmailField accepts it; empty only when `optional`."""
    value = text(frame, name, max_length=254, optional=optional)
    if value:
        try:
            EmailValidator()(value)
        except ValidationError:
            raise ProtocolError("bad_request", f"`{name}` is not a valid email address.", _ref(frame)) from None
    return value


def attachment_ids(frame: dict, ref: str) -> list[int]:
    """The uploaded files a message carries (`attachments`, optional): distinct ids, at most the limit."""
    value = frame.get("attachments")
    if value is None:
        return []
    limit = settings.PARLEY_ATTACHMENTS_PER_MESSAGE
    if (
        not isinstance(value, list)
        or not all(isinstance(item, int) and not isinstance(item, bool) and 1 <= item < 2**53 for item in value)
        or len(set(value)) != len(value)
    ):
        raise ProtocolError("bad_request", "`attachments` must be a list of distinct attachment ids.", ref)
    if len(value) > limit:
        raise ProtocolError("too_long", f"A message carries at most {limit} files.", ref)
    return value
