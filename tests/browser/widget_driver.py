"""Driving the chat widget in a real browser: open it, ask, watch the DOM, and read the database's truth."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

from tests.browser.conftest import LiveServer
from tests.integration.processes import embedded_env, manage, start_daphne

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TIMEOUT_MS = 30_000

# Every transcript element, as the DOM contract describes it.
DOM_TRANSCRIPT_JS = """() => [...document.querySelectorAll('#transcript [data-seq]')].map(e => ({
    seq: Number(e.dataset.seq), author: e.dataset.author, status: e.dataset.status,
    text: e.querySelector('.body').textContent }))"""

# Text lengths and statuses of the bot reply being watched, recorded on every DOM mutation.
RECORDER_JS = """() => {
    window.__paints = [];
    const note = () => {
        const reply = [...document.querySelectorAll('#transcript [data-author=bot]')].at(-1);
        if (!reply) return;
        const entry = {seq: Number(reply.dataset.seq), status: reply.dataset.status,
                       length: reply.querySelector('.body').textContent.length};
        const last = window.__paints.at(-1);
        if (!last || last.length !== entry.length || last.status !== entry.status || last.seq !== entry.seq)
            window.__paints.push(entry);
    };
    new MutationObserver(note).observe(document.getElementById('transcript'),
        {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def live_server(tmp_path_factory, **env_vars):
    """Yield a live Daphne with the demo data and these environment variables (as the shared fixture does)."""
    tmp_dir = tmp_path_factory.mktemp(f"widget-{uuid.uuid4().hex[:6]}")
    env = embedded_env(tmp_dir, **env_vars)
    manage(env, "migrate", "--noinput")
    process, port = start_daphne(env, "daphne-widget")
    env["PORT"] = str(port)
    manage(env, "seed_demo", "--open-all-hours")
    try:
        yield LiveServer(process, port, env)
    finally:
        process.stop()


def widget_frame(page):
    """The widget iframe's Frame, once its script has started the session."""
    page.wait_for_selector("#parley-frame", state="attached", timeout=TIMEOUT_MS)
    frame = page.locator("#parley-frame").element_handle().content_frame()
    frame.wait_for_selector("body[data-ready=true]", state="attached", timeout=TIMEOUT_MS)
    return frame


def open_widget(page, url: str):
    """Load the demo shop, click the launcher, and return the widget's frame."""
    page.goto(url)
    page.click("#parley-launcher")
    return widget_frame(page)


def ask(frame, text: str) -> None:
    """Type a message and press Enter."""
    frame.fill("#composer", text)
    frame.press("#composer", "Enter")


def wait_for_bot(frame, *, count: int = 1, status: str = "complete", min_length: int = 0) -> None:
    """Until the `count`-th bot reply has `status` and at least `min_length` characters of text."""
    frame.wait_for_function(
        """([count, status, minLength]) => {
            const replies = document.querySelectorAll('#transcript [data-author=bot]');
            const reply = replies[count - 1];
            return Boolean(reply) && reply.dataset.status === status
                && reply.querySelector('.body').textContent.length >= minLength;
        }""",
        arg=[count, status, min_length],
        timeout=TIMEOUT_MS,
    )


def dom_transcript(frame) -> list[dict]:
    """The transcript as the widget shows it."""
    return frame.evaluate(DOM_TRANSCRIPT_JS)


def conversation_id(frame) -> int:
    """The conversation the widget shows (the connection names it on the transcript)."""
    frame.wait_for_selector("#transcript[data-conversation]", state="attached", timeout=TIMEOUT_MS)
    return int(frame.get_attribute("#transcript", "data-conversation"))


def db_transcript(server, conversation: int) -> list[dict]:
    """The transcript as the database holds it, through `manage.py transcript --json`."""
    data = json.loads(server.manage("transcript", str(conversation), "--json"))
    return data["messages"]


def shown_text(author: str, body: str, status: str = "complete") -> str:
    """What the widget shows for a stored body: bot Markdown loses its markers, the rest is verbatim.

    A reply cut short shows an emphasis it opened but never closed as emphasis, without the marker.
    """
    if author != "bot":
        return body
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", body)
    text = re.sub(r"\[([^\]]+)\]\(/[^)\s]*\)", r"\1", text)  # a help-center link shows its title
    if status != "complete":
        text = re.sub(r"\*\*(?=\S)", "", text)
    return re.sub(r"\n\s*\n", "", text)


def as_shown(rows: list[dict]) -> list[dict]:
    """Database rows in the shape of dom_transcript()."""
    return [
        {
            "seq": r["seq"],
            "author": r["author"],
            "status": r["status"],
            "text": shown_text(r["author"], r["body"], r["status"]),
        }
        for r in rows
    ]


def save_screenshot(page, artifacts: Path, name: str) -> Path:
    """Save a screenshot to tests/artifacts and copy it to docs/img, where the README shows it."""
    path = artifacts / name
    page.screenshot(path=str(path))
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMG / name)
    return path


# An agent's raw desk socket in a signed-in page: `agentSend(frame)` sends, `agentHeard` collects what came back.
AGENT_SOCKET_JS = """conversation => new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${location.host}/ws/agent/`);
    window.agentSend = frame => ws.send(JSON.stringify(frame));
    window.agentHeard = [];
    ws.onmessage = event => { const frame = JSON.parse(event.data); agentHeard.push(frame);
        if (frame.type === 'welcome') ws.send(JSON.stringify({type: 'subscribe', conversation, cursor: '0.0'}));
        if (frame.type === 'subscribed') resolve(); };
    ws.onclose = event => reject(new Error('agent socket closed ' + event.code)); })"""


def agent_socket(browser, server, conversation: int, username: str = "agent", password: str = "parley-agent"):
    """Sign an agent in (a context of its own) and open a desk socket subscribed to `conversation`; returns the page."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.evaluate(AGENT_SOCKET_JS, conversation)
    return page


def record_socket_frames(page) -> dict:
    """Record the widget socket's frames, both ways, as parsed JSON: {"sent": [...], "received": [...]}."""
    frames: dict = {"sent": [], "received": []}

    def follow(ws):
        if "/ws/widget/" not in ws.url:
            return
        ws.on("framesent", lambda payload: frames["sent"].append(json.loads(payload)))
        ws.on("framereceived", lambda payload: frames["received"].append(json.loads(payload)))

    page.on("websocket", follow)
    return frames


def django_value(server, expression: str, imports: str = "from chat.models import Conversation, Visitor"):
    """The JSON of a Python expression evaluated against the live server's database."""
    out = server.manage("shell", "-c", f"import json; {imports}; print(json.dumps({expression}, default=str))")
    return json.loads(out.strip().splitlines()[-1])


def save_element_screenshot(locator, artifacts: Path, name: str) -> Path:
    """Screenshot one element (the widget's iframe, say) into tests/artifacts and copy it to docs/img."""
    path = artifacts / name
    locator.screenshot(path=str(path))
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMG / name)
    return path


# ---- files (tests/browser/test_widget_attachments.py) -----------------------------------------

# Paste files into the widget's composer as a screenshot tool's clipboard would: a ClipboardEvent whose
# DataTransfer holds File objects only ([{name, type, b64}]).
WIDGET_PASTE_JS = """(files) => {
    const data = new DataTransfer();
    for (const f of files) {
        data.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, {type: f.type}));
    }
    const target = document.getElementById('composer');
    target.focus();
    return target.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
}"""

# Drop files on the widget's panel as a desktop drag would.
WIDGET_DROP_JS = """(files) => {
    const data = new DataTransfer();
    for (const f of files) {
        data.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, {type: f.type}));
    }
    const target = document.getElementById('transcript');
    for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
    }
}"""

# An agent's upload for a conversation, from a signed-in page: POST /agent/api/attachments with the CSRF token.
AGENT_UPLOAD_JS = """async ({conversation, name, type, b64}) => {
    const csrf = (/(?:^|;\\s*)csrftoken=([^;]+)/.exec(document.cookie) || [])[1] || '';
    const form = new FormData();
    form.append('conversation', String(conversation));
    form.append('file', new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, {type}));
    const response = await fetch('/agent/api/attachments', {method: 'POST', body: form, headers: {'X-CSRFToken': csrf}});
    return {status: response.status, body: await response.json()};
}"""

# A link fetched from a page (with that page's cookies): status, headers that matter, and the first bytes.
FETCH_LINK_JS = """async (url) => {
    const response = await fetch(url, {credentials: 'same-origin'});
    const bytes = new Uint8Array(await response.arrayBuffer());
    return {status: response.status, type: response.headers.get('content-type'),
            disposition: response.headers.get('content-disposition'),
            nosniff: response.headers.get('x-content-type-options'),
            head: String.fromCharCode(...bytes.slice(0, 8)), size: bytes.length};
}"""


def file_payload(files: list[tuple[str, str, bytes]]) -> list[dict]:
    """[(name, type, bytes)] as WIDGET_PASTE_JS / WIDGET_DROP_JS / AGENT_UPLOAD_JS take them."""
    import base64

    return [{"name": n, "type": t, "b64": base64.b64encode(b).decode()} for n, t, b in files]


def paste_files(frame, files: list[tuple[str, str, bytes]]) -> None:
    """Paste files into the widget's composer."""
    frame.evaluate(WIDGET_PASTE_JS, file_payload(files))


def wait_for_chips(frame, states: list[str]) -> None:
    """Until the composer's tray shows exactly these chip states, in order ("done", "refused", ...)."""
    frame.wait_for_function(
        "states => JSON.stringify([...document.querySelectorAll('#tray .chip')].map(c => c.dataset.state))"
        " === JSON.stringify(states)",
        arg=states,
        timeout=TIMEOUT_MS,
    )


def agent_upload(agent_page, conversation: int, name: str, type_: str, data: bytes) -> dict:
    """Upload a file as the signed-in agent of `agent_page`; returns {status, body}."""
    [payload] = file_payload([(name, type_, data)])
    return agent_page.evaluate(AGENT_UPLOAD_JS, {"conversation": conversation, **payload})


def agent_heard(agent_page, predicate_js: str) -> dict:
    """The first frame the agent's socket received that satisfies `predicate_js` (a JS function of the frame)."""
    handle = agent_page.wait_for_function(f"() => window.agentHeard.find({predicate_js}) || null", timeout=TIMEOUT_MS)
    return handle.json_value()


def fetch_link(page_or_frame, url: str) -> dict:
    """GET a link from a page or frame, with its cookies."""
    return page_or_frame.evaluate(FETCH_LINK_JS, url)


def png_image(width: int = 640, height: int = 480) -> bytes:
    """A real PNG (a parcel on white), larger than the server's 320 px thumbnail."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (width // 6, height // 5, width * 5 // 6, height * 4 // 5), fill=(176, 128, 74), outline=(90, 60, 30), width=6
    )
    draw.line((width // 6, height // 2, width * 5 // 6, height // 2), fill=(225, 205, 160), width=14)
    draw.line((width // 3, height // 5, width // 2, height * 3 // 5), fill=(60, 40, 20), width=5)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


PDF_FILE = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
