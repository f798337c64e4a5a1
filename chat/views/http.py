"""Small helpers for JSON endpoints."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import JsonResponse

from chat.protocol.frames import too_deep


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


def json_body(request) -> dict:
    """The request's JSON object body, bounded by PARLEY_MAX_FRAME_BYTES."""
    if len(request.body) > settings.PARLEY_MAX_FRAME_BYTES:
        raise BadRequest("too_large", "The request body is too large.", status=413)
    if not request.body:
        return {}
    if too_deep(request.body.decode("utf-8", "replace")):
        raise BadRequest("bad_request", "The body is nested too deeply.")
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        raise BadRequest("bad_request", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("bad_request", "The body must be a JSON object.")
    return data


def text_field(data: dict, name: str, *, max_length: int) -> str:
    """An optional string field, trimmed and bounded."""
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest("bad_request", f"`{name}` must be a string.")
    value = value.strip()
    if len(value) > max_length:
        raise BadRequest("bad_request", f"`{name}` is longer than {max_length} characters.")
    return value
