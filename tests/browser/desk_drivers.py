"""Driving the agent desk and the customer widget side by side in real Chromium; every wait is on DOM state."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TIMEOUT_MS = 20_000
DESK_VIEWPORT = {"width": 1440, "height": 900}

# The transcript as a page shows it: seq, author, status, internal flag and text of every stored item.
ITEMS_JS = """(root) => [...document.querySelectorAll(root + ' [data-seq]')].map(e => ({
    seq: Number(e.dataset.seq), author: e.dataset.author, status: e.dataset.status,
    internal: e.dataset.internal === 'true', text: e.querySelector('.body').textContent }))"""


def token(label: str) -> str:
    """A label made unique, so a test finds its own message among the module's."""
    return f"{label}-{uuid.uuid4().hex[:6]}"


class Customer:
    """A shopper on the demo page, talking through the real widget (launcher, iframe, composer)."""

    def __init__(self, browser, base_url: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.goto(base_url + "/")
        self.page.click("#parley-launcher")
        self.page.wait_for_selector("iframe#parley-frame", state="attached")
        self.frame = self.page.locator("iframe#parley-frame").element_handle().content_frame()
        self.frame.wait_for_selector("textarea#composer")
        # The frame marks its body once its script has bound the controls; a click before that is lost.
        self.frame.wait_for_selector("body[data-ready=true]", state="attached")

    def stored(self, author: str, text: str):
        """The stored (seq-bearing) transcript item of `author` whose text contains `text`."""
        return self.frame.locator(f"#transcript [data-seq][data-author={author}]").filter(has_text=text)

    def say(self, text: str) -> int:
        """Type a message, press Enter, and return its seq once the server stored it."""
        self.frame.fill("textarea#composer", text)
        self.frame.press("textarea#composer", "Enter")
        item = self.stored("customer", text)
        item.wait_for()
        return int(item.get_attribute("data-seq"))

    def ask_for_human(self) -> None:
        """Press the widget's "talk to a person" button and wait for the desk's system line."""
        before = self.frame.locator("#transcript [data-seq][data-author=system]").count()
        self.frame.click("#handoff")
        self.frame.wait_for_function(
            "n => document.querySelectorAll('#transcript [data-seq][data-author=system]').length > n", arg=before
        )

    def wait_for(self, author: str, text: str) -> int:
        """Wait until an item of `author` containing `text` is shown; return its seq."""
        item = self.stored(author, text)
        item.wait_for()
        return int(item.get_attribute("data-seq"))

    def conversation_id(self) -> int:
        """The conversation the widget shows (it names it on the transcript)."""
        self.frame.wait_for_selector("#transcript[data-conversation]", state="attached")
        return int(self.frame.get_attribute("#transcript", "data-conversation"))

    def items(self) -> list[dict]:
        return self.frame.evaluate(ITEMS_JS, "#transcript")

    def reload(self) -> None:
        """Reload the shop page and reopen the widget (the transcript comes back from the server)."""
        self.page.reload()
        if not self.page.locator("iframe#parley-frame").is_visible():
            self.page.click("#parley-launcher")
        self.page.wait_for_selector("iframe#parley-frame", state="attached")
        self.frame = self.page.locator("iframe#parley-frame").element_handle().content_frame()
        self.frame.wait_for_selector("textarea#composer")
        # The frame marks its body once its script has bound the controls; a click before that is lost.
        self.frame.wait_for_selector("body[data-ready=true]", state="attached")

    def close(self) -> None:
        self.context.close()


class Desk:
    """An agent signed in at /accounts/login/ with the desk open."""

    def __init__(
        self,
        browser,
        base_url: str,
        username: str = "agent",
        password: str = "parley-agent",
        init_script: str | None = None,
    ):
        self.context = browser.new_context(viewport=DESK_VIEWPORT)
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(base_url + "/accounts/login/?next=/agent/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/agent/")
        self.page.wait_for_selector("#presence[data-status=online]")  # the socket said welcome

    def view(self, name: str) -> None:
        self.page.click(f"[data-view={name}]")
        self.page.wait_for_selector(f"[data-view={name}][aria-selected=true]")
        self.page.wait_for_selector("#conversation-list:not([aria-busy])", state="attached")

    def row(self, conversation_id: int):
        return self.page.locator(f"#conversation-list [data-conversation-id='{conversation_id}']")

    def open(self, conversation_id: int) -> None:
        """Click a conversation in the list and wait for its transcript."""
        self.row(conversation_id).click()
        self.page.wait_for_selector(f"#conversation-list [data-conversation-id='{conversation_id}'].is-active")
        self.page.wait_for_selector("#desk-transcript [data-seq]")

    def item(self, author: str, text: str = ""):
        items = self.page.locator(f"#desk-transcript [data-seq][data-author={author}]")
        return items.filter(has_text=text) if text else items

    def send(self, text: str, *, note: bool = False) -> int:
        """Write in the composer (as a private note or a reply), press Enter, and return the stored seq."""
        pressed = self.page.get_attribute("#note-toggle", "aria-pressed") == "true"
        if pressed != note:
            self.page.click("#note-toggle")
        self.page.fill("textarea#desk-composer", text)
        self.page.press("textarea#desk-composer", "Enter")
        item = self.item("agent", text)
        item.wait_for()
        return int(item.get_attribute("data-seq"))

    def items(self) -> list[dict]:
        return self.page.evaluate(ITEMS_JS, "#desk-transcript")

    def close(self) -> None:
        self.context.close()


# A desk tab the agent is not looking at, with the browser's Notification and WebAudio recorded.
BACKGROUND_TAB_JS = """
    Document.prototype.hasFocus = () => false;
    window.__notes = [];
    window.__beeps = 0;
    window.Notification = class {
        static permission = "granted";
        static requestPermission() { return Promise.resolve("granted"); }
        constructor(title, options) { window.__notes.push({title, body: options && options.body}); }
        close() {}
    };
    window.AudioContext = class {
        constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
        resume() { return Promise.resolve(); }
        createOscillator() {
            return {frequency: {}, connect: (node) => node, start: () => { window.__beeps += 1; }, stop() {}};
        }
        createGain() {
            const gain = {setValueAtTime() {}, exponentialRampToValueAtTime() {}};
            return {gain, connect: (node) => node};
        }
    };
"""


def save_screenshot(page, artifacts: Path, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot into tests/artifacts and copy it to docs/img."""
    path = artifacts / name
    page.screenshot(path=str(path), full_page=full_page)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_IMG / name)
    return path


# ---- labels and ratings (tests/browser/test_desk_labels.py) ----------------------------------

DEMO_ADMIN = ("admin", "parley-admin")  # seed_demo's staff user: a second agent with a desk of their own


def label_chips(desk: Desk) -> list[str]:
    """The labels the open conversation's header shows, in order."""
    return desk.page.eval_on_selector_all("#label-chips [data-label]", "chips => chips.map(c => c.dataset.label)")


def wait_for_label_chips(desk: Desk, names: list[str]) -> None:
    """Wait until the header shows exactly `names` (the server's sorted order)."""
    desk.page.wait_for_function(
        "names => JSON.stringify([...document.querySelectorAll('#label-chips [data-label]')]"
        ".map(c => c.dataset.label)) === JSON.stringify(names)",
        arg=names,
    )


def row_labels(desk: Desk, conversation_id: int) -> list[str]:
    """The small label chips of a conversation's list row."""
    return (
        desk.row(conversation_id)
        .locator(".conv-labels [data-label]")
        .evaluate_all("chips => chips.map(c => c.dataset.label)")
    )


# The customer rates a resolved conversation over a second socket of their own (the contract's
# `rating.submit`), as the widget's faces do; resolves with the `conversation.updated` or the `error`.
RATE_JS = """async ({conversation, score, comment}) => {
    const key = Object.keys(localStorage).find((k) => k.startsWith('parley:') && k.endsWith(':token'));
    const token = localStorage.getItem(key);
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/widget/`);
    try {
        return await new Promise((resolve, reject) => {
            setTimeout(() => reject(new Error('no answer to rating.submit')), 15000);
            ws.onerror = () => reject(new Error('the socket failed'));
            ws.onopen = () => ws.send(JSON.stringify({type: 'hello', token, conversation}));
            ws.onmessage = (event) => {
                const frame = JSON.parse(event.data);
                if (frame.type === 'welcome') {
                    ws.send(JSON.stringify({type: 'rating.submit', conversation, score, comment}));
                } else if (frame.type === 'error') {
                    resolve(frame);
                } else if (frame.type === 'conversation.updated' && frame.conversation.rating) {
                    resolve(frame);
                }
            };
        });
    } finally {
        ws.close();
    }
}"""


def customer_rates(customer: Customer, conversation_id: int, score: int, comment: str = "") -> dict:
    """Rate a conversation as the customer; returns the server's answer frame."""
    return customer.frame.evaluate(RATE_JS, {"conversation": conversation_id, "score": score, "comment": comment})


# ---- files (tests/browser/test_desk_attachments.py) -------------------------------------------

# A second socket of the customer's own, opened in the widget frame with its visitor token: it records every
# frame the server sends the customer (window.__customerFrames) and sends messages as the widget does.
CUSTOMER_SOCKET_JS = """async () => {
    const key = Object.keys(localStorage).find((k) => k.startsWith('parley:') && k.endsWith(':token'));
    const token = localStorage.getItem(key);
    window.__customerToken = token;
    window.__customerFrames = [];
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/widget/`);
    window.__customerSocket = ws;
    return await new Promise((resolve, reject) => {
        setTimeout(() => reject(new Error('no welcome')), 15000);
        ws.onerror = () => reject(new Error('the socket failed'));
        ws.onopen = () => ws.send(JSON.stringify({type: 'hello', token, cursor: '0.0'}));
        ws.onmessage = (event) => {
            const frame = JSON.parse(event.data);
            window.__customerFrames.push(frame);
            if (frame.type === 'welcome') resolve({visitor: frame.visitor, conversation: frame.conversation});
        };
    });
}"""

# The customer uploads a file as the widget does: POST /api/widget/attachments, multipart `file`, Bearer token.
CUSTOMER_UPLOAD_JS = """async ({name, type, b64}) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const form = new FormData();
    form.append('file', new File([bytes], name, {type}));
    const response = await fetch('/api/widget/attachments', {
        method: 'POST', body: form, headers: {Authorization: `Bearer ${window.__customerToken}`}});
    return {status: response.status, body: await response.json()};
}"""

# message.send over the recording socket; resolves with the ack (or the error) for its client_id.
CUSTOMER_SEND_JS = """async ({body, attachments}) => {
    const clientId = crypto.randomUUID();
    const seen = window.__customerFrames.length;
    window.__customerSocket.send(JSON.stringify({type: 'message.send', client_id: clientId, body, attachments}));
    for (let waited = 0; waited < 15000; waited += 50) {
        const answer = window.__customerFrames.slice(seen).find((f) =>
            (f.type === 'message.ack' && f.client_id === clientId) || (f.type === 'error' && f.ref === clientId));
        if (answer) return answer;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no ack');
}"""

# A link fetched as the customer's page would (no desk session in the widget's context).
FETCH_AS_PAGE_JS = """async (url) => {
    const response = await fetch(url, {credentials: 'same-origin'});
    const bytes = new Uint8Array(await response.arrayBuffer());
    return {status: response.status, type: response.headers.get('content-type'),
            disposition: response.headers.get('content-disposition'),
            head: String.fromCharCode(...bytes.slice(0, 8)), size: bytes.length};
}"""


class CustomerSocket:
    """The customer's own recording socket in the widget frame (CUSTOMER_SOCKET_JS)."""

    def __init__(self, customer: Customer):
        self.customer = customer
        welcome = customer.frame.evaluate(CUSTOMER_SOCKET_JS)
        self.visitor_id = welcome["visitor"]["id"]

    def upload(self, name: str, type_: str, data: bytes) -> dict:
        import base64

        return self.customer.frame.evaluate(
            CUSTOMER_UPLOAD_JS, {"name": name, "type": type_, "b64": base64.b64encode(data).decode()}
        )

    def send(self, body: str, attachments: list[int]) -> dict:
        return self.customer.frame.evaluate(CUSTOMER_SEND_JS, {"body": body, "attachments": attachments})

    def frames(self) -> list[dict]:
        return self.customer.frame.evaluate("() => window.__customerFrames")

    def wait_for_message(self, predicate_js: str) -> dict:
        """The first `message.new` whose message satisfies `predicate_js` (a JS function of the message)."""
        handle = self.customer.frame.wait_for_function(
            "() => { const f = window.__customerFrames.find((f) => f.type === 'message.new'"
            f" && ({predicate_js})(f.message)); return f ? f.message : null; }}"
        )
        return handle.json_value()

    def fetch(self, url: str) -> dict:
        return self.customer.frame.evaluate(FETCH_AS_PAGE_JS, url)


def png_bytes(width: int = 640, height: int = 480) -> bytes:
    """A real PNG (a parcel-brown box on white), larger than the server's 320 px thumbnail."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (width // 6, height // 5, width * 5 // 6, height * 4 // 5), fill=(176, 128, 74), outline=(90, 60, 30), width=6
    )
    draw.line((width // 6, height // 2, width * 5 // 6, height // 2), fill=(225, 205, 160), width=14)
    draw.line((width // 3, height // 5, width // 2, height * 3 // 5), fill=(60, 40, 20), width=5)  # the crack
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def attach_files(desk: Desk, files: list[dict]) -> None:
    """Pick files with the paperclip button's file chooser ({name, mimeType, buffer} each)."""
    with desk.page.expect_file_chooser() as chooser:
        desk.page.click("#attach-button")
    chooser.value.set_files(files)


# Paste files into the composer as the clipboard of a screenshot tool would (a ClipboardEvent with files only).
PASTE_FILES_JS = """(files) => {
    const data = new DataTransfer();
    for (const f of files) {
        data.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, {type: f.type}));
    }
    const target = document.querySelector('#desk-composer');
    target.focus();
    return target.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
}"""

# Drop files on the open conversation as a desktop drag would.
DROP_FILES_JS = """(files) => {
    const data = new DataTransfer();
    for (const f of files) {
        data.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, {type: f.type}));
    }
    const target = document.querySelector('#desk-transcript');
    for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
    }
}"""


def clipboard_files(files: list[tuple[str, str, bytes]]) -> list[dict]:
    """[(name, type, bytes)] as PASTE_FILES_JS / DROP_FILES_JS take them."""
    import base64

    return [{"name": n, "type": t, "b64": base64.b64encode(b).decode()} for n, t, b in files]


# ---- other window sizes (tests/browser/test_desk_mobile.py) -----------------------------------


def resize(desk: Desk, viewport: dict | None) -> None:
    """Resize the desk's window ({width, height}); None restores the desktop size."""
    desk.page.set_viewport_size(viewport or DESK_VIEWPORT)
    size = viewport or DESK_VIEWPORT
    desk.page.wait_for_function("w => window.innerWidth === w", arg=size["width"])


def visible_box(page, selector: str) -> dict:
    """The bounding box of a visible element (waits until it is visible)."""
    page.wait_for_selector(selector, state="visible")
    return page.locator(selector).first.bounding_box()


def phone_item_seq(desk: Desk, author: str, text: str) -> int:
    """Wait for the stored transcript item of `author` containing `text`; return its seq."""
    item = desk.item(author, text)
    item.wait_for()
    return int(item.get_attribute("data-seq"))
