"""Webhooks: every event reaches a real receiver once, signed; failures and hangs are retried; no internal targets."""

import socket
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from chat.models import Conversation, Message, WebhookDelivery, WebhookEndpoint
from chat.security.webhook_signing import signature_valid
from chat.security.webhook_urls import UnsafeURL, url_addresses, url_check
from chat.selectors.webhooks import webhook_sites_forget
from chat.services import conversations, ratings
from chat.services.webhooks import EVENT_TYPES
from chat.transports.task_runner import run_due_tasks
from tests.chat.api_support import Api, make_token
from tests.chat.webhook_receiver import HANG, Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _forget_webhook_sites():
    """Tables are emptied without signals between tests: the next test must not trust this one's cached sites."""
    yield
    webhook_sites_forget()


@pytest.fixture
def webhook_settings(settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    settings.PARLEY_TASK_RETRY_DELAY = 0  # a retry is due at once, so one run of the worker sees it
    settings.PARLEY_WEBHOOK_TIMEOUT = 1.0
    return settings


def endpoint_for(site, receiver, events=EVENT_TYPES) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(site=site, url=receiver.url, events=list(events))


def assert_signed(received, endpoint: WebhookEndpoint) -> dict:
    """The request carries a valid signature of its body, and the event id and type headers; its event."""
    assert signature_valid(secret=endpoint.secret, body=received.body, header=received.headers["parley-signature"])
    event = received.event
    assert received.headers["parley-event-id"] == event["id"]
    assert received.headers["parley-event-type"] == event["type"]
    assert received.headers["content-type"] == "application/json"
    return event


def test_each_event_reaches_the_receiver_once_with_a_valid_signature(webhook_settings, site, visitor, agent):
    with Receiver() as receiver:
        endpoint = endpoint_for(site, receiver)
        sent = conversations.customer_message_send(visitor=visitor, client_id=str(uuid.uuid4()), body="Hello?")
        conversation = Conversation.objects.get(pk=sent.message.conversation_id)
        api = Api(make_token(agent))
        status, answer = api.post(
            f"conversations/{conversation.pk}/messages", {"client_id": str(uuid.uuid4()), "body": "Hi, Sam here."}
        )
        assert status == 201
        assert api.post(f"conversations/{conversation.pk}/resolve")[0] == 200
        ratings.conversation_rate(visitor=visitor, conversation=conversation, score=5, comment="Quick!")

        run_due_tasks()
        events = [assert_signed(received, endpoint) for received in receiver.all()]

    assert len({event["id"] for event in events}) == len(events)  # no event twice
    by_type = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
        assert event["site"] == site.pk
    assert set(by_type) == set(EVENT_TYPES)
    assert [e["data"]["conversation"]["id"] for e in by_type["conversation.created"]] == [conversation.pk]
    assert [e["data"]["conversation"]["status"] for e in by_type["conversation.resolved"]] == ["resolved"]
    assert {e["data"]["message"]["body"] for e in by_type["message.created"]} >= {"Hello?", "Hi, Sam here."}
    assert answer["id"] in {e["data"]["message"]["id"] for e in by_type["message.created"]}
    assert [(e["data"]["rating"], e["data"]["comment"]) for e in by_type["csat.submitted"]] == [(5, "Quick!")]
    deliveries = WebhookDelivery.objects.all()
    assert deliveries.count() == len(events)
    assert {d.status for d in deliveries} == {"succeeded"} and {d.response_code for d in deliveries} == {200}
    assert all(d.attempts == 1 and d.duration_ms is not None for d in deliveries)


def test_messages_on_the_one_statement_path_are_announced_too(webhook_settings, site, visitor, agent):
    conversation = Conversation.objects.create(site=site, visitor=visitor, owner="agent", assignee=agent)
    with Receiver() as receiver:
        endpoint_for(site, receiver, events=["message.created"])
        # An open conversation a human owns: both sends take the hot path where the database has one.
        conversations.customer_message_send(
            visitor=visitor, client_id=str(uuid.uuid4()), body="Still there?", conversation_id=conversation.pk
        )
        status, _ = Api(make_token(agent)).post(
            f"conversations/{conversation.pk}/messages", {"client_id": str(uuid.uuid4()), "body": "Yes!"}
        )
        assert status == 201
        run_due_tasks()
        messages = sorted((r.event["data"]["message"] for r in receiver.all()), key=lambda m: m["seq"])
    assert [(m["author"]["kind"], m["body"], m["seq"]) for m in messages] == [
        ("customer", "Still there?", 1),
        ("agent", "Yes!", 2),
    ]


def test_an_endpoint_gets_only_the_event_types_it_asked_for(webhook_settings, site, visitor):
    with Receiver() as receiver:
        endpoint_for(site, receiver, events=["conversation.resolved"])
        sent = conversations.customer_message_send(visitor=visitor, client_id=str(uuid.uuid4()), body="Hi")
        conversations.conversation_resolve(conversation=sent.message.conversation)
        run_due_tasks()
        assert [r.event["type"] for r in receiver.all()] == ["conversation.resolved"]


def test_a_receiver_failing_with_500_gets_the_event_again_on_retry(webhook_settings, site, visitor):
    with Receiver(plan=[500]) as receiver:
        endpoint = endpoint_for(site, receiver, events=["conversation.resolved"])
        conversation = Conversation.objects.create(site=site, visitor=visitor)
        conversations.conversation_resolve(conversation=conversation)
        run_due_tasks()
        first, second = receiver.take(), receiver.take()
        assert receiver.all() == []
    assert assert_signed(first, endpoint)["id"] == assert_signed(second, endpoint)["id"]  # one event, two attempts
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.error) == ("succeeded", 2, 200, "")


def test_a_receiver_that_hangs_times_out_and_the_event_is_retried(webhook_settings, site, visitor):
    webhook_settings.PARLEY_WEBHOOK_TIMEOUT = 0.3
    with Receiver(plan=[HANG]) as receiver:
        endpoint = endpoint_for(site, receiver, events=["conversation.resolved"])
        conversation = Conversation.objects.create(site=site, visitor=visitor)
        conversations.conversation_resolve(conversation=conversation)
        run_due_tasks()
        hung, answered = receiver.take(), receiver.take()
    assert assert_signed(hung, endpoint)["id"] == assert_signed(answered, endpoint)["id"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 2


def test_a_receiver_that_keeps_failing_is_given_up_on_after_the_retries(webhook_settings, site, visitor):
    webhook_settings.PARLEY_WEBHOOK_RETRIES = 2
    with Receiver(plan=[503, 503, 503, 503]) as receiver:
        endpoint_for(site, receiver, events=["conversation.resolved"])
        conversations.conversation_resolve(conversation=Conversation.objects.create(site=site, visitor=visitor))
        run_due_tasks()
        assert len(receiver.all()) == 3  # the first attempt and two retries
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", 3, 503)
    assert "503" in delivery.error


def test_the_admins_resend_delivers_the_same_event_again(webhook_settings, site, visitor, admin_client):
    with Receiver() as receiver:
        endpoint = endpoint_for(site, receiver, events=["conversation.resolved"])
        conversations.conversation_resolve(conversation=Conversation.objects.create(site=site, visitor=visitor))
        run_due_tasks()
        first = assert_signed(receiver.take(), endpoint)
        delivery = WebhookDelivery.objects.get()
        response = admin_client.post(
            "/admin/chat/webhookdelivery/", {"action": "resend", "_selected_action": [delivery.pk]}
        )
        assert response.status_code == 302
        run_due_tasks()
        again = assert_signed(receiver.take(), endpoint)
    assert again["id"] == first["id"]
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 1


def test_a_rolled_back_change_sends_nothing(webhook_settings, site, visitor):
    from django.db import transaction

    with Receiver() as receiver:
        endpoint_for(site, receiver)
        conversation = Conversation.objects.create(site=site, visitor=visitor)
        with pytest.raises(RuntimeError), transaction.atomic():
            conversations.conversation_resolve(conversation=conversation)
            raise RuntimeError("changed my mind")
        run_due_tasks()
        assert receiver.all() == []
    assert not WebhookDelivery.objects.exists()


def test_a_site_without_endpoints_costs_a_message_no_webhook_query_and_no_task(site, visitor, agent, settings):
    other = WebhookEndpoint.objects.create(site=type(site).objects.create(name="Hooked"), url="https://example.com/h")
    conversation = Conversation.objects.create(site=site, visitor=visitor, owner="agent", assignee=agent)
    conversations.agent_message_send(
        agent=agent, conversation=conversation, client_id=str(uuid.uuid4()), body="warm", internal=False
    )
    tasks_before = DBTaskResult.objects.count()
    with CaptureQueriesContext(connection) as queries:
        conversations.agent_message_send(
            agent=agent, conversation=conversation, client_id=str(uuid.uuid4()), body="hi", internal=False
        )
        conversations.customer_message_send(visitor=visitor, client_id=str(uuid.uuid4()), body="thanks")
    assert not [q["sql"] for q in queries.captured_queries if "webhook" in q["sql"].lower()]
    assert DBTaskResult.objects.count() == tasks_before
    assert Message.objects.filter(conversation=conversation).count() == 3
    assert other.pk


# --- where a webhook may not go -------------------------------------------------------------------


INTERNAL_URLS = [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://api.localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://metadata.internal/computeMetadata",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_addresses_are_refused_when_saved(url, settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(UnsafeURL):
        url_check(url)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "https://user:pw@example.com/", "example.com/hook", "http:///x"]
)
def test_urls_that_are_not_plain_http_are_refused(url, settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(UnsafeURL):
        url_check(url)


def test_a_public_address_is_accepted(settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = False
    url_check("https://hooks.example.com/parley")
    url_check("https://93.184.215.14/parley")


def test_a_host_name_resolving_to_an_internal_address_is_refused_at_delivery(settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = False
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    if any(__import__("ipaddress").ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip("this machine's name resolves to a public address")
    with pytest.raises(UnsafeURL):
        url_addresses(f"http://{name}/hook")


def test_the_admin_refuses_an_internal_webhook_url(admin_client, site, settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post(
        "/admin/chat/webhookendpoint/add/",
        {"site": site.pk, "url": "http://169.254.169.254/latest/", "events": ["message.created"], "active": "on"},
    )
    assert response.status_code == 200 and b"not point at" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_an_internal_endpoint_saved_anyway_is_never_called(site, visitor, settings):
    settings.PARLEY_WEBHOOK_ALLOW_PRIVATE = False
    settings.PARLEY_TASK_RETRY_DELAY = 0
    with Receiver() as receiver:
        # Saved while private addresses were allowed (or straight into the table): the delivery checks again.
        WebhookEndpoint.objects.create(site=site, url=receiver.url, events=["conversation.resolved"])
        conversations.conversation_resolve(conversation=Conversation.objects.create(site=site, visitor=visitor))
        run_due_tasks()
        assert receiver.all() == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 1 and "loopback" in delivery.error


def test_secrets_never_reach_the_log(webhook_settings, site, visitor, agent, caplog):
    webhook_settings.PARLEY_WEBHOOK_RETRIES = 1
    caplog.set_level("DEBUG")
    raw = make_token(agent)
    with Receiver(plan=[500, 500]) as receiver:
        endpoint = endpoint_for(site, receiver, events=["conversation.resolved"])
        conversation = Conversation.objects.create(site=site, visitor=visitor)
        assert Api(raw).post(f"conversations/{conversation.pk}/resolve")[0] == 200
        Api(raw[:-3] + "xyz").get("sites")  # a refused token is not logged either
        run_due_tasks()
        assert len(receiver.all()) == 2
    assert "webhook delivery" in caplog.text  # the failures were logged ...
    assert endpoint.secret not in caplog.text and raw not in caplog.text  # ... without the secrets
