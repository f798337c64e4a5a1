"""Rate limits and connection caps, with one algorithm: a sliding window of hits per key.

A limit lets at most `count` hits into any `seconds`. Each key keeps the times of its recent hits
(a Redis sorted set when processes must share the budget, else this process's memory): a hit drops
what fell out of the window, is refused while the window still holds `count`, and is added otherwise;
a refused hit is not recorded. Unlike a fixed window there is no burst of twice the limit across a
window's edge, and a refusal knows when the next slot frees (`retry_after`). Several limits are hit
at once or not at all, so a refusal by the IP's budget does not spend the visitor's.

A connection cap is the same window with the connection as the member: it joins when it opens, each
ping moves it forward, it leaves when it closes, and one whose process died without closing it stops
counting once PARLEY_CONNECTION_TTL passes without a ping.

Counting runs on the event loop (Redis) or under a lock (memory), never on the database thread,
where it would queue behind every other socket's writes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import threading
import time
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpResponse, JsonResponse

from chat import metrics
from chat.protocol import frames

logger = logging.getLogger(__name__)

# IPv6 clients are counted by their /64: one subscriber gets a whole /64 and could rotate through it.
IPV6_PREFIX = 64
# Without a client address (a test's scope, a Unix socket) every such request shares one budget.
UNKNOWN_IP = "unknown"


@dataclass(frozen=True)
class Limit:
    """At most `count` hits on `key` in any `seconds` (0: no limit); `name` labels refusals and metrics."""

    name: str
    key: str
    count: int
    seconds: float

    @classmethod
    def of(cls, name: str, key: str, rate: tuple[int, float]) -> Limit:
        """A limit from a (count, seconds) setting."""
        count, seconds = rate
        return cls(name, key, int(count), float(seconds))


@dataclass(frozen=True)
class Refusal:
    """Which limit refused a hit, and in how many seconds it has room again."""

    limit: str
    retry_after: float

    @property
    def retry_seconds(self) -> int:
        """Whole seconds for `retry_after` and the Retry-After header (at least 1)."""
        return max(1, math.ceil(self.retry_after))


class RateLimited(frames.ProtocolError):
    """A refused hit: `error rate_limited` with `retry_after` on a socket, 429 with Retry-After over HTTP."""

    def __init__(self, refusal: Refusal, detail: str, ref: str | None = None):
        super().__init__("rate_limited", detail, ref)
        self.limit = refusal.limit
        self.retry_after = refusal.retry_seconds


# --- the window in memory: the one-process default, and each socket's own frames -------------------


class Windows:
    """Sliding windows in this process's memory: key -> {member: time of its last hit}, oldest first."""

    # Drop idle keys now and then, not on every hit.
    SWEEP_ABOVE = 10_000

    def __init__(self):
        self._keys: dict[str, tuple[float, dict[str, float]]] = {}
        self._lock = threading.Lock()  # sync views count from their own thread

    def hit(
        self, limits: Iterable[Limit], member: str, *, check: bool = True, now: float | None = None
    ) -> Refusal | None:
        """Add `member` to every limit's window, unless one of them is full (then change nothing)."""
        now = time.monotonic() if now is None else now
        limits = [limit for limit in limits if limit.count > 0]
        with self._lock:
            if len(self._keys) > self.SWEEP_ABOVE:
                self._sweep(now)
            refusal = self._refusal(limits, member, now) if check else None
            if refusal is None:
                for limit in limits:
                    _, entries = self._keys.setdefault(_bucket(limit), (limit.seconds, {}))
                    entries.pop(member, None)  # re-added at the end: the entries stay in time order
                    entries[member] = now
        return refusal

    def forget(self, limits: Iterable[Limit], member: str) -> None:
        """Take `member` out of every limit's window (a connection closed, a reservation unused)."""
        with self._lock:
            for limit in limits:
                window = self._keys.get(_bucket(limit))
                if window is not None:
                    window[1].pop(member, None)

    def clear(self) -> None:
        """Forget every window."""
        with self._lock:
            self._keys.clear()

    def _refusal(self, limits: list[Limit], member: str, now: float) -> Refusal | None:
        refused, wait = None, 0.0
        for limit in limits:
            entries = self._trimmed(_bucket(limit), limit.seconds, now)
            if len(entries) >= limit.count and member not in entries:
                # A slot frees when all but count - 1 of the entries have left the window.
                freeing = list(entries.values())[len(entries) - limit.count]
                refused = refused or limit.name
                wait = max(wait, freeing + limit.seconds - now)
        return Refusal(refused, wait) if refused else None

    def _trimmed(self, bucket: str, seconds: float, now: float) -> dict[str, float]:
        _, entries = self._keys.get(bucket, (seconds, {}))
        for member, at in list(entries.items()):
            if at > now - seconds:
                break
            del entries[member]
        return entries

    def _sweep(self, now: float) -> None:
        for bucket, (seconds, entries) in list(self._keys.items()):
            if not entries or max(entries.values()) <= now - seconds:
                del self._keys[bucket]


def _bucket(limit: Limit) -> str:
    return f"{settings.REDIS_PREFIX}:rl:{limit.name}:{limit.key}"


# Without Redis there is one process: its own windows are the whole truth.
_local = Windows()


# --- the window in Redis: shared by every process ----------------------------------------------------

# KEYS: one sorted set per limit. ARGV: member, "1" to check (else only add), then count and window (ms)
# per key. Returns {0, 0}, or {index of the first full limit, ms until every full one has room}.
# Redis's own clock, so processes whose clocks disagree still share one window.
_HIT = """
local clock = redis.call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000
local member = ARGV[1]
local refused, wait = 0, 0
if ARGV[2] == '1' then
  for i, key in ipairs(KEYS) do
    local count = tonumber(ARGV[1 + 2 * i])
    local window = tonumber(ARGV[2 + 2 * i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local held = redis.call('ZCARD', key)
    if held >= count and not redis.call('ZSCORE', key, member) then
      local freeing = redis.call('ZRANGE', key, held - count, held - count, 'WITHSCORES')
      if refused == 0 then refused = i end
      wait = math.max(wait, tonumber(freeing[2]) + window - now)
    end
  end
end
if refused > 0 then return {refused, math.ceil(wait)} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i])))
end
return {0, 0}
"""

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = weakref.WeakKeyDictionary()
_sync_clients: dict[str, object] = {}


def _redis():
    """This event loop's Redis client and script (a client belongs to the loop that made it)."""
    import redis.asyncio

    by_url = _clients.setdefault(asyncio.get_running_loop(), {})
    if settings.REDIS_URL not in by_url:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
        by_url[settings.REDIS_URL] = (client, client.register_script(_HIT))
    return by_url[settings.REDIS_URL]


def _redis_sync():
    """A blocking client, for sync views and for tests starting afresh."""
    import redis

    if settings.REDIS_URL not in _sync_clients:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
        _sync_clients[settings.REDIS_URL] = (client, client.register_script(_HIT))
    return _sync_clients[settings.REDIS_URL]


def _script_args(limits: list[Limit], member: str, check: bool) -> tuple[list[str], list]:
    args: list = [member, "1" if check else "0"]
    for limit in limits:
        args += [limit.count, limit.seconds * 1000]
    return [_bucket(limit) for limit in limits], args


def _refusal_from(limits: list[Limit], answer) -> Refusal | None:
    index, wait_ms = (int(value) for value in answer)
    return Refusal(limits[index - 1].name, wait_ms / 1000) if index else None


def _counted(refusal: Refusal | None) -> Refusal | None:
    if refusal is not None:
        metrics.RATE_LIMITED.inc(refusal.limit)
    return refusal


# --- what callers use --------------------------------------------------------------------------------


async def rate_hit(
    limits: Iterable[Limit], *, member: str | None = None, check: bool = True, counted: bool = True
) -> Refusal | None:
    """Count one hit against every limit, or against none when one is full: then its Refusal.

    `member` names the hit (a connection's id, which a second hit only moves forward); `check=False`
    adds it without asking (a connection's ping); `counted=False` leaves a refusal out of the metrics
    (the caller counts it if it turns out to refuse anything). Redis being unreachable allows the hit.
    """
    limits = [limit for limit in limits if limit.count > 0]
    if not limits:
        return None
    member = member or uuid.uuid4().hex
    if not settings.REDIS_URL:
        refusal = _local.hit(limits, member, check=check)
    else:
        keys, args = _script_args(limits, member, check)
        try:
            _, script = _redis()
            refusal = _refusal_from(limits, await script(keys=keys, args=args))
        except Exception:
            # Redis is the channel layer too: while it is down nothing is delivered anyway. Let the
            # message be stored rather than refuse every customer.
            logger.warning("rate limit check failed; allowing", exc_info=True)
            return None
    return _counted(refusal) if counted else refusal


def rate_hit_sync(limits: Iterable[Limit], *, member: str | None = None) -> Refusal | None:
    """rate_hit for sync code (the session view runs in a thread)."""
    limits = [limit for limit in limits if limit.count > 0]
    if not limits:
        return None
    member = member or uuid.uuid4().hex
    if not settings.REDIS_URL:
        return _counted(_local.hit(limits, member))
    keys, args = _script_args(limits, member, True)
    try:
        _, script = _redis_sync()
        answer = script(keys=keys, args=args)
    except Exception:
        logger.warning("rate limit check failed; allowing", exc_info=True)
        return None
    return _counted(_refusal_from(limits, answer))


async def rate_check(limits: Iterable[Limit], *, detail: str, ref: str | None = None) -> None:
    """Count one hit against every limit; raise RateLimited when one of them is full."""
    refusal = await rate_hit(limits)
    if refusal is not None:
        raise RateLimited(refusal, detail, ref)


async def rate_forget(limits: Iterable[Limit], member: str) -> None:
    """Take a hit back (a connection that closed, a reservation that was not needed)."""
    limits = [limit for limit in limits if limit.count > 0]
    if not limits:
        return
    if not settings.REDIS_URL:
        _local.forget(limits, member)
        return
    try:
        client, _ = _redis()
        async with client.pipeline(transaction=False) as pipe:
            for limit in limits:
                pipe.zrem(_bucket(limit), member)
            await pipe.execute()
    except Exception:
        # It leaves the window on its own once the window has passed.
        logger.warning("could not take back a rate-limit hit", exc_info=True)


def rate_reset() -> None:
    """Forget every count (a test starting afresh): this process's, and the shared ones under REDIS_PREFIX."""
    _local.clear()
    if not settings.REDIS_URL:
        return
    try:
        client, _ = _redis_sync()
        keys = list(client.scan_iter(match=f"{settings.REDIS_PREFIX}:rl:*", count=1000))
        if keys:
            client.delete(*keys)
    except Exception:
        logger.warning("could not clear the shared rate-limit counts", exc_info=True)


class Connection:
    """A socket or event stream counted against connection caps: joins when it opens, leaves when it closes."""

    def __init__(self, holder: str | None = None):
        self.holder = holder or uuid.uuid4().hex
        self.limits: list[Limit] = []

    async def join(self, *limits: Limit) -> Refusal | None:
        """Count this connection against more caps; when one is full, the Refusal, and nothing changes."""
        refusal = await rate_hit(limits, member=self.holder)
        if refusal is None:
            self.limits.extend(limit for limit in limits if limit.count > 0)
        return refusal

    async def refresh(self) -> None:
        """Still open (a ping): move it forward in its windows, so only a dead process's connections lapse."""
        if self.limits:
            await rate_hit(self.limits, member=self.holder, check=False)

    async def leave(self) -> None:
        """Closed: it no longer counts."""
        limits, self.limits = self.limits, []
        await rate_forget(limits, self.holder)


def connection_limits(*, ip: str | None = None, visitor_id: int | None = None) -> list[Limit]:
    """The caps on a client's open sockets and event streams, together: per IP and per visitor."""
    ttl = settings.PARLEY_CONNECTION_TTL
    limits = []
    if ip is not None:
        limits.append(Limit("connections_ip", f"ip:{ip}", settings.PARLEY_CONNECTIONS_PER_IP, ttl))
    if visitor_id is not None:
        limits.append(
            Limit("connections_visitor", f"visitor:{visitor_id}", settings.PARLEY_CONNECTIONS_PER_VISITOR, ttl)
        )
    return limits


def api_token_limits(token_id: int) -> list[Limit]:
    """The budget of one public-API token (PARLEY_API_TOKEN_RATE), shared by every process."""
    return [Limit.of("api_token", f"api-token:{token_id}", settings.PARLEY_API_TOKEN_RATE)]


# --- who the client is ------------------------------------------------------------------------------


def client_ip(remote_addr: str | None, forwarded_for: str | None) -> str:
    """The client's address as rate limits key it: REMOTE_ADDR, or behind our proxy the address it added.

    Only with BEHIND_PROXY is X-Forwarded-For read, and then only its last entry: the one our nginx
    appended. Entries before it are whatever the client sent. IPv6 addresses count by their /64.
    """
    address = remote_addr or ""
    if settings.BEHIND_PROXY and forwarded_for:
        address = forwarded_for.split(",")[-1].strip()
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return UNKNOWN_IP
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def scope_client_ip(scope: dict) -> str:
    """client_ip of an ASGI scope (a socket, or an HTTP request's scope)."""
    forwarded = ",".join(
        value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"x-forwarded-for"
    )
    client = scope.get("client")
    return client_ip(client[0] if client else None, forwarded)


def request_client_ip(request) -> str:
    """client_ip of a Django request (ASGI or WSGI)."""
    return client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def login_client_ip(request) -> str | None:
    """What django-axes keys failed sign-ins by (AXES_CLIENT_IP_CALLABLE): client_ip, or None without one.

    Its table stores an address, not a network: an IPv6 client's /64 is stored as the /64's first address.
    """
    ip = request_client_ip(request)
    if ip == UNKNOWN_IP:
        return None
    return ip.split("/")[0]


# --- answers over HTTP ------------------------------------------------------------------------------


def too_many_requests(detail: str, retry_after: int) -> JsonResponse:
    """429 with Retry-After, in the JSON shape of every refusal plus `retry_after` (seconds)."""
    body = {"error": {"code": "rate_limited", "detail": detail, "retry_after": retry_after}}
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(retry_after)
    return response


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check, first in AUTHENTICATION_BACKENDS: the desk's and the admin's sign-in forms.

    A sign-in without a request is code on the server (a management command, a test's `client.login`):
    there is no client to lock out, so it goes on to the next backend where axes would raise.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        """Refuse a locked-out IP + username before any password is checked; never signs anyone in."""
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def login_locked_out(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer once an IP has failed too often for one username (AXES_LOCKOUT_CALLABLE)."""
    metrics.RATE_LIMITED.inc("login")
    retry_after = max(1, math.ceil(settings.PARLEY_LOGIN_RATE[1]))
    detail = "Too many failed sign-ins; try again later."
    if "text/html" in request.headers.get("Accept", ""):
        response = HttpResponse(f"<!doctype html><title>Locked</title><p>{detail}</p>", status=429)
        response["Retry-After"] = str(retry_after)
        return response
    return too_many_requests(detail, retry_after)
