"""Webhook deliveries: one task fans an event out to its endpoints, one task per endpoint sends it, with retries.

Each attempt is signed afresh (chat/security/webhook_signing.py), checks the URL's addresses again
(chat/security/webhook_urls.py) and connects to the address it checked, gives up after
PARLEY_WEBHOOK_TIMEOUT, and records its outcome on the delivery row the admin shows. A 2xx answer
is success; anything else (an error status, a timeout, a refused connection) is retried with the
task retries' backoff, up to PARLEY_WEBHOOK_RETRIES times. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from chat.models import WebhookDelivery
from chat.security.webhook_signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from chat.security.webhook_urls import UnsafeURL, url_addresses
from chat.selectors.webhooks import webhook_endpoints_for
from chat.tasks.retry import retry_delay

logger = logging.getLogger(__name__)

USER_AGENT = "Parley-Webhooks/1"
# What is kept of a failed answer or error: enough to tell what happened, not the receiver's whole page.
ERROR_CHARS = 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to an address checked beforehand, whatever the host name resolves to by now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address checked beforehand; the certificate is still checked against the host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST the body to the URL's first public address; the response status. Raises OSError or UnsafeURL."""
    scheme, host, port, addresses = url_addresses(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    last_error: OSError | None = None
    for address in addresses:
        connection = connection_class(host, port, address=address, timeout=settings.PARLEY_WEBHOOK_TIMEOUT)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # a little of the answer, so the connection ends cleanly
            return response.status
        except ConnectionRefusedError as error:
            last_error = error  # try the host's next address
        finally:
            connection.close()
    raise last_error or OSError("the host name resolves to no address")


@task()
def webhook_fan_out(event: dict) -> dict:
    """Make a delivery of the event for every endpoint of its site that asked for its type, and send each."""
    endpoints = webhook_endpoints_for(site_id=event["site"], event_type=event["type"])
    queued = []
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint, event_id=uuid.UUID(event["id"]), event_type=event["type"], payload=event
                )
        except IntegrityError:
            continue  # this fan-out ran before (a retried task): that delivery exists and was queued
        webhook_deliver.enqueue(delivery.pk)
        queued.append(delivery.pk)
    return {"deliveries": queued}


@task()
def webhook_deliver(delivery_id: int) -> dict:
    """One attempt at a delivery; a failure queues the next attempt, later, until the retries run out."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status in (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED):
        return {"sent": False, "why": "gone or finished"}
    endpoint = delivery.endpoint
    attempt = delivery.attempts + 1
    if not endpoint.active:
        _record(delivery, attempt=attempt, status=WebhookDelivery.Status.FAILED, error="The endpoint is disabled.")
        return {"sent": False, "why": "endpoint disabled"}
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: str(delivery.event_id),
        EVENT_TYPE_HEADER: delivery.event_type,
        SIGNATURE_HEADER: signature_header(secret=endpoint.secret, body=body),
    }
    started = time.monotonic()
    code, error, retry = None, "", True
    try:
        code = _post(endpoint.url, body, headers)
        if 200 <= code < 300:
            retry = False
        else:
            error = f"The endpoint answered {code}."
    except UnsafeURL as exc:
        error, retry = str(exc), False  # the same address would be refused again
    except (OSError, http.client.HTTPException) as exc:  # timeouts are OSErrors too
        error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
    duration_ms = int((time.monotonic() - started) * 1000)
    if not error:
        _record(delivery, attempt=attempt, status=WebhookDelivery.Status.SUCCEEDED, code=code, duration_ms=duration_ms)
        return {"sent": True, "code": code}
    if retry and attempt <= settings.PARLEY_WEBHOOK_RETRIES:
        next_at = timezone.now() + timedelta(seconds=retry_delay(attempt))
        _record(
            delivery,
            attempt=attempt,
            status=WebhookDelivery.Status.RETRYING,
            code=code,
            duration_ms=duration_ms,
            error=error,
            next_at=next_at,
        )
        webhook_deliver.using(run_after=next_at).enqueue(delivery.pk)
        logger.warning("webhook delivery %s attempt %d failed (%s); next at %s", delivery.pk, attempt, error, next_at)
    else:
        _record(
            delivery,
            attempt=attempt,
            status=WebhookDelivery.Status.FAILED,
            code=code,
            duration_ms=duration_ms,
            error=error,
        )
        logger.warning("webhook delivery %s failed for good after attempt %d (%s)", delivery.pk, attempt, error)
    return {"sent": False, "code": code, "error": error}


def _record(
    delivery: WebhookDelivery,
    *,
    attempt: int,
    status: str,
    code: int | None = None,
    duration_ms: int | None = None,
    error: str = "",
    next_at=None,
) -> None:
    """Keep how the attempt went on the delivery row."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempt,
        status=status,
        response_code=code,
        duration_ms=duration_ms,
        error=error[:ERROR_CHARS],
        last_attempt_at=timezone.now(),
        next_attempt_at=next_at,
    )
