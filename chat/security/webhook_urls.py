"""Where a webhook may be sent: public http(s) addresses only, checked when saved and again on every delivery.

A site's manager chooses the URL, so without these checks Parley could be made to call into its own
network (a metadata service, an admin port). The host name is resolved at delivery time and every
address it names must be public; the connection then goes to the address that was checked, so a
second lookup cannot swap in another one. PARLEY_WEBHOOK_ALLOW_PRIVATE lifts the address checks.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

SCHEMES = ("http", "https")
# Names that never leave the machine or the local network, whatever DNS says.
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class UnsafeURL(ValueError):
    """A webhook URL that is malformed or names an address that is not public."""


def _address_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # `is_global` is False for loopback, private, link-local, shared (CGNAT), reserved and documentation ranges.
    return ip.is_global and not ip.is_multicast


def url_parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL; UnsafeURL when it is not an absolute http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("The URL is not valid.") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise UnsafeURL("Webhook URLs are absolute http:// or https:// URLs.")
    if parts.username or parts.password:
        raise UnsafeURL("Webhook URLs may not carry a user name or password.")
    return parts.scheme, parts.hostname.rstrip("."), port or (443 if parts.scheme == "https" else 80)


def url_check(url: str) -> None:
    """Refuse, when saving, a URL that is malformed or plainly internal (a local name, a non-public address)."""
    _, host, _ = url_parts(url)
    if settings.PARLEY_WEBHOOK_ALLOW_PRIVATE:
        return
    lowered = host.lower()
    if lowered == "localhost" or lowered.endswith(LOCAL_SUFFIXES):
        raise UnsafeURL("Webhook URLs may not name this machine or the local network.")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: resolved and checked on every delivery
    if not _address_public(str(literal)):
        raise UnsafeURL("Webhook URLs may not point at loopback, private or link-local addresses.")


def url_addresses(url: str) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses) to deliver to: every address the host resolves to, each one public.

    UnsafeURL when any address is not public (unless PARLEY_WEBHOOK_ALLOW_PRIVATE); OSError when the
    name does not resolve (worth a retry).
    """
    url_check(url)
    scheme, host, port = url_parts(url)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.PARLEY_WEBHOOK_ALLOW_PRIVATE:
        for address in addresses:
            if not _address_public(address):
                raise UnsafeURL("The webhook's host name resolves to an address that is not public.")
    return scheme, host, port, addresses
