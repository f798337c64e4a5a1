"""The API's JSON bodies: bounded in size and depth like every other body Parley reads (chat/views/http.py)."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from chat.protocol.frames import too_deep


class BoundedJSONParser(JSONParser):
    """JSON of at most PARLEY_MAX_FRAME_BYTES, nested no deeper than the frames the sockets take."""

    def parse(self, stream, media_type=None, parser_context=None):
        """The body's JSON; ParseError (400) for a body that is too large, too deep or not JSON."""
        raw = stream.read(settings.PARLEY_MAX_FRAME_BYTES + 1) if stream is not None else b""
        if len(raw) > settings.PARLEY_MAX_FRAME_BYTES:
            raise ParseError(f"The body is larger than {settings.PARLEY_MAX_FRAME_BYTES} bytes.")
        text = raw.decode("utf-8", "replace")
        if too_deep(text):
            raise ParseError("The body is nested too deeply.")
        try:
            return json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise ParseError("The body is not valid JSON.") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")
