"""The Server-Sent Events wire format both widget streams write (docs/protocol.md, section 5)."""

from __future__ import annotations

from django.http import StreamingHttpResponse

RETRY_MILLISECONDS = 2000
# A comment line this often keeps proxies and browsers from dropping a quiet stream.
HEARTBEAT_SECONDS = 15

RETRY = f"retry: {RETRY_MILLISECONDS}\n\n"
PING = ": ping\n\n"


def record(event_type: str | None, data: str, event_id: str | None = None) -> str:
    """One SSE record."""
    lines = []
    if event_type:
        lines.append(f"event: {event_type}")
    if event_id:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def stream_response(records) -> StreamingHttpResponse:
    """A response that sends each record as it is made."""
    response = StreamingHttpResponse(records, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each record on at once
    return response
