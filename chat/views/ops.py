"""Operations endpoints: liveness, readiness, metrics and the proxy self-check."""

from __future__ import annotations

import asyncio
import hmac
import secrets

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from chat import metrics
from chat.realtime import registry
from chat.transports.ai_worker import ALIVE_KEY, WORKER_METRICS_KEY

LAYER_ROUND_TRIP_TIMEOUT = 2.0


def healthz(request):
    """GET /healthz: the process answers."""
    return HttpResponse("ok\n", content_type="text/plain")


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _layer_round_trip() -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "readyz.ping"})
    await asyncio.wait_for(layer.receive(channel), LAYER_ROUND_TRIP_TIMEOUT)


def _worker_alive() -> None:
    if cache.get(ALIVE_KEY) is None:
        raise RuntimeError("no AI worker has announced itself in the last 30 s (is `runworker ai-reply` running?)")


async def readyz(request):
    """GET /readyz: database, channel-layer round trip and a live AI worker; 503 naming what fails."""
    checks = {
        "database": database_sync_to_async(_database_ok)(),
        "channel_layer": _layer_round_trip(),
        "ai_worker": database_sync_to_async(_worker_alive)(),
    }
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    report = {}
    for name, outcome in zip(checks, results):
        # Name the failure without its details: error text can hold hosts or credentials.
        report[name] = "ok" if outcome is None else (str(outcome) if name == "ai_worker" else type(outcome).__name__)
    healthy = all(value == "ok" for value in report.values())
    return JsonResponse({"ready": healthy, "checks": report}, status=200 if healthy else 503)


def _metrics_allowed(request) -> bool:
    token = settings.PARLEY_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:], token):
        return True
    return request.user.is_authenticated and request.user.is_staff


class _OpenSockets:
    """A collector of this process's open WebSockets, by kind."""

    def collect(self):
        """The `parley_open_sockets` gauge, read when scraped."""
        sockets = GaugeMetricFamily(
            "parley_open_sockets", "Open WebSockets in this process, by kind.", labels=["process", "kind"]
        )
        for kind, count in sorted(registry.count_by_kind().items()):
            sockets.add_metric(["web", kind], count)
        yield sockets


def metrics_view(request):
    """GET /metrics: Prometheus text format; staff session or `Authorization: Bearer $PARLEY_METRICS_TOKEN`."""
    if not _metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    workers = cache.get(WORKER_METRICS_KEY) or {}
    snapshots = {"web": metrics.snapshot()} | {name: shared["metrics"] for name, shared in sorted(workers.items())}
    exposition = CollectorRegistry()
    exposition.register(_OpenSockets())
    exposition.register(metrics.ProcessSnapshots(snapshots))
    return HttpResponse(generate_latest(exposition), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def selfcheck_csp(nonce: str) -> str:
    """The self-check's own policy: its inline script and style by nonce, its socket, nothing else."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'nonce-{nonce}'",
            f"style-src 'nonce-{nonce}'",
            "connect-src 'self' ws: wss:",
            "img-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@staff_member_required
def selfcheck(request):
    """GET /selfcheck/: opens a WebSocket and an SSE stream through whatever proxy the browser used."""
    # Headers are the client's (or a proxy's) text: they reach the page only through json_script, which
    # escapes <, > and &, never as markup; the nonce keeps any other script from running.
    seen = {
        "scheme": request.scheme,
        "host": request.get_host(),
        "client_ip": request.META.get("REMOTE_ADDR", ""),
        "forwarded_for": request.headers.get("X-Forwarded-For", ""),
        "forwarded_proto": request.headers.get("X-Forwarded-Proto", ""),
        "behind_proxy_setting": bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None)),
    }
    nonce = secrets.token_urlsafe(16)
    response = render(request, "ops/selfcheck.html", {"seen": seen, "csp_nonce": nonce})
    response["Content-Security-Policy"] = selfcheck_csp(nonce)
    return response


SELFCHECK_EVENTS = 5
SELFCHECK_GAP = 0.4  # seconds between events: a buffering proxy delivers them all at once at the end


@staff_member_required
def selfcheck_stream(request):
    """GET /selfcheck/stream: a few SSE events spaced in time, to see whether a proxy buffers them."""

    async def events():
        yield "retry: 2000\n\n"
        for number in range(SELFCHECK_EVENTS):
            yield f"event: tick\ndata: {number}\n\n"
            await asyncio.sleep(SELFCHECK_GAP)
        yield "event: done\ndata: {}\n\n"

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
