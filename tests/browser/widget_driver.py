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
    manage(env, "seed_demo")
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
