"""The customer widget in real Chromium against a live Daphne: streaming, stop, reload, offline, lazy loading,
keyboard use, phone layout, a cross-origin host page and an agent joining. The offline `kb` bot is slowed
to 25 characters a second so a reply can be caught mid-stream; every wait is on DOM state."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import http.server
import threading
from pathlib import Path

import pytest

from tests.browser.widget_driver import (
    RECORDER_JS,
    TIMEOUT_MS,
    as_shown,
    ask,
    conversation_id,
    db_transcript,
    dom_transcript,
    live_server,
    open_widget,
    save_screenshot,
    wait_for_bot,
    widget_frame,
)

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DELIVERY = "How long does delivery take?"
PAYMENT = "Which payment methods do you accept?"
LOADER_GZIP_BUDGET = 5 * 1024


@pytest.fixture(scope="module")
def parley_server(tmp_path_factory):
    """The live server with the kb bot typing at 25 characters a second, so a reply can be caught mid-stream.

    Overridden here because the shared fixture sets AI_TYPING_CPS itself, so `parley_server_env` cannot change it.
    """
    yield from live_server(tmp_path_factory, AI_TYPING_CPS="25")


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def assert_matches_database(frame, server):
    """The widget shows exactly what the database holds: same seqs, authors, statuses and text."""
    rows = db_transcript(server, conversation_id(frame))
    assert dom_transcript(frame) == as_shown(rows)
    return rows


def test_reply_streams_in_and_ends_complete(parley_server, context, artifacts):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    frame.evaluate(RECORDER_JS)
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")

    paints = frame.evaluate("window.__paints")
    streaming = [p["length"] for p in paints if p["status"] == "streaming"]
    assert len(set(streaming)) > 3, paints  # painted word by word, not all at once
    assert [p["length"] for p in paints] == sorted(p["length"] for p in paints)  # it only ever grows
    assert paints[-1]["status"] == "complete"
    rows = assert_matches_database(frame, parley_server)
    assert [r["author"] for r in rows] == ["customer", "bot"]
    assert frame.is_hidden("#stop")
    save_screenshot(page, artifacts, "widget-desktop.png")


def test_stop_freezes_the_reply_also_after_a_reload(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="streaming", min_length=20)
    frame.click("#stop")
    wait_for_bot(frame, status="stopped")
    frame.wait_for_selector("#stop", state="hidden")
    stopped = dom_transcript(frame)[-1]
    assert stopped["author"] == "bot" and 20 <= len(stopped["text"]) < 150
    assert frame.text_content("#transcript [data-author=bot] .note") == "Stopped"

    # Time passes (a whole second reply streams) and the stopped one does not grow.
    ask(frame, PAYMENT)
    wait_for_bot(frame, count=2, status="complete")
    assert dom_transcript(frame)[1] == stopped
    rows = assert_matches_database(frame, parley_server)
    assert [r["status"] for r in rows if r["author"] == "bot"] == ["stopped", "complete"]

    page.reload()
    frame = widget_frame(page)  # it was open, so it opens again
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    wait_for_bot(frame, count=2, status="complete")
    assert dom_transcript(frame)[1] == stopped
    assert_matches_database(frame, parley_server)


def test_reload_mid_reply_continues_without_gaps_or_repeats(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="streaming", min_length=30)
    before = dom_transcript(frame)[-1]["text"]

    page.reload()
    frame = widget_frame(page)
    frame.evaluate(RECORDER_JS)
    wait_for_bot(frame, status="complete")

    paints = frame.evaluate("window.__paints")
    assert any(p["status"] == "streaming" and p["length"] > len(before) for p in paints), paints  # it went on live
    final = dom_transcript(frame)[-1]["text"]
    assert final.startswith(before) and len(final) > len(before)
    rows = assert_matches_database(frame, parley_server)
    assert [r["author"] for r in rows] == ["customer", "bot"]


def test_message_sent_offline_is_delivered_once_when_back_online(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")

    context.set_offline(True)
    frame.wait_for_selector("#status[data-state=offline]")
    assert "reconnecting" in frame.text_content("#status").lower()
    # The banner sits above the messages, not over them.
    status, scroll = (frame.locator(selector).bounding_box() for selector in ("#status", "#scroll"))
    assert status["y"] + status["height"] <= scroll["y"]
    ask(frame, PAYMENT)
    frame.wait_for_selector("#transcript .msg.pending[data-status=pending]")
    assert frame.text_content("#transcript .msg.pending .body") == PAYMENT

    context.set_offline(False)
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    wait_for_bot(frame, count=2, status="complete")
    frame.wait_for_selector("#transcript .msg.pending", state="detached")
    rows = assert_matches_database(frame, parley_server)
    assert [r["body"] for r in rows if r["author"] == "customer"] == [DELIVERY, PAYMENT]


def test_no_iframe_until_the_launcher_is_clicked(parley_server, context):
    page = context.new_page()
    widget_requests = []
    page.on(
        "request",
        lambda r: (
            widget_requests.append(r.url)
            if "/widget/demo-shop/" in r.url or "/api/widget/" in r.url or "/ws/" in r.url
            else None
        ),
    )
    page.goto(parley_server.url + "/", wait_until="networkidle")
    page.wait_for_selector("#parley-launcher")
    assert page.locator("iframe").count() == 0 and widget_requests == []

    responses = []
    page.on("response", lambda response: responses.append(response))
    page.click("#parley-launcher")
    frame = widget_frame(page)
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    assert page.locator("iframe#parley-frame").count() == 1
    assert any("/widget/demo-shop/" in url for url in widget_requests)

    served, compressed, headers = 0, 0, 0
    for response in responses:
        body = response.body()
        served += len(body)
        compressed += len(gzip.compress(body, 9))
        headers += response.request.sizes()["responseHeadersSize"]
    print(
        f"\nwidget opened: {len(responses)} HTTP responses, {served:,} body bytes as served "
        f"(+{headers:,} header bytes); {compressed:,} bytes if gzip-compressed"
    )
    # What a customer downloads: static files go out compressed (whitenoise's precompressed files, nginx gzip).
    assert compressed < 70_000


def test_loader_is_small():
    source = (ROOT / "static" / "widget" / "loader.js").read_bytes()
    size = len(gzip.compress(source, 9))
    print(f"\nloader.js: {len(source):,} bytes, {size:,} bytes gzip -9")
    assert size < LOADER_GZIP_BUDGET


def test_keyboard_only_open_type_send_and_escape(parley_server, context):
    page = context.new_page()
    page.goto(parley_server.url + "/")
    page.focus("#parley-launcher")
    page.keyboard.press("Enter")
    frame = widget_frame(page)
    frame.wait_for_function("() => document.hasFocus() && document.activeElement.id === 'composer'")
    assert frame.get_attribute("#transcript", "aria-live") == "polite"
    page.keyboard.type(DELIVERY)
    page.keyboard.press("Enter")
    frame.wait_for_selector("#transcript [data-author=customer][data-seq]")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'parley-launcher'")
    assert page.get_attribute("#parley-launcher", "aria-expanded") == "false"
    page.wait_for_selector("#parley-frame", state="hidden")
    page.keyboard.press("Enter")
    page.wait_for_selector("#parley-frame", state="visible")
    frame.wait_for_function("() => document.activeElement.id === 'composer'")


def test_phone_layout_is_full_screen(parley_server, browser, artifacts):
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    page.wait_for_function("""() => { const r = document.getElementById('parley-frame').getBoundingClientRect();
        return r.left === 0 && r.top === 0 && r.width === 360 && r.height === 740; }""")
    assert frame.evaluate("document.documentElement.scrollWidth") <= 360  # nothing overflows sideways
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")
    frame.wait_for_function(
        "() => { const s = document.getElementById('scroll'); "
        "return s.scrollHeight - s.scrollTop - s.clientHeight < 2; }"
    )
    save_screenshot(page, artifacts, "widget-phone.png")
    context.close()


@pytest.fixture(scope="module")
def other_shop(parley_server):
    """A host page on another origin (another port), allowed to embed the demo site's widget."""
    snippet = f'<script src="{parley_server.url}/static/widget/loader.js" data-site="demo-shop" async></script>'
    page = f"<!doctype html><meta charset=utf-8><title>Other shop</title><h1>Another shop</h1>{snippet}".encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    parley_server.manage("seed_demo", "--origin", origin)
    yield origin
    server.shutdown()


def test_cross_origin_host_page_uses_the_api_and_gets_unread_counts(parley_server, context, other_shop):
    page = context.new_page()
    page.goto(f"{other_shop}/products/42")
    page.wait_for_function("() => window.Parley && window.Parley.version === 1")
    page.evaluate("() => { window.__unread = []; Parley.on('unread', d => window.__unread.push(d.count)); }")

    # A forged message from the page itself is not the frame talking: ignored.
    forged = page.evaluate("""() => new Promise(resolve => {
        addEventListener('message', () => setTimeout(() => resolve(Parley.unread)), {once: true});
        postMessage({parley: 1, type: 'unread', count: 7}, '*'); })""")
    assert forged == 0

    user_hash = hmac.new(b"demo-identity-secret", b"u-42", hashlib.sha256).hexdigest()
    page.evaluate(
        "u => Parley.identify(u)", {"userId": "u-42", "name": "Cleo", "email": "cleo@example.com", "hash": user_hash}
    )
    page.evaluate("Parley.open()")
    frame = widget_frame(page)
    assert frame.url.startswith(parley_server.url + "/widget/demo-shop/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="streaming", min_length=1)
    page.evaluate("Parley.close()")
    page.wait_for_function("() => Parley.unread === 1", timeout=TIMEOUT_MS)  # the reply ended while closed
    assert page.text_content("#parley-badge") == "1" and page.is_visible("#parley-badge")
    page.evaluate("Parley.open()")
    page.wait_for_function("() => Parley.unread === 0")
    assert page.evaluate("window.__unread") == [1, 0]

    visitor = parley_server.manage(
        "shell",
        "-c",
        "from chat.models import Visitor; v = Visitor.objects.get("
        "external_id='u-42'); print(v.name, v.email, v.last_page_url, v.conversations.count())",
    )
    assert visitor.strip().splitlines()[-1].split() == ["Cleo", "cleo@example.com", f"{other_shop}/products/42", "1"]


def test_an_agent_joins_types_reads_and_answers(parley_server, context, browser):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")
    conversation = conversation_id(frame)

    desk = browser.new_context()
    agent = desk.new_page()
    agent.goto(parley_server.url + "/accounts/login/")
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", "parley-agent")
    agent.click("button[type=submit]")
    agent.wait_for_url(lambda url: "/accounts/login/" not in url)
    agent.evaluate(
        """conversation => new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws/agent/`);
        window.agentSend = frame => ws.send(JSON.stringify(frame));
        window.agentHeard = [];
        ws.onmessage = event => { const frame = JSON.parse(event.data); agentHeard.push(frame);
            if (frame.type === 'welcome') ws.send(JSON.stringify({type: 'subscribe', conversation, cursor: '0.0'}));
            if (frame.type === 'subscribed') resolve(); };
        ws.onclose = event => reject(new Error('agent socket closed ' + event.code)); })""",
        conversation,
    )

    frame.fill("#composer", "Actually, one more")  # the customer typing reaches the desk
    agent.wait_for_function(
        "() => agentHeard.some(f => f.type === 'typing' && f.author.kind === 'customer' && f.active)"
    )
    frame.fill("#composer", "")

    agent.evaluate("c => agentSend({type: 'typing', conversation: c, active: true})", conversation)
    frame.wait_for_selector("#typing[data-kind=agent]")
    assert "Sam" in frame.text_content("#typing")

    agent.evaluate("c => agentSend({type: 'read', conversation: c, seq: 2})", conversation)
    frame.wait_for_selector("#transcript [data-author=customer][data-seq='1'] .seen:not([hidden])")

    answer = "Hi, Sam here! <b>Not bold</b> — happy to help."
    agent.evaluate(
        "([c, body]) => agentSend({type: 'message.send', conversation: c, body, internal: false, "
        "client_id: crypto.randomUUID()})",
        [conversation, answer],
    )
    # Seq 3 tells the customer who joined (in the widget's language); the answer follows it.
    frame.wait_for_selector("#transcript [data-author=agent][data-seq='4']")
    assert frame.text_content("#transcript [data-author=system][data-seq='3'] .body") == "Sam joined the conversation"
    assert frame.text_content("#transcript [data-author=agent] .body") == answer
    assert frame.locator("#transcript [data-author=agent] .body b").count() == 0
    frame.wait_for_selector("#typing", state="hidden")
    frame.wait_for_function("() => document.getElementById('presence-text').textContent.includes('Sam')")
    assert frame.is_hidden("#handoff")
    assert_matches_database(frame, parley_server)
    desk.close()


def test_identify_switches_to_the_users_conversation_and_logout_forgets_it(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")
    empty = "() => !document.querySelector('#transcript [data-seq]')"
    user = {
        "userId": "u-77",
        "name": "Ada",
        "email": "ada@example.com",
        "hash": hmac.new(b"demo-identity-secret", b"u-77", hashlib.sha256).hexdigest(),
    }

    page.evaluate("u => Parley.identify(u)", user)
    frame.wait_for_function(empty)  # the signed-in user has no conversation yet: the anonymous one is not theirs
    ask(frame, PAYMENT)
    wait_for_bot(frame, status="complete")
    theirs = dom_transcript(frame)

    page.evaluate("Parley.identify(null)")  # signed out: nothing of theirs stays on screen
    frame.wait_for_function(empty)
    page.evaluate("u => Parley.identify(u)", user)
    frame.wait_for_function("n => document.querySelectorAll('#transcript [data-seq]').length === n", arg=len(theirs))
    assert dom_transcript(frame) == theirs
    assert [row["text"] for row in theirs if row["author"] == "customer"] == [PAYMENT]


def test_talk_to_a_human_hands_off_and_says_nobody_is_around(parley_server, context):
    page = context.new_page()
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")
    frame.click("#handoff")
    frame.wait_for_selector("#transcript [data-author=system][data-seq='3']")
    frame.wait_for_selector("#handoff", state="hidden")
    frame.wait_for_selector("#away", state="visible")  # no agent is online in this test
    assert "away" in frame.text_content("#presence-text").lower()
    rows = assert_matches_database(frame, parley_server)
    assert rows[-1]["author"] == "system"


def test_a_chinese_widget_says_the_handoff_in_chinese_on_an_english_site(parley_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        frame = open_widget(context.new_page(), parley_server.url + "/")
        ask(frame, "你好")
        wait_for_bot(frame, status="complete")
        frame.click("#handoff")
        line = frame.locator("#transcript [data-author=system][data-seq] .body").last
        line.wait_for()
        # The stored line is in the site's language (the desk and emails show it); the widget says it in its own.
        assert line.text_content().startswith("我们的客服现在不在线")
        stored = db_transcript(parley_server, conversation_id(frame))[-1]
        assert stored["author"] == "system" and stored["body"].startswith("Our team is away right now")
    finally:
        context.close()


def test_without_websockets_the_widget_falls_back_to_server_sent_events(parley_server, context):
    context.route_web_socket("**/ws/widget/", lambda ws: ws.close(code=1011))
    page = context.new_page()
    event_streams = []
    page.on("request", lambda r: event_streams.append(r.url) if "/api/widget/events" in r.url else None)
    frame = open_widget(page, parley_server.url + "/")
    frame.wait_for_selector("#status[data-state=open]", state="attached")
    assert event_streams
    frame.evaluate(RECORDER_JS)
    ask(frame, DELIVERY)
    wait_for_bot(frame, status="complete")
    assert len({p["length"] for p in frame.evaluate("window.__paints") if p["status"] == "streaming"}) > 3
    frame.click("#handoff")  # over HTTP, since there is no socket to send it on
    frame.wait_for_selector("#transcript [data-author=system]")
    assert_matches_database(frame, parley_server)


def test_pre_chat_form_and_away_message_outside_business_hours(parley_server, browser):
    parley_server.manage(
        "shell",
        "-c",
        (
            "from chat.models import Site; Site.objects.update_or_create(key='quiet-shop', defaults=dict("
            "name='Quiet Shop', ask_contact=True, away_message='We are closed for the holidays.', "
            "business_hours={str(d): [] for d in range(7)}))"
        ),
    )
    context = browser.new_context(viewport={"width": 420, "height": 720})
    page = context.new_page()
    page.goto(parley_server.url + "/widget/quiet-shop/")  # the frame on its own, as a full page
    page.wait_for_selector("body[data-ready=true]", state="attached")
    assert page.is_visible("#away") and "closed for the holidays" in page.text_content("#away")
    assert "away" in page.text_content("#presence-text").lower()
    page.wait_for_selector("#prechat", state="visible")
    assert page.is_hidden("#composer") and page.is_hidden("#close")

    page.fill("#prechat-name", "Cleo")
    page.fill("#prechat-email", "not-an-email")
    page.click("#prechat button[type=submit]")
    page.wait_for_selector("#prechat-error", state="visible")
    assert page.get_attribute("#prechat-email", "aria-invalid") == "true"
    page.fill("#prechat-email", "cleo@example.com")
    page.click("#prechat button[type=submit]")
    page.wait_for_selector("#prechat", state="hidden")
    page.wait_for_function("() => document.activeElement.id === 'composer'")
    ask(page, "Are you open tomorrow?")
    page.wait_for_selector("#transcript [data-author=customer][data-seq]")
    visitor = parley_server.manage(
        "shell",
        "-c",
        "from chat.models import Visitor; v = Visitor.objects.filter("
        "site__key='quiet-shop').latest('pk'); print(v.name, v.email)",
    )
    assert visitor.strip().splitlines()[-1] == "Cleo cleo@example.com"
    context.close()
