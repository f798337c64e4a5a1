"""Origin checks for sockets and widget endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

# An origin's port when it names none; a browser leaves these out of `Origin`, a client may write them.
DEFAULT_PORTS = {"http": 80, "https": 443}
# What an ASGI scope's `scheme` means for the page that opened the socket.
PAGE_SCHEMES = {"ws": "http", "http": "http", "wss": "https", "https": "https"}


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


def _origin_key(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, the default port filled in; None when it is not one."""
    if scheme not in DEFAULT_PORTS or not netloc or any(char in netloc for char in "/?#@\\ "):
        return None
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname, DEFAULT_PORTS[scheme] if port is None else port


def same_origin(origin: str, *, scheme: str, host: str) -> bool:
    """The Origin names the scheme, host and port the request was sent to (`host` as in the Host header)."""
    parts = urlsplit(origin.strip().lower())
    if parts.path or parts.query or parts.fragment:
        return False
    theirs = _origin_key(parts.scheme, parts.netloc)
    ours = _origin_key(scheme.strip().lower(), host.strip().lower())
    return theirs is not None and theirs == ours


def scope_scheme(scope: dict) -> str:
    """ "http" or "https": how the browser reached this socket, read the way Django reads request.scheme.

    Behind a proxy that terminates TLS the scope says ws; with SECURE_PROXY_SSL_HEADER set (BEHIND_PROXY=1)
    the proxy's header decides, as it does for HTTP requests. Daphne puts no `scheme` in a WebSocket scope,
    which the ASGI spec reads as "ws".
    """
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        meta_name, secure_value = proxy_header
        name = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        value = scope_header(scope, name)
        if value:
            return "https" if value.split(",", 1)[0].strip() == secure_value else "http"
    return PAGE_SCHEMES.get(str(scope.get("scheme") or "ws").lower(), "http")


def scope_is_same_origin(scope: dict) -> bool:
    """A socket opened by a page of this very origin: scheme, host and port (the desk's socket)."""
    return same_origin(scope_header(scope, b"origin"), scheme=scope_scheme(scope), host=scope_header(scope, b"host"))


def is_same_origin(origin: str, host: str) -> bool:
    """The Origin names the host and port the request was sent to, whatever its scheme.

    Weaker than same_origin(): the widget's origin_allowed() uses it, whose callers know no scheme; the desk's
    socket uses scope_is_same_origin().
    """
    normalized = normalize_origin(origin)
    return bool(normalized and host) and urlsplit(normalized).netloc == host.strip().lower()


def origin_allowed(origin: str, host: str, allowed_origins: list[str]) -> bool:
    """Same origin as Parley itself, or one of the site's registered origins."""
    if is_same_origin(origin, host):
        return True
    normalized = normalize_origin(origin)
    return bool(normalized) and normalized in {normalize_origin(item) for item in allowed_origins}
