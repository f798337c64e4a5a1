"""Origin checks for sockets and widget endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalize_origin(origin: str) -> str:
    """scheme://host[:port] in lower case, without a trailing slash or path."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def scope_header(scope: dict, name: bytes) -> str:
    """One header of an ASGI scope, decoded, or ''."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def is_same_origin(origin: str, host: str) -> bool:
    """The Origin names the host the request was sent to (the dashboard, or the widget iframe)."""
    normalized = normalize_origin(origin)
    return bool(normalized and host) and urlsplit(normalized).netloc == host.strip().lower()


def origin_allowed(origin: str, host: str, allowed_origins: list[str]) -> bool:
    """Same origin as Parley itself, or one of the site's registered origins."""
    if is_same_origin(origin, host):
        return True
    normalized = normalize_origin(origin)
    return bool(normalized) and normalized in {normalize_origin(item) for item in allowed_origins}
