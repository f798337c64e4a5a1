"""Files in the agent desk (docs/protocol.md section 3.2), in real Chromium against a live Daphne.

The customer is the demo shop's widget; its files go up and out as the widget sends them (POST
/api/widget/attachments with its Bearer token, then `message.send` on a socket of its own that records every
frame the customer receives). The agent attaches with the paperclip, by paste and by drop. Every wait is on
DOM state or a received frame; nothing sleeps.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.desk_drivers import (
    DROP_FILES_JS,
    PASTE_FILES_JS,
    PDF_BYTES,
    Customer,
    CustomerSocket,
    Desk,
    attach_files,
    clipboard_files,
    png_bytes,
    save_screenshot,
    token,
)
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

BOT_WORDS = "Sorry to hear that! I've let the team know, and someone will be with you in a moment."
BOT_TOKENS = [BOT_WORDS.split(" ")[0]] + [" " + word for word in BOT_WORDS.split(" ")[1:]]
SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


@pytest.fixture(scope="module")
def fake_openai():
    with FakeOpenAI(tokens=BOT_TOKENS, delay=0.005) as server:
        yield server


@pytest.fixture(scope="module")
def parley_server_env(tmp_path_factory, fake_openai):
    return {
        # Uploaded files of this module go to a directory of its own, not the checkout's media/.
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        "AI_PROVIDER": "openai",
        "AI_BASE_URL": fake_openai.base_url,
        "AI_API_KEY": "sk-desk-attachment-tests",
    }


def waiting_customer(desk: Desk, customer: Customer, text: str) -> tuple[int, CustomerSocket]:
    """The customer asks for a person and writes; the agent opens the conversation. Returns (id, socket)."""
    customer.ask_for_human()
    customer.say(text)
    conversation = customer.conversation_id()
    socket = CustomerSocket(customer)
    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    desk.item("customer", text).wait_for()
    return conversation, socket


def tray_chip(desk: Desk, name: str, state: str):
    return desk.page.locator(f"#attachment-tray [data-name='{name}'][data-state={state}]")


def test_the_customers_image_shows_live_as_a_thumbnail_that_opens_full_size(desk, customer):
    conversation, socket = waiting_customer(desk, customer, token("Broken") + " my parcel arrived broken")
    upload = socket.upload("broken-box.png", "image/png", png_bytes(640, 480))
    assert upload["status"] == 201, upload
    ack = socket.send("Here is a photo", [upload["body"]["attachment"]["id"]])
    assert ack["type"] == "message.ack", ack

    item = desk.page.locator(f"#desk-transcript [data-seq='{ack['seq']}'][data-author=customer]")
    thumb = item.locator(".file-image img")
    thumb.wait_for()
    assert thumb.get_attribute("alt") == "broken-box.png"
    # Sized before it loads (no layout jump): the 640 x 480 original fits a 240 x 180 box.
    assert (thumb.get_attribute("width"), thumb.get_attribute("height")) == ("240", "180")
    desk.page.wait_for_function(
        "seq => { const i = document.querySelector(`#desk-transcript [data-seq='${seq}'] .file-image img`);"
        " return i && i.complete && i.naturalWidth > 0; }",
        arg=ack["seq"],
    )
    assert (
        desk.page.evaluate(
            "seq => document.querySelector(`#desk-transcript [data-seq='${seq}'] .file-image img`).naturalWidth",
            ack["seq"],
        )
        == 320
    )  # the server's thumbnail, not the original
    assert "Here is a photo" in item.locator(".body").text_content()

    item.locator(".file-image").click()
    desk.page.wait_for_selector("#file-lightbox[open]")
    assert desk.page.text_content("#lightbox-title") == "broken-box.png"
    desk.page.wait_for_function(
        "() => { const i = document.querySelector('#lightbox-image'); return i.complete && i.naturalWidth === 640; }"
    )
    full = desk.page.get_attribute("#lightbox-image", "src")
    assert full == item.locator(".file-image").get_attribute("href")
    answer = desk.context.request.get(desk.page.url.split("/agent/")[0] + full)
    assert answer.status == 200 and answer.headers["content-type"] == "image/png"
    assert "attachment" not in answer.headers.get("content-disposition", "")  # images show inline
    desk.page.keyboard.press("Escape")
    desk.page.wait_for_selector("#file-lightbox:not([open])", state="attached")

    # A re-subscription brings fresh links (they expire after an hour), and what is drawn uses them.
    before = thumb.get_attribute("src")
    # The broken-image event is raised again while the src is unchanged: a refresh asked for while the desk
    # was still re-syncing is skipped, and the desk asks again on the next failure.
    desk.page.wait_for_function(
        "([seq, before]) => { const i = document.querySelector(`#desk-transcript [data-seq='${seq}'] .file-image img`);"
        " if (i && i.getAttribute('src') !== before) return true;"
        " if (i) i.dispatchEvent(new Event('error')); return false; }",
        arg=[ack["seq"], before],
        polling=500,
    )
    assert desk.context.request.get(desk.page.url.split("/agent/")[0] + thumb.get_attribute("src")).status == 200
    assert conversation == customer.conversation_id()


def test_the_agent_sends_a_pdf_and_the_customer_downloads_it(desk, customer):
    conversation, socket = waiting_customer(desk, customer, token("Return") + " how do I send it back?")
    attach_files(desk, [{"name": "return-label.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}])
    chip = tray_chip(desk, "return-label.pdf", "done")
    chip.wait_for()
    assert "PDF" in chip.text_content()
    remove = desk.page.get_by_role("button", name="Remove return-label.pdf")
    assert remove.is_visible()
    assert desk.page.get_by_role("button", name="Attach files").is_visible()

    # A pasted screenshot joins it, and is removed again from the keyboard: focus its chip, Delete.
    desk.page.evaluate(PASTE_FILES_JS, clipboard_files([("image.png", "image/png", png_bytes(80, 60))]))
    pasted = tray_chip(desk, "image.png", "done")
    pasted.wait_for()
    pasted.focus()
    desk.page.keyboard.press("Delete")
    pasted.wait_for(state="detached")

    desk.page.fill("#desk-composer", "")  # files and no text: Send still sends
    desk.page.press("#desk-composer", "Enter")
    desk.page.wait_for_selector("#attachment-tray", state="hidden")
    row = desk.page.locator("#desk-transcript [data-seq][data-author=agent] .file-row[data-name='return-label.pdf']")
    row.wait_for()
    assert re.fullmatch(r"return-label\.pdf\s*PDF · \d+ B", row.text_content().strip())

    sent = socket.wait_for_message("(m) => (m.attachments || []).some((a) => a.name === 'return-label.pdf')")
    [file] = sent["attachments"]
    assert (file["type"], file["image"], sent["body"]) == ("application/pdf", False, "")
    assert file["url"] != row.get_attribute("href")  # the customer's own link, not the agents'
    download = socket.fetch(file["url"])
    assert download["status"] == 200 and download["head"].startswith("%PDF")
    assert download["disposition"].startswith("attachment") and "return-label.pdf" in download["disposition"]
    assert socket.fetch(row.get_attribute("href"))["status"] == 404  # the agents' link needs a desk session
    sends = [f for f in socket.frames() if f["type"] == "message.new" and f["message"].get("attachments")]
    assert len(sends) == 1
    assert conversation == customer.conversation_id()


def test_an_internal_notes_file_never_reaches_the_customer(parley_server, desk, customer):
    conversation, socket = waiting_customer(desk, customer, token("Refund") + " where is my refund?")
    secret = token("NOTE") + " warehouse photo of the return"
    desk.page.click("#note-toggle")
    attach_files(desk, [{"name": "warehouse-note.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}])
    tray_chip(desk, "warehouse-note.pdf", "done").wait_for()
    desk.page.fill("#desk-composer", secret)
    desk.page.press("#desk-composer", "Enter")
    note = desk.item("agent", secret)
    note.wait_for()
    assert note.get_attribute("data-internal") == "true"
    file_row = note.locator(".file-row[data-name='warehouse-note.pdf']")
    file_row.wait_for()
    agents_link = file_row.get_attribute("href")
    assert desk.context.request.get(desk.page.url.split("/agent/")[0] + agents_link).status == 200

    desk.page.click("#reply-mode")
    public = token("Public") + " your refund is on its way"
    desk.send(public)
    socket.wait_for_message(f"(m) => m.body === {json.dumps(public)}")  # later than the note: it had its chance
    frames = json.dumps(socket.frames())
    assert secret not in frames and "warehouse-note.pdf" not in frames
    customer.wait_for("agent", public)
    assert secret not in customer.frame.content() and "warehouse-note.pdf" not in customer.frame.content()

    # The file's link made for this customer (signed with the server's key) refuses them; so does the agents'.
    file_id = int(file_row.get_attribute("data-file-id"))
    customer_link = parley_server.manage(
        "shell",
        "-c",
        f"from chat.security.file_links import file_link; print(file_link({file_id}, visitor_id={socket.visitor_id}))",
    ).split()[-1]  # the shell's banner comes first
    assert customer_link.startswith("/files/")
    assert socket.fetch(customer_link)["status"] == 404
    assert socket.fetch(agents_link)["status"] == 404
    assert conversation == customer.conversation_id()


@pytest.mark.parametrize(
    ("name", "type_", "data", "code"),
    [
        # An SVG is read as text with markup in it (tests/chat/test_file_types.py): refused as a mismatch.
        ("invoice.svg", "image/svg+xml", SVG_WITH_SCRIPT, "type_not_allowed"),
        ("invoice.pdf", "application/pdf", png_bytes(40, 30), "type_mismatch"),
        ("notes.txt", "text/plain", b"", "empty_file"),
    ],
    ids=["svg-with-script", "png-named-pdf", "empty"],
)
def test_a_refused_upload_shows_the_servers_reason_and_sends_nothing(desk, customer, name, type_, data, code):
    conversation, socket = waiting_customer(desk, customer, token("Invoice") + " can you check my invoice?")
    messages = desk.page.locator("#desk-transcript [data-seq]").count()
    with desk.page.expect_response("**/agent/api/attachments") as answer:
        desk.page.evaluate(DROP_FILES_JS, clipboard_files([(name, type_, data)]))  # dropped on the conversation
    assert answer.value.status == 400
    refusal = answer.value.json()["error"]
    assert refusal["code"] == code
    detail = refusal["detail"]

    chip = tray_chip(desk, name, "failed")
    chip.wait_for()
    assert chip.get_attribute("data-code") == code
    assert chip.locator("[role=alert]").text_content() == detail
    assert chip.locator(".tray-retry").count() == 0  # the same file would be refused again

    desk.page.press("#desk-composer", "Enter")  # with a refused file and no text: nothing goes
    desk.page.wait_for_selector("#composer-note:has-text('retry it or remove it')")
    assert desk.page.locator("#desk-transcript .is-pending").count() == 0
    desk.page.get_by_role("button", name=f"Remove {name}").click()
    desk.page.wait_for_selector("#attachment-tray", state="hidden")
    assert desk.page.evaluate("document.activeElement.id") == "desk-composer"

    check = token("Checked") + " all good"
    desk.send(check)
    socket.wait_for_message(f"(m) => m.body === {json.dumps(check)}")
    # Only the text went (after the line telling the customer the agent joined, as the first answer takes over).
    desk.item("system", "joined the conversation").wait_for()
    assert desk.page.locator("#desk-transcript [data-seq]").count() == messages + 2
    customer_news = [
        f for f in socket.frames() if f["type"] == "message.new" and f["message"]["author"]["kind"] == "agent"
    ]
    assert [f["message"]["body"] for f in customer_news] == [check]
    assert conversation == customer.conversation_id()


def test_an_upload_the_network_dropped_is_retried(desk, customer):
    waiting_customer(desk, customer, token("Retry") + " here is my receipt")
    dropped = []

    def drop_once(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    desk.page.route("**/agent/api/attachments", drop_once)
    try:
        attach_files(desk, [{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}])
        failed = tray_chip(desk, "receipt.pdf", "failed")
        failed.wait_for()
        assert "connection dropped" in failed.locator("[role=alert]").text_content()
        desk.page.get_by_role("button", name="Retry uploading receipt.pdf").click()
        tray_chip(desk, "receipt.pdf", "done").wait_for()
    finally:
        desk.page.unroute("**/agent/api/attachments")
    assert len(dropped) == 1
    desk.page.press("#desk-composer", "Enter")
    desk.page.locator("#desk-transcript [data-seq] .file-row[data-name='receipt.pdf']").wait_for()


def test_desk_attachment_screenshot(parley_server, desk, customer, artifacts):
    parley_server.manage("seed_reports_demo", "--days", "0", "--open", "5", "--seed", "11")  # a list with neighbours
    customer.ask_for_human()
    customer.say("Hi! My order #5120 arrived today, but the box is crushed.")
    conversation = customer.conversation_id()
    socket = CustomerSocket(customer)
    desk.view("queue")
    desk.row(conversation).wait_for()
    desk.open(conversation)
    desk.page.locator("#desk-transcript [data-author=bot][data-status=complete]").first.wait_for()
    desk.page.click("#assign-me")  # the agent has it now: the bot stays quiet
    desk.page.wait_for_function("() => document.querySelector('#conv-chip').textContent === 'Assigned to you'")
    upload = socket.upload("crushed-box.png", "image/png", png_bytes(640, 480))
    socket.send("Here's a photo of it.", [upload["body"]["attachment"]["id"]])
    desk.page.wait_for_function(
        "() => { const i = document.querySelector('#desk-transcript .file-image img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    attach_files(desk, [{"name": "return-label-5120.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}])
    tray_chip(desk, "return-label-5120.pdf", "done").wait_for()
    desk.send("So sorry! Here is a prepaid return label, and a replacement ships today.")
    desk.page.locator("#desk-transcript [data-seq] .file-row[data-name='return-label-5120.pdf']").wait_for()
    customer.wait_for("agent", "replacement ships today")
    desk.page.evaluate(PASTE_FILES_JS, clipboard_files([("tracking.png", "image/png", png_bytes(120, 90))]))
    tray_chip(desk, "tracking.png", "done").wait_for()
    desk.page.fill("#desk-composer", "And the tracking page, for your records")
    desk.view("open")
    desk.page.wait_for_selector(f"#conversation-list [data-conversation-id='{conversation}'].is-active")
    save_screenshot(desk.page, artifacts, "desk-attachment.png")


# The desk's socket, watched: every `message.send` it writes is recorded, and the first one can be swallowed
# (as a link that dies right after the frame left would lose it).
WATCH_SENDS_JS = """() => {
    window.__sent = [];
    window.__sockets = [];
    window.__swallow = true;
    const send = WebSocket.prototype.send;
    window.__rawSend = (ws, data) => send.call(ws, data);
    WebSocket.prototype.send = function (data) {
        if (!window.__sockets.includes(this)) window.__sockets.push(this);
        const frame = JSON.parse(data);
        if (frame.type === 'message.send') {
            window.__sent.push(data);
            if (window.__swallow) { window.__swallow = false; return; }
        }
        return send.call(this, data);
    };
}"""


def test_a_message_with_a_file_resent_after_a_lost_link_is_stored_once(desk, customer):
    conversation, socket = waiting_customer(desk, customer, token("Lost") + " did you get my order?")
    desk.page.evaluate(WATCH_SENDS_JS)
    attach_files(desk, [{"name": "packing-slip.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}])
    tray_chip(desk, "packing-slip.pdf", "done").wait_for()
    desk.page.fill("#desk-composer", "Here is your packing slip")
    desk.page.press("#desk-composer", "Enter")
    desk.page.wait_for_selector("#desk-transcript .msg.is-pending .file-row[data-name='packing-slip.pdf']")
    desk.page.wait_for_function("() => window.__sent.length === 1")  # written, and lost with the link
    desk.page.evaluate("() => window.__sockets.at(-1).close()")
    desk.page.wait_for_function("() => window.__sent.length === 2")  # the outbox resends it after the reconnect
    stored = desk.item("agent", "Here is your packing slip")
    stored.wait_for()
    # Once more by hand, the very same frame: the server answers the same ack and stores nothing new.
    desk.page.evaluate("() => window.__rawSend(window.__sockets.at(-1), window.__sent[0])")
    after = token("After") + " anything else?"
    desk.send(after)
    socket.wait_for_message(f"(m) => m.body === {json.dumps(after)}")

    sent = [json.loads(data) for data in desk.page.evaluate("window.__sent")]
    assert len({frame["client_id"] for frame in sent if frame.get("attachments")}) == 1
    assert sent[0] == sent[1] and len(sent[0]["attachments"]) == 1
    assert desk.page.locator("#desk-transcript .file-row[data-name='packing-slip.pdf']").count() == 1
    assert desk.page.locator("#desk-transcript .is-pending").count() == 0
    received = [
        f
        for f in socket.frames()
        if f["type"] == "message.new"
        and any(a["name"] == "packing-slip.pdf" for a in f["message"].get("attachments", []))
    ]
    assert len(received) == 1
    assert conversation == customer.conversation_id()
