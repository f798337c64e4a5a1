"""Files in the customer widget (docs/protocol.md section 3.2), in real Chromium against a live Daphne.

The customer pastes a screenshot, picks files with the paperclip and sends them with a message; the agent is a
signed-in page with a raw desk socket (uploads by POST /agent/api/attachments with its CSRF token, then
`message.send` with `attachments`). Every wait is on DOM state or a received frame; nothing sleeps.
"""

from __future__ import annotations

import uuid

import pytest

from tests.browser.widget_driver import (
    PDF_FILE,
    TIMEOUT_MS,
    WIDGET_DROP_JS,
    agent_heard,
    agent_socket,
    agent_upload,
    ask,
    conversation_id,
    fetch_link,
    file_payload,
    open_widget,
    paste_files,
    png_image,
    record_socket_frames,
    save_element_screenshot,
    wait_for_bot,
    wait_for_chips,
)

pytestmark = pytest.mark.browser

SVG_WITH_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
IMAGE_LOADED_JS = """(selector) => { const img = document.querySelector(selector);
    return Boolean(img) && img.complete && img.naturalWidth > 0; }"""


@pytest.fixture(scope="module")
def parley_server_env(tmp_path_factory):
    # Uploaded files of this module go to a directory of its own, not the checkout's media/.
    return {"MEDIA_ROOT": str(tmp_path_factory.mktemp("widget-media"))}


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


@pytest.fixture
def agents(browser):
    """Signed-in agent pages with a desk socket, closed after the test."""
    pages = []

    def open_for(server, conversation: int):
        page = agent_socket(browser, server, conversation)
        page.set_default_timeout(TIMEOUT_MS)
        pages.append(page)
        return page

    yield open_for
    for page in pages:
        page.context.close()


def agent_says(agent, conversation: int, body: str, *, attachments=(), internal: bool = False) -> dict:
    """`message.send` over the agent's socket; returns its ack."""
    client_id = str(uuid.uuid4())
    frame = {"type": "message.send", "conversation": conversation, "client_id": client_id, "body": body}
    if attachments:
        frame["attachments"] = list(attachments)
    if internal:
        frame["internal"] = True
    agent.evaluate("frame => agentSend(frame)", frame)
    return agent_heard(agent, f"f => f.type === 'message.ack' && f.client_id === '{client_id}'")


def test_a_pasted_screenshot_is_sent_and_the_agent_gets_it_live(parley_server, context, agents):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, "Hello, my parcel arrived broken")
    conversation = conversation_id(frame)
    agent = agents(parley_server, conversation)

    paste_files(frame, [("parcel.png", "image/png", png_image())])
    wait_for_chips(frame, ["done"])
    assert frame.get_attribute("#tray .chip-remove", "aria-label") == "Remove parcel.png"
    assert frame.get_attribute("#attach", "aria-label") == "Attach files"
    ask(frame, "Here is a photo")
    frame.wait_for_selector("#tray", state="hidden")

    # The customer sees the thumbnail inline, sized before it loads, a link to the full size.
    selector = "#transcript [data-seq][data-author=customer] .file-image img"
    frame.wait_for_function(IMAGE_LOADED_JS, arg=selector)
    img = frame.locator(selector)
    assert img.get_attribute("alt") == "parcel.png"
    assert (img.get_attribute("width"), img.get_attribute("height")) == ("220", "165")
    link = frame.locator("#transcript [data-seq][data-author=customer] a.file-image")
    assert link.get_attribute("target") == "_blank"
    full = fetch_link(frame, link.get_attribute("href"))
    assert (full["status"], full["type"], full["head"][1:4]) == (200, "image/png", "PNG")
    # A plain click shows it full size inside the widget; Escape closes it.
    link.click()
    frame.wait_for_function(IMAGE_LOADED_JS, arg="dialog.file-viewer[open] img.viewer-image")
    assert frame.text_content("dialog.file-viewer .viewer-name") == "parcel.png"
    assert frame.evaluate("document.activeElement.getAttribute('aria-label')") == "Close"
    page.keyboard.press("Escape")
    frame.wait_for_selector("dialog.file-viewer", state="detached")

    # The agent got the message live, with links of its own that work with a desk session.
    heard = agent_heard(agent, "f => f.type === 'message.new' && (f.message.attachments || []).length > 0")
    assert heard["message"]["body"] == "Here is a photo"
    [file] = heard["message"]["attachments"]
    assert (file["name"], file["type"], file["image"]) == ("parcel.png", "image/png", True)
    thumbnail = fetch_link(agent, file["thumbnail_url"])
    assert (thumbnail["status"], thumbnail["type"], thumbnail["head"][1:4]) == (200, "image/png", "PNG")

    # One message.send carried the file's id (the same client_id would carry it again on a retry).
    sent = [f for f in frames["sent"] if f["type"] == "message.send" and f.get("attachments")]
    assert [f["attachments"] for f in sent] == [[file["id"]]]


def test_the_agents_pdf_shows_as_a_download_and_the_widget_shows_image_and_pdf(
    parley_server, context, agents, artifacts
):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, "Hi, my parcel arrived damaged")
    wait_for_bot(frame, status="complete")
    conversation = conversation_id(frame)
    agent = agents(parley_server, conversation)
    agent_says(agent, conversation, "Sorry to hear that! Could you send a photo of the box?")
    frame.wait_for_selector("#transcript [data-seq][data-author=agent]")

    paste_files(frame, [("parcel.png", "image/png", png_image())])
    wait_for_chips(frame, ["done"])
    ask(frame, "Here it is")
    frame.wait_for_function(IMAGE_LOADED_JS, arg="#transcript [data-seq][data-author=customer] .file-image img")

    upload = agent_upload(agent, conversation, "return-label.pdf", "application/pdf", PDF_FILE)
    assert upload["status"] == 201, upload
    agent_says(agent, conversation, "Here is your return label", attachments=[upload["body"]["attachment"]["id"]])

    row = frame.locator("#transcript [data-seq][data-author=agent] a.file-row")
    row.wait_for()
    assert row.locator(".file-name").text_content() == "return-label.pdf"
    assert row.locator(".file-meta").text_content().startswith("PDF · ")
    assert row.get_attribute("download") == "return-label.pdf"
    served = fetch_link(frame, row.get_attribute("href"))
    assert served["status"] == 200 and served["type"] == "application/pdf" and served["head"].startswith("%PDF")
    assert served["disposition"].startswith("attachment") and served["nosniff"] == "nosniff"
    with page.expect_download() as download:
        row.click()
    assert download.value.suggested_filename == "return-label.pdf"

    card = frame.locator(".contact-card")  # the "Get notified by email" card, when nobody is online: skipped
    if card.count():
        card.get_by_role("button", name="Skip").click()
        frame.wait_for_selector(".contact-card", state="detached")
    frame.evaluate("() => { document.activeElement.blur(); document.getElementById('scroll').scrollTop = 1e6; }")
    save_element_screenshot(page.locator("#parley-frame"), artifacts, "widget-attachment.png")


def test_an_internal_notes_file_never_reaches_the_customers_page(parley_server, context, agents):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    ask(frame, "Where is my order?")
    conversation = conversation_id(frame)
    agent = agents(parley_server, conversation)

    note_file = agent_upload(agent, conversation, "warehouse-notes.pdf", "application/pdf", PDF_FILE)
    assert note_file["status"] == 201, note_file
    agent_says(
        agent, conversation, "Internal: stock photo", attachments=[note_file["body"]["attachment"]["id"]], internal=True
    )
    note = agent_heard(agent, "f => f.type === 'message.new' && f.message.internal === true")
    agent_says(agent, conversation, "We're checking with the warehouse")
    frame.wait_for_selector("#transcript [data-seq][data-author=agent]:has-text('checking with the warehouse')")

    assert "warehouse-notes.pdf" not in frame.content() and "Internal: stock photo" not in frame.content()
    assert frame.locator("#transcript .files").count() == 0
    received = str(frames["received"])
    assert "warehouse-notes.pdf" not in received and "Internal: stock photo" not in received
    # Even the agents' link to the note's file refuses the customer's page (no desk session there).
    [agents_file] = note["message"]["attachments"]
    assert fetch_link(frame, agents_file["url"])["status"] == 404

    page.reload()  # the replay does not bring it either
    frame = page.locator("#parley-frame").element_handle().content_frame()
    frame.wait_for_selector("#transcript [data-seq][data-author=agent]:has-text('checking with the warehouse')")
    assert "warehouse-notes.pdf" not in frame.content()


def test_a_disguised_file_is_refused_with_the_servers_reason_and_nothing_is_sent(parley_server, context):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    frame.wait_for_selector("#status[data-state=open]", state="attached")

    paste_files(frame, [("invoice.pdf", "application/pdf", png_image(60, 40))])  # a PNG named .pdf
    wait_for_chips(frame, ["refused"])
    with page.expect_file_chooser() as chooser:
        frame.click("#attach")  # the paperclip
    chooser.value.set_files([{"name": "logo.svg", "mimeType": "image/svg+xml", "buffer": SVG_WITH_SCRIPT}])
    wait_for_chips(frame, ["refused", "refused"])

    reasons = frame.locator("#tray .chip-status").all_text_contents()
    assert reasons[0].startswith("Couldn't attach invoice.pdf: ") and len(reasons[0]) > 40, reasons
    assert reasons[1].startswith("Couldn't attach logo.svg: ") and len(reasons[1]) > 36, reasons
    assert frame.locator("#tray .chip-retry:visible").count() == 0  # a refusal is final: no Retry

    frame.press("#composer", "Enter")  # nothing to send: refused files do not count
    assert frame.locator("#transcript .msg").count() == 0
    assert not [f for f in frames["sent"] if f["type"] == "message.send"]
    assert frame.get_attribute("#transcript", "data-conversation") is None

    frame.click("#tray .chip-remove")  # × takes a file away
    wait_for_chips(frame, ["refused"])
    frame.click("#tray .chip-remove")
    frame.wait_for_selector("#tray", state="hidden")

    # A text file dropped on the panel uploads like any other; × takes it away again and nothing was sent.
    frame.evaluate(WIDGET_DROP_JS, file_payload([("notes.txt", "text/plain", b"Order 1234, box crushed\n")]))
    wait_for_chips(frame, ["done"])
    assert frame.text_content("#tray .chip-name") == "notes.txt"
    frame.click("#tray .chip-remove")
    frame.wait_for_selector("#tray", state="hidden")
    assert not [f for f in frames["sent"] if f["type"] == "message.send"]


def test_a_cut_upload_is_retried_and_a_message_sent_meanwhile_waits_for_its_file(parley_server, context):
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    frames = record_socket_frames(page)
    frame = open_widget(page, parley_server.url + "/")
    frame.wait_for_selector("#status[data-state=open]", state="attached")

    # The network drops the upload: the chip offers Retry, and nothing else happens.
    context.route("**/api/widget/attachments", lambda route: route.abort())
    paste_files(frame, [("receipt.png", "image/png", png_image(200, 150))])
    wait_for_chips(frame, ["failed"])
    assert frame.get_attribute("#tray .chip-retry", "aria-label") == "Retry uploading receipt.png"
    frame.press("#composer", "Enter")
    frame.wait_for_selector("#notice:not([hidden])")  # retry it or remove it
    context.unroute("**/api/widget/attachments")

    # Retry, held by the network this time: the message written meanwhile waits for the file.
    held = []
    context.route("**/api/widget/attachments", lambda route: held.append(route))
    frame.click("#tray .chip-retry")
    frame.wait_for_function("() => document.querySelector('#tray .chip').dataset.state === 'uploading'")
    ask(frame, "The receipt")
    frame.wait_for_selector("#tray .tray-note")
    assert not [f for f in frames["sent"] if f["type"] == "message.send"]
    assert len(held) == 1  # the retried upload, reached the route during the waits above
    held[0].continue_()
    frame.wait_for_function(IMAGE_LOADED_JS, arg="#transcript [data-seq][data-author=customer] .file-image img")
    frame.wait_for_selector("#tray", state="hidden")
    [sent] = [f for f in frames["sent"] if f["type"] == "message.send"]
    assert sent["body"] == "The receipt" and len(sent["attachments"]) == 1
    context.unroute("**/api/widget/attachments")

    # After a reload the file is there again, its links from the replay.
    page.reload()
    frame = page.locator("#parley-frame").element_handle().content_frame()
    frame.wait_for_function(IMAGE_LOADED_JS, arg="#transcript [data-seq][data-author=customer] .file-image img")
