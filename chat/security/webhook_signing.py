"""Webhook signatures: `Parley-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (docs/api.md)."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Parley-Signature"
EVENT_ID_HEADER = "Parley-Event-Id"
EVENT_TYPE_HEADER = "Parley-Event-Type"
# A receiver should refuse a signature older than this: a captured request cannot be replayed later.
DEFAULT_TOLERANCE_SECONDS = 300


def signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" under the endpoint's secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The Parley-Signature header value for a body sent now (or at `timestamp`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret=secret, body=body, timestamp=timestamp)}"


def signature_valid(
    *, secret: str, body: bytes, header: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None
) -> bool:
    """Whether a Parley-Signature header signs this body with this secret, recently enough (the receiver's check)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, body=body, timestamp=timestamp)
    return hmac.compare_digest(expected, parts.get("v1", ""))
