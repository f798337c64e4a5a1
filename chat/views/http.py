"""Small helpers for JSON endpoints."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from chat.protocol.frames import holds_lone_surrogate, is_clean_text, too_deep


class BadRequest(Exception):
    """The request body is not what the endpoint takes."""

    def __init__(self, code: str, detail: str, status: int = 400):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status


def error_response(code: str, detail: str, status: int) -> JsonResponse:
    """The JSON shape of every refusal: {"error": {"code", "detail"}}."""
    return JsonResponse({"error": {"code": code, "detail": detail}}, status=status)


def _too_large() -> BadRequest:
    return BadRequest("too_large", "The request body is too large.", status=413)


def json_body(request) -> dict:
    """The request's JSON object body, bounded by PARLEY_MAX_FRAME_BYTES; no string in it may hold a lone surrogate."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.PARLEY_MAX_FRAME_BYTES:
        raise _too_large()
    try:
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE (when PARLEY_MAX_FRAME_BYTES is set above it, or sent without a
        # Content-Length) makes Django raise: an HTML 400 and a traceback in the log, for a client's mistake.
        raw = request.body
    except RequestDataTooBig:
        raise _too_large() from None
    if len(raw) > settings.PARLEY_MAX_FRAME_BYTES:
        raise _too_large()
    if not raw:
        return {}
    if too_deep(raw.decode("utf-8", "replace")):
        raise BadRequest("bad_request", "The body is nested too deeply.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("bad_request", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("bad_request", "The body must be a JSON object.")
    # A "\ud800" escape (or UTF-8-encoded surrogate bytes, which json.loads lets through) is not text:
    # stored, it fails as a server error; refused here, no endpoint has to think of it.
    if holds_lone_surrogate(data):
        raise BadRequest(
            "bad_request", "The body holds a lone surrogate (a \\ud800-\\udfff escape), which is not text."
        )
    return data


def text_field(data: dict, name: str, *, max_length: int) -> str:
    """An optional one-line string field, trimmed and bounded, without control characters."""
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest("bad_request", f"`{name}` must be a string.")
    if not is_clean_text(value):
        raise BadRequest("bad_request", f"`{name}` must not contain control characters.")
    value = value.strip()
    if len(value) > max_length:
        raise BadRequest("bad_request", f"`{name}` is longer than {max_length} characters.")
    return value
