"""Every API refusal in one JSON shape, the desk's and the widget's: {"error": {"code", "detail"}}."""

from __future__ import annotations

import math

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from chat.protocol.frames import ProtocolError
from chat.selectors.access import NotFound
from chat.services.errors import ConversationError

# DRF's own codes, renamed to the ones the rest of Parley answers with.
_CODES = {
    "not_authenticated": "unauthorized",
    "authentication_failed": "unauthorized",
    "permission_denied": "forbidden",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "parse_error": "bad_request",
    "throttled": "rate_limited",
    "invalid": "bad_request",
}


def error(code: str, detail: str, status: int, **extra) -> Response:
    """An error answer."""
    return Response({"error": {"code": code, "detail": detail, **extra}}, status=status)


def _field_errors(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        flat = {}
        for name, problems in detail.items():
            if isinstance(problems, dict):
                for inner, messages in _field_errors(problems).items():
                    flat[f"{name}.{inner}"] = messages
            else:
                flat[str(name)] = [str(p) for p in (problems if isinstance(problems, list) else [problems])]
        return flat
    if isinstance(detail, list):
        return {"non_field_errors": [str(p) for p in detail]}
    return {"non_field_errors": [str(detail)]}


def api_exception_handler(exc, context) -> Response | None:
    """Turn what views and services raise into the error shape; anything else stays a server error."""
    if isinstance(exc, NotFound | Http404):
        return error("not_found", "No such object, or not on your sites.", 404)
    if isinstance(exc, ConversationError):
        return error(exc.code, exc.detail, 409)
    if isinstance(exc, ProtocolError):
        return error(exc.code, exc.detail, 400)
    if isinstance(exc, PermissionDenied):
        return error("forbidden", "Not allowed.", 403)
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        first = next(iter(fields.items()))
        detail = first[1][0] if first[0] == "non_field_errors" else f"`{first[0]}`: {first[1][0]}"
        return error("bad_request", detail, 400, fields=fields)
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        response = error("rate_limited", "Too many requests for this token; slow down.", 429, retry_after=wait)
        response["Retry-After"] = str(wait)
        return response
    if isinstance(exc, exceptions.APIException):
        code = _CODES.get(exc.get_codes() if isinstance(exc.get_codes(), str) else "", "bad_request")
        response = error(code, str(exc.detail), exc.status_code)
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            response["WWW-Authenticate"] = auth_header
        if exc.status_code == 405:
            allowed = context["view"].allowed_methods if context.get("view") else []
            response["Allow"] = ", ".join(allowed)
        return response
    return None


# Statuses every operation may answer, with the error shape (the schema lists them, so clients expect them).
ERROR_STATUSES = {
    "400": "The request is malformed; nothing was changed.",
    "401": "No token, or a token that is not valid (or revoked).",
    "403": "The token may not do this (a read-only token writing).",
    "404": "No such object, or not on the token's sites.",
    "429": "Too many requests for this token; see Retry-After.",
}


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every operation documents the error answers, with the one error schema."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "detail"],
                    "properties": {
                        "code": {"type": "string"},
                        "detail": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                        "retry_after": {"type": "integer"},
                    },
                }
            },
        },
    )
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, {"description": description, "content": reference})
            if method != "get":
                responses.setdefault(
                    "409", {"description": "The object's state does not allow it.", "content": reference}
                )
                responses.setdefault("405", {"description": "Method not allowed.", "content": reference})
    return result
