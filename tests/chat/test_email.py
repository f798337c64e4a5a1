"""Email by background task, end to end: a real SMTP server (aiosmtpd) on loopback, django-tasks' real worker.

The hooks of chat/services/notifications.py queue tasks after the commit; the tests run the queue
with django_tasks_db's Worker in batch mode, and make a delayed task due by moving its `run_after`,
never by waiting.
"""

from __future__ import annotations

import email
import re
import threading
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chat.models import AgentConnection, AgentProfile, Conversation, Message
from chat.security import tokens
from chat.services import notifications
from chat.tasks import links
from chat.transports.task_runner import EmbeddedTaskWorker, embedded_task_runners, run_due_tasks
from chatsite.settings import email_from_url
from tests.conftest import make_agent, make_site, make_visitor
from tests.integration.processes import free_port

# ---- a real SMTP server ----------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps what it accepts; `refuse` makes it answer DATA with that reply instead."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: str | None = None
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox():
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def smtp(mailbox, settings):
    """Django's email settings from an EMAIL_URL naming the test's SMTP server (pytest-django set locmem)."""
    handler, port = mailbox
    for name, value in email_from_url("EMAIL_URL", f"smtp://127.0.0.1:{port}?timeout=5").items():
        setattr(settings, name, value)
    settings.DEFAULT_FROM_EMAIL = "Shop support <support@shop.example>"
    settings.PARLEY_PUBLIC_URL = "https://chat.example.com"
    return handler


# ---- helpers ----------------------------------------------------------------------------


def results(**filters):
    return list(DBTaskResult.objects.filter(**filters).order_by("enqueued_at"))


def make_due() -> None:
    """Every queued task may run now (as if its delay had passed)."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))


def conversation_of(visitor, **fields) -> Conversation:
    owner = "agent" if fields.get("assignee") else "queue"
    return Conversation.objects.create(site=visitor.site, visitor=visitor, owner=owner, **fields)


def add(conversation: Conversation, kind: str, body: str, *, agent=None, internal=False) -> Message:
    """A message as the services would store it (seq allocated, public seq moved unless a note)."""
    conversation.refresh_from_db()
    seq = conversation.last_seq + 1
    message = Message.objects.create(
        conversation=conversation, seq=seq, author_kind=kind, author_agent=agent, body=body, internal=internal
    )
    conversation.last_seq = seq
    if not internal:
        conversation.last_public_seq = seq
    conversation.save(update_fields=["last_seq", "last_public_seq"])
    return message


def agent_says(conversation, agent, body, *, internal=False) -> Message:
    """An agent's message and the hook the services call, in one transaction (the task is queued on commit)."""
    with transaction.atomic():
        message = add(conversation, "agent", body, agent=agent, internal=internal)
        notifications.agent_message_sent(message)
    return message


def parts(message) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def link_path(text: str, kind: str) -> str:
    """The path of the first `/email/<kind>/…/` link in an email's text."""
    match = re.search(rf"https://chat\.example\.com(/email/{kind}/[^/\s]+/)", text)
    assert match, f"no {kind} link in:\n{text}"
    return match.group(1)


@pytest.fixture
def confirmed(site):
    return make_visitor(site, name="Cleo", email="cleo@example.com", email_confirmed_at=timezone.now())


@pytest.fixture
def sam(site):
    user = make_agent("sam", site)
    user.email = "sam@shop.example"
    user.save(update_fields=["email"])
    return user


# ---- the follow-up ----------------------------------------------------------------------


def test_followup_waits_for_its_delay_then_emails_the_unread_answers(smtp, confirmed, sam, settings):
    conversation = conversation_of(confirmed, assignee=sam)
    add(conversation, "customer", "Where is my parcel?")
    first = agent_says(conversation, sam, "It left our warehouse this morning.")
    agent_says(conversation, sam, "Tracking: **PX-1234**.\nIt should arrive <tomorrow>.")

    queued = results(task_path="chat.tasks.emails.email_followup")
    assert len(queued) == 2
    delay = queued[0].run_after - timezone.now()
    assert timedelta(seconds=settings.PARLEY_EMAIL_FOLLOWUP_DELAY - 10) < delay <= timedelta(seconds=180)
    assert run_due_tasks() == 0  # not due yet: the customer may still read them in the widget
    assert smtp.messages == []

    make_due()
    assert run_due_tasks() == 2
    assert len(smtp.messages) == 1, "both answers go in one email; the second task finds them emailed"
    message = smtp.messages[0]
    assert message["To"] == "cleo@example.com"
    assert message["From"] == "Shop support <support@shop.example>"
    assert message["Subject"] == "Shop replied to your conversation"
    assert message.get_content_type() == "multipart/alternative"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    assert "It left our warehouse this morning." in body["text/plain"]
    assert "It should arrive <tomorrow>." in body["text/plain"]
    assert "It should arrive &lt;tomorrow&gt;." in body["text/html"]  # escaped in HTML
    assert "Where is my parcel?" not in body["text/plain"], "only the answers they have not seen"
    assert 'lang="en"' in body["text/html"]
    conversation.refresh_from_db()
    assert conversation.emailed_seq == conversation.last_public_seq
    assert [r.status for r in results()] == ["SUCCESSFUL", "SUCCESSFUL"]

    # Not twice: the same answers are never emailed again, even if a task for them runs once more.
    notifications.agent_message_sent(first)
    make_due()
    run_due_tasks()
    assert len(smtp.messages) == 1


def test_followup_headers_unsubscribe_in_one_click(smtp, confirmed, sam):
    conversation = conversation_of(confirmed, assignee=sam)
    agent_says(conversation, sam, "Hello again")
    make_due()
    run_due_tasks()
    message = smtp.messages[0]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A long header is folded after its name; readers unfold it.
    unsubscribe = re.fullmatch(
        r"<(https://chat\.example\.com/email/unsubscribe/[^>]+/)>", message["List-Unsubscribe"].strip()
    )
    assert unsubscribe
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "en"

    # What Gmail and co. do with the header: POST the one-click body, no cookie, no CSRF token.
    client = Client(enforce_csrf_checks=True)
    path = unsubscribe.group(1).removeprefix("https://chat.example.com")
    assert client.get(path).status_code == 200  # a GET (a link scanner) only asks
    confirmed.refresh_from_db()
    assert not confirmed.email_opt_out
    response = client.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    confirmed.refresh_from_db()
    assert confirmed.email_opt_out

    # Unsubscribed: later answers are not emailed.
    agent_says(conversation, sam, "Anything else?")
    make_due()
    run_due_tasks()
    assert len(smtp.messages) == 1


def test_followup_skips_what_the_customer_read(smtp, confirmed, sam):
    conversation = conversation_of(confirmed, assignee=sam)
    answer = agent_says(conversation, sam, "Done!")
    Conversation.objects.filter(pk=conversation.pk).update(customer_read_seq=answer.seq)  # read in the widget
    make_due()
    assert run_due_tasks() == 1
    assert smtp.messages == []
    [result] = results()
    assert result.status == "SUCCESSFUL"
    assert result.return_value["sent"] == 0


def test_notes_are_never_emailed(smtp, confirmed, sam):
    conversation = conversation_of(confirmed, assignee=sam)
    agent_says(conversation, sam, "Internal: customer seems upset", internal=True)
    assert results() == [], "a note queues nothing"
    agent_says(conversation, sam, "We are on it.")
    agent_says(conversation, sam, "Internal: refund approved by Ann", internal=True)
    make_due()
    run_due_tasks()
    [message] = smtp.messages
    text = parts(message)["text/plain"] + parts(message)["text/html"]
    assert "We are on it." in text
    assert "Internal" not in text


def test_no_followup_to_an_unconfirmed_or_unsubscribed_address(smtp, site, sam):
    unconfirmed = make_visitor(site, email="new@example.com")
    unsubscribed = make_visitor(site, email="gone@example.com", email_confirmed_at=timezone.now(), email_opt_out=True)
    anonymous = make_visitor(site)
    for visitor in (unconfirmed, unsubscribed, anonymous):
        agent_says(conversation_of(visitor, assignee=sam), sam, "Hi there")
    assert results() == [], "nobody to email: no task row per answer"

    # Queued while confirmed, unsubscribed before it ran: nothing is sent.
    later = make_visitor(site, email="later@example.com", email_confirmed_at=timezone.now())
    agent_says(conversation_of(later, assignee=sam), sam, "Hi there")
    later.email_opt_out = True
    later.save(update_fields=["email_opt_out"])
    make_due()
    run_due_tasks()
    assert smtp.messages == []


def test_hooks_queue_only_when_the_transaction_commits(smtp, confirmed, sam):
    conversation = conversation_of(confirmed, assignee=sam)
    with pytest.raises(RuntimeError), transaction.atomic():
        agent_says(conversation, sam, "Rolled back")
        notifications.transcript_requested(conversation=conversation, email="x@example.com")
        assert results() == [], "nothing is queued inside the transaction"
        raise RuntimeError
    assert results() == []


def test_followup_in_the_sites_language(smtp, sam):
    site = make_site("商店", language="zh-hans")
    AgentProfile.objects.get(user=sam).sites.add(site)
    visitor = make_visitor(site, email="li@example.com", email_confirmed_at=timezone.now())
    agent_says(conversation_of(visitor, assignee=sam), sam, "您好，包裹已发出。")
    make_due()
    run_due_tasks()
    [message] = smtp.messages
    assert message["Subject"] == "商店 回复了您的对话"
    assert message["Content-Language"] == "zh-hans"
    body = parts(message)
    assert 'lang="zh-hans"' in body["text/html"]
    assert "继续对话" in body["text/plain"] and "您好，包裹已发出。" in body["text/plain"]


# ---- the reopen link ------------------------------------------------------------------


def test_the_followup_link_reopens_the_conversation_in_the_widget(smtp, confirmed, sam):
    conversation = conversation_of(confirmed, assignee=sam)
    agent_says(conversation, sam, "Your refund is on its way.")
    make_due()
    run_due_tasks()
    path = link_path(parts(smtp.messages[0])["text/plain"], "open")
    assert path in parts(smtp.messages[0])["text/html"]

    response = Client().get(path)
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    nonce = re.search(r"script-src 'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    page = response.content.decode()
    assert f'<script nonce="{nonce}">' in page
    data = response.context["data"]
    assert data["widget_url"] == f"/widget/{confirmed.site.key}/"
    assert data["site_key"] == confirmed.site.key and data["visitor"] == str(confirmed.pk)
    claim = tokens.visitor_token_read(data["token"])  # a fresh token the widget resumes the visitor with
    assert (claim.visitor_id, claim.site_id, claim.version) == (confirmed.pk, confirmed.site_id, 0)
    assert 'id="parley-open"' in page and '"parley:" + data.site_key + ":"' in page


def test_reopen_links_that_are_changed_expired_or_revoked_are_refused(confirmed, site):
    conversation = conversation_of(confirmed)
    url = links.open_url(visitor_id=confirmed.pk, conversation_id=conversation.pk, version=0)
    path = url.removeprefix(links.absolute(""))
    client = Client()
    assert client.get(path).status_code == 200

    token = path.split("/")[3]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/email/open/{tampered}/").status_code == 400
    # Signed for a conversation of another visitor: refused, as if forged.
    other = conversation_of(make_visitor(site))
    forged = links.open_url(visitor_id=confirmed.pk, conversation_id=other.pk, version=0)
    assert client.get(forged.removeprefix(links.absolute(""))).status_code == 400
    # Another salt (an unsubscribe link's value) does not open anything.
    unsubscribe_token = links.unsubscribe_url(visitor_id=confirmed.pk, email=confirmed.email).split("/")[-2]
    assert client.get(f"/email/open/{unsubscribe_token}/").status_code == 400
    # 31 days old: expired.
    old = signed_days_ago({"v": confirmed.pk, "c": conversation.pk, "n": 0}, links.OPEN_SALT, days=31)
    response = client.get(f"/email/open/{old}/")
    assert response.status_code == 400
    assert "This link does not work" in response.content.decode()
    # Parley.reset() revoked the visitor's tokens: its links end too.
    confirmed.token_version = 1
    confirmed.save(update_fields=["token_version"])
    assert client.get(path).status_code == 400


def signed_days_ago(data: dict, salt: str, *, days: int) -> str:
    """What signing.dumps would have made `days` ago (Django's own signer with an older clock)."""

    class OldSigner(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(timezone.now().timestamp()) - days * 86400)

    return OldSigner(salt=salt).sign_object(data, compress=True)


# ---- the transcript -----------------------------------------------------------------------


def test_transcript_is_emailed_without_notes_even_to_an_unconfirmed_address(smtp, site, sam):
    visitor = make_visitor(site, name="Dora")  # no address of its own, nothing confirmed
    conversation = conversation_of(visitor, assignee=sam)
    add(conversation, "customer", "Can I return shoes?")
    add(conversation, "bot", "Yes, within 30 days.")
    add(conversation, "agent", "Internal: VIP customer", agent=sam, internal=True)
    add(conversation, "agent", "I've started your return.", agent=sam)
    with transaction.atomic():
        notifications.transcript_requested(conversation=conversation, email="dora@example.com")
    assert run_due_tasks() == 1  # due at once
    [message] = smtp.messages
    assert message["To"] == "dora@example.com"
    assert message["Subject"] == "Your conversation with Shop"
    assert message["List-Unsubscribe"].strip().startswith("<https://chat.example.com/email/unsubscribe/")
    text = parts(message)["text/plain"]
    for line in ("You (", "Can I return shoes?", "Assistant (", "Yes, within 30 days.", "Sam (", "started your return"):
        assert line in text
    assert "VIP" not in text and "VIP" not in parts(message)["text/html"]


# ---- the agent's notice -----------------------------------------------------------------


def test_an_agent_without_an_open_dashboard_is_emailed_about_an_assignment(smtp, site, sam):
    visitor = make_visitor(site, name="Eve")
    conversation = conversation_of(visitor, assignee=sam)
    add(conversation, "customer", "My order never came")
    with transaction.atomic():
        notifications.conversation_assigned(conversation=conversation, assignee=sam)
    run_due_tasks()
    [message] = smtp.messages
    assert message["To"] == "sam@shop.example"
    assert message["Subject"] == f"Conversation #{conversation.pk} was assigned to you"
    text = parts(message)["text/plain"]
    assert f"https://chat.example.com/agent/#conversation={conversation.pk}" in text  # desk.js opens it
    assert "Eve is waiting on Shop" in text and "My order never came" in text

    # The unsubscribe link of an agent's notice turns the setting off.
    path = link_path(text, "unsubscribe")
    assert Client().post(path).status_code == 200
    assert not AgentProfile.objects.get(user=sam).email_when_offline
    with transaction.atomic():
        notifications.conversation_assigned(conversation=conversation, assignee=sam)
    run_due_tasks()
    assert len(smtp.messages) == 1


def test_no_notice_while_a_dashboard_is_open_or_when_turned_off(smtp, site, sam):
    conversation = conversation_of(make_visitor(site), assignee=sam)
    AgentConnection.objects.create(user=sam, channel_name="desk.1")  # pinged just now
    with transaction.atomic():
        notifications.conversation_assigned(conversation=conversation, assignee=sam)
    run_due_tasks()
    assert smtp.messages == []

    AgentConnection.objects.all().delete()
    AgentProfile.objects.filter(user=sam).update(email_when_offline=False)
    with transaction.atomic():
        notifications.conversation_assigned(conversation=conversation, assignee=sam)
    run_due_tasks()
    assert smtp.messages == []
    assert {r.return_value["why"] for r in results()} == {"online", "turned off"}


def test_no_notice_when_reassigned_before_the_task_ran(smtp, site, sam):
    ann = get_user_model().objects.create_user(username="ann", email="ann@shop.example")
    conversation = conversation_of(make_visitor(site), assignee=sam)
    with transaction.atomic():
        notifications.conversation_assigned(conversation=conversation, assignee=sam)
    Conversation.objects.filter(pk=conversation.pk).update(assignee=ann)
    run_due_tasks()
    assert smtp.messages == []


# ---- confirming an address --------------------------------------------------------------


def test_a_new_address_is_confirmed_by_its_signed_link(smtp, site):
    visitor = make_visitor(site, email="finn@example.com")
    with transaction.atomic():
        notifications.contact_given(visitor)
    run_due_tasks()
    [message] = smtp.messages
    assert message["To"] == "finn@example.com"
    assert message["Subject"] == "Confirm your email address for Shop"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = link_path(parts(message)["text/plain"], "confirm")
    assert path in parts(message)["text/html"]

    client = Client()
    tampered = path[:-3] + ("x" if path[-3] != "x" else "y") + path[-2:]
    assert client.get(tampered).status_code == 400
    visitor.refresh_from_db()
    assert visitor.email_confirmed_at is None

    response = client.get(path)
    assert response.status_code == 200
    assert "Address confirmed" in response.content.decode()
    visitor.refresh_from_db()
    assert visitor.email_confirmed

    # Confirmed and unchanged: the hook sends nothing more.
    with transaction.atomic():
        notifications.contact_given(visitor)
    run_due_tasks()
    assert len(smtp.messages) == 1


def test_a_confirm_link_is_refused_once_expired_or_for_an_old_address(site, settings):
    visitor = make_visitor(site, email="gil@example.com")
    old = signed_days_ago({"v": visitor.pk, "e": visitor.email}, links.CONFIRM_SALT, days=8)
    client = Client()
    assert client.get(f"/email/confirm/{old}/").status_code == 400
    path = links.confirm_url(visitor_id=visitor.pk, email=visitor.email).removeprefix(links.absolute(""))
    visitor.email = "gil@elsewhere.example"  # changed since the link was sent
    visitor.save(update_fields=["email"])
    assert client.get(path).status_code == 400
    visitor.refresh_from_db()
    assert visitor.email_confirmed_at is None


def test_pages_speak_the_sites_language(site):
    zh = make_site("商店", language="zh")
    visitor = make_visitor(zh, email="li@example.com")
    path = links.confirm_url(visitor_id=visitor.pk, email=visitor.email).removeprefix(links.absolute(""))
    page = Client().get(path).content.decode()
    assert '<html lang="zh-hans">' in page and "邮箱已确认" in page


# ---- a mail server that refuses -------------------------------------------------------------


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "554 5.7.1 Rejected"], ids=["4xx", "5xx"])
def test_a_refusing_mail_server_makes_the_task_retry_with_backoff_then_fail_visibly(smtp, site, settings, reply):
    settings.PARLEY_TASK_RETRIES = 3
    settings.PARLEY_TASK_RETRY_DELAY = 30
    conversation = conversation_of(make_visitor(site))
    add(conversation, "customer", "Email me this please")
    smtp.refuse = reply
    with transaction.atomic():
        notifications.transcript_requested(conversation=conversation, email="hal@example.com")

    for attempt, delay in enumerate([30, 60, 120], start=1):
        before = timezone.now()
        assert run_due_tasks() == 1
        failed, retry = results(status="FAILED")[-1], results(status="READY")
        assert failed.exception_class_path == "smtplib.SMTPDataError"
        assert reply.split()[0] in failed.traceback
        [retry] = retry
        assert retry.args_kwargs == {"args": [conversation.pk, "hal@example.com"], "kwargs": {"attempt": attempt + 1}}
        wait = (retry.run_after - before).total_seconds()
        assert delay - 1 < wait < delay + 5, f"attempt {attempt + 1} waits {wait} s"
        assert run_due_tasks() == 0, "not before its time"
        make_due()

    assert run_due_tasks() == 1  # the fourth and last attempt
    assert results(status="READY") == []
    attempts = results(task_path="chat.tasks.emails.email_transcript")
    assert [r.status for r in attempts] == ["FAILED"] * 4
    last = attempts[-1]
    assert last.exception_class_path == "chat.tasks.retry.GaveUp"
    assert "SMTPDataError" in last.traceback

    # Visible to staff in the admin: the failed results, and the last one's traceback.
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(staff)
    listing = client.get(reverse("admin:django_tasks_database_dbtaskresult_changelist"), {"status__exact": "FAILED"})
    assert listing.status_code == 200
    assert listing.content.decode().count("email_transcript") >= 4
    detail = client.get(reverse("admin:django_tasks_database_dbtaskresult_change", args=[last.pk]))
    assert detail.status_code == 200
    assert "GaveUp" in detail.content.decode()

    # Nothing else broke: the server accepts again and the next email goes.
    smtp.refuse = None
    with transaction.atomic():
        notifications.transcript_requested(conversation=conversation, email="hal@example.com")
    assert run_due_tasks() == 1
    assert [m["To"] for m in smtp.messages] == ["hal@example.com"]


def test_a_failed_followup_gives_its_answers_back_for_the_retry(smtp, confirmed, sam, settings):
    conversation = conversation_of(confirmed, assignee=sam)
    agent_says(conversation, sam, "First try fails")
    smtp.refuse = "421 4.7.0 Too busy"
    make_due()
    run_due_tasks()
    conversation.refresh_from_db()
    assert conversation.emailed_seq == 0
    smtp.refuse = None
    make_due()
    run_due_tasks()
    assert len(smtp.messages) == 1 and "First try fails" in parts(smtp.messages[0])["text/plain"]
    assert [r.status for r in results()] == ["FAILED", "SUCCESSFUL"]


def test_an_unreachable_mail_server_is_retried_too(site, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    conversation = conversation_of(make_visitor(site))
    with transaction.atomic():
        notifications.transcript_requested(conversation=conversation, email="ivy@example.com")
    run_due_tasks()
    assert [r.status for r in results()] == ["FAILED", "READY"]
    assert results()[0].exception_class_path == "builtins.ConnectionRefusedError"


# ---- EMAIL_URL and the embedded worker ---------------------------------------------------------


def test_email_url_forms_and_errors_that_never_show_the_password():
    assert email_from_url("EMAIL_URL", "console://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    smtp = email_from_url("EMAIL_URL", "smtp://me%40shop.example:p%40ss@mail.shop.example:2525?tls=1")
    assert smtp["EMAIL_HOST"] == "mail.shop.example" and smtp["EMAIL_PORT"] == 2525
    assert smtp["EMAIL_HOST_USER"] == "me@shop.example" and smtp["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert smtp["EMAIL_USE_TLS"] and not smtp["EMAIL_USE_SSL"]
    ssl = email_from_url("EMAIL_URL", "smtps://u:pw@mail.shop.example")
    assert ssl["EMAIL_USE_SSL"] and ssl["EMAIL_PORT"] == 465
    assert email_from_url("EMAIL_URL", "smtp://mail.shop.example?tls=1")["EMAIL_PORT"] == 587
    from django.core.exceptions import ImproperlyConfigured

    for bad in (
        "smtp://u:hunter2secret@",
        "mailto://u:hunter2secret@host",
        "smtp://u:hunter2secret@host:99999",
        "smtp://u:hunter2secret@host?verify=0",
        "smtps://u:hunter2secret@host?tls=1",
        "smtp://u:hunter2secret@host?timeout=soon",
    ):
        with pytest.raises(ImproperlyConfigured) as error:
            email_from_url("EMAIL_URL", bad)
        assert "hunter2secret" not in str(error.value)
        assert "EMAIL_URL=" in str(error.value)


def test_smtp_login_from_the_email_url(site, settings):
    """A server that wants a login: the user and password of EMAIL_URL are what it gets."""
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cr:t")

    handler = Mailbox()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        url = f"smtp://bot%40shop.example:s3cr%3At@127.0.0.1:{controller.port}"
        for name, value in email_from_url("EMAIL_URL", url).items():
            setattr(settings, name, value)
        conversation = conversation_of(make_visitor(site))
        with transaction.atomic():
            notifications.transcript_requested(conversation=conversation, email="jo@example.com")
        run_due_tasks()
    finally:
        controller.stop()
    assert seen == [(b"bot@shop.example", b"s3cr:t")]
    assert len(handler.messages) == 1


def test_the_embedded_worker_sends_without_a_separate_process(smtp, site, settings):
    """What `make run` does: a thread of the server process runs the queue, and stops when asked."""
    settings.PARLEY_EMBEDDED_TASKS = False
    assert embedded_task_runners(None) == []
    worker = EmbeddedTaskWorker(interval=0.05, worker_id="embedded-test")
    worker.start()
    try:
        conversation = conversation_of(make_visitor(site))
        with transaction.atomic():
            notifications.transcript_requested(conversation=conversation, email="kim@example.com")
        assert smtp.arrived.wait(timeout=20), "the embedded worker never sent it"
    finally:
        worker.stop()
        worker.thread.join(timeout=10)
    assert not worker.thread.is_alive()
    assert [m["To"] for m in smtp.messages] == ["kim@example.com"]
