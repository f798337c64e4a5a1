// Tests of files in the widget (docs/protocol.md section 3.2): the outbox keeps a message's file ids across
// retries and reloads, both transports carry them, replays renew their links, the upload's answers map to
// what the customer sees, and names are only ever text. `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  FileRenderer, FileTray, MAX_FILES, fileKind, humanSize, thumbnailSize, uploadFile, uploadOutcome,
} from "../../static/widget/attachments.js";
import { Connection } from "../../static/widget/connection.js";
import { messageFields } from "../../static/widget/connection/http.js";
import { CATALOGS, translator } from "../../static/widget/i18n.js";
import { FakeClock, MemoryStorage, ev, fakeWebSocketClass, settle, streamingBody } from "./fakes.mjs";

const PHOTO = { id: 41, name: "parcel.png", type: "image/png", size: 48213 };
const LABEL = { id: 42, name: "label.pdf", type: "application/pdf", size: 1200 };
const t = translator("en");

function setup(options = {}) {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  let n = 0;
  let now = 1_000_000;
  const conn = new Connection({
    url: "wss://parley.test/ws/widget/", token: "tok-1", WebSocketImpl: WS, setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout, random: () => 0.5, heartbeatMs: 1000, createId: () => `cid-${++n}`, network: null,
    now: () => now, ...options,
  });
  const events = [];
  for (const type of ["message", "error", "ack", "outbox"]) conn.on(type, (payload) => events.push({ type, ...payload }));
  return {
    conn, clock, WS, socket: () => WS.instances.at(-1), of: (type) => events.filter((e) => e.type === type),
    tick: (ms) => {
      now += ms;
    },
  };
}

function welcome(events = [], cursor = "0.0", conversation = ev.conversation(7)) {
  return { type: "welcome", visitor: { id: 3 }, conversation, events, cursor, more: false };
}

function goLive(ctx, frame = welcome()) {
  ctx.conn.connect();
  ctx.socket().open();
  ctx.socket().receive(frame);
  return ctx.socket();
}

/** A message.new carrying files with links signed `sig`. */
function withFiles(seq, prev, body, files, sig, kind = "customer") {
  const frame = ev.message(seq, prev, body, kind);
  frame.message.attachments = files.map((f) => ({ ...f, image: f.type.startsWith("image/"), url: `/files/${f.id}.${sig}/` }));
  return frame;
}

describe("the outbox keeps a message's files", () => {
  test("message.send carries the ids; a reconnect resends the same client_id with the same ids", () => {
    const ctx = setup();
    let ws = goLive(ctx);
    assert.equal(ctx.conn.send("Here is the photo", [PHOTO, LABEL]), "cid-1");
    const first = { type: "message.send", client_id: "cid-1", body: "Here is the photo", attachments: [41, 42] };
    assert.deepEqual(ws.frames("message.send"), [first]);
    assert.deepEqual(ctx.conn.pending()[0].files, [PHOTO, LABEL]);

    ws.serverClose(1006); // the ack never came
    ctx.clock.advance(1000);
    ws = ctx.socket();
    ws.open();
    ws.receive(welcome());
    assert.deepEqual(ws.frames("message.send"), [first]);
    ws.receive({ type: "message.ack", client_id: "cid-1", id: 500, seq: 1, conversation: 7 });
    assert.deepEqual(ctx.conn.pending(), []);
  });

  test("ids survive a reload through storage and go out again with the stored client_id", () => {
    const storage = new MemoryStorage();
    const before = setup({ storage, storageKey: "parley" });
    before.conn.send("", [PHOTO]); // files only: the text may be empty
    const saved = JSON.parse(storage.get("parley:outbox"));
    assert.deepEqual(saved.map((e) => [e.client_id, e.body, e.attachments]), [["cid-1", "", [41]]]);

    const after = setup({ storage, storageKey: "parley", createId: () => "never-used" });
    assert.deepEqual(after.conn.pending().map((e) => [e.client_id, e.attachments]), [["cid-1", [41]]]);
    const ws = goLive(after);
    assert.deepEqual(ws.frames("message.send"), [{ type: "message.send", client_id: "cid-1", body: "", attachments: [41] }]);
  });

  test("stored entries with bad ids are dropped; files without ids or nothing at all are refused locally", () => {
    const storage = new MemoryStorage();
    storage.set("parley:outbox", JSON.stringify([
      { client_id: "a", body: "x", attachments: ["41"] }, { client_id: "b", body: "y", attachments: [7] }, { client_id: "c", body: "z" },
    ]));
    const ctx = setup({ storage, storageKey: "parley" });
    assert.deepEqual(ctx.conn.pending().map((e) => e.client_id), ["b", "c"]);
    assert.equal(ctx.conn.send("look", [{ name: "not uploaded" }]), null);
    assert.equal(ctx.conn.send("   ", []), null);
    assert.deepEqual(ctx.of("error").map((e) => e.code), ["bad_request", "empty"]);
  });

  test("a refusal of the files (not_found, too_long) drops the message and says it carried files", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.send("two files", [PHOTO, LABEL]);
    ws.receive({ type: "error", code: "too_long", detail: "At most 1 file.", ref: "cid-1" });
    assert.deepEqual(ctx.conn.pending(), []);
    const [error] = ctx.of("error");
    assert.equal(error.files, 2);
    assert.equal(error.retrying, false);
  });

  test("messageFields: attachments only when there are some", () => {
    assert.deepEqual(messageFields({ client_id: "c", body: "b" }), { client_id: "c", body: "b" });
    assert.deepEqual(messageFields({ client_id: "c", body: "", attachments: [] }), { client_id: "c", body: "" });
    assert.deepEqual(messageFields({ client_id: "c", body: "", attachments: [3] }), { client_id: "c", body: "", attachments: [3] });
  });
});

describe("over the SSE fallback", () => {
  test("POST /api/widget/messages carries the attachments; a retry after a network failure keeps client_id and ids", async () => {
    const calls = [];
    let failNext = true;
    const fetchImpl = async (url, init = {}) => {
      calls.push({ url, init });
      if (url.includes("/api/widget/events")) return { ok: true, status: 200, body: streamingBody(init.signal).body };
      if (failNext) {
        failNext = false;
        throw new TypeError("network down");
      }
      const sent = JSON.parse(init.body);
      return { ok: true, status: 200, json: async () => ({ client_id: sent.client_id, id: 400, seq: 9, conversation: 7 }) };
    };
    const ctx = setup({ sseBase: "https://parley.test", fetchImpl });
    ctx.conn.connect();
    ctx.socket().fail();
    ctx.clock.advance(250);
    ctx.socket().fail();
    await settle();
    assert.equal(ctx.conn.transport, "sse");
    ctx.conn.send("invoice attached", [LABEL]);
    await settle();
    ctx.clock.advance(60_000); // the retry's backoff
    await settle();
    const posts = calls.filter((c) => c.url.endsWith("/api/widget/messages"));
    assert.equal(posts.length, 2);
    for (const post of posts) {
      assert.equal(post.init.headers.Authorization, "Bearer tok-1");
      assert.deepEqual(JSON.parse(post.init.body), { client_id: "cid-1", body: "invoice attached", attachments: [42] });
    }
    assert.deepEqual(ctx.conn.pending(), []);
  });
});

describe("file links are renewed by replays", () => {
  test("a replayed message we hold brings fresh links: the entry and what is stored are updated", () => {
    const storage = new MemoryStorage();
    const ctx = setup({ storage, storageKey: "parley" });
    goLive(ctx, welcome([withFiles(1, 0, "photo", [PHOTO], "old")], "1.0"));
    assert.equal(ctx.conn.transcript()[0].attachments[0].url, "/files/41.old/");
    assert.equal(ctx.conn.transcript()[0].linked_at, undefined); // bookkeeping stays inside

    ctx.socket().receive({ ...welcome([withFiles(1, 0, "photo", [PHOTO], "new")], "1.0"), type: "replay" });
    assert.equal(ctx.conn.transcript()[0].attachments[0].url, "/files/41.new/");
    assert.equal(ctx.of("message").at(-1).change, "update");
    const saved = JSON.parse(storage.get("parley:state"));
    assert.equal(saved.messages[0].attachments[0].url, "/files/41.new/");
  });

  test("after a reload with old links, hello asks from before the first message with files; fresh ones do not", () => {
    const storage = new MemoryStorage();
    const before = setup({ storage, storageKey: "parley" });
    goLive(before, welcome([ev.message(1, 0, "hi", "customer"), withFiles(2, 1, "photo", [PHOTO], "a"), ev.message(3, 2, "ok")], "3.0"));
    before.conn.close();

    const soon = setup({ storage, storageKey: "parley" });
    soon.conn.connect();
    soon.socket().open();
    assert.equal(soon.socket().sent[0].cursor, "3.0"); // links younger than half an hour: no need

    const later = setup({ storage, storageKey: "parley", now: () => 1_000_000 + 40 * 60 * 1000 });
    later.conn.connect();
    later.socket().open();
    assert.equal(later.socket().sent[0].cursor, "1.0"); // replays seq 2 and 3: the photo's links come fresh
    later.socket().receive(welcome([withFiles(2, 1, "photo", [PHOTO], "b"), ev.message(3, 2, "ok")], "3.0"));
    assert.deepEqual(later.conn.transcript().map((m) => m.seq), [1, 2, 3]);
    assert.equal(later.conn.transcript()[1].attachments[0].url, "/files/41.b/");
  });

  test("refreshLinks resumes from before the stale message, once, and only when a link is old enough", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([withFiles(1, 0, "photo", [PHOTO], "a")], "1.0"));
    assert.equal(ctx.conn.refreshLinks(60_000), false);
    ctx.tick(61_000);
    assert.equal(ctx.conn.refreshLinks(60_000), true);
    assert.equal(ctx.conn.refreshLinks(60_000), false); // one resume at a time
    assert.deepEqual(ws.frames("resume"), [{ type: "resume", cursor: "0.0", conversation: 7 }]);
  });
});

/** Just enough DOM for the renderer and the tray: elements, classes, data-*, simple selectors, events. */
class Node_ {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.parentNode = null;
    this.attributes = new Map();
    this.dataset = {};
    this.className = "";
    this.listeners = {};
    this.text = "";
    this.hidden = false;
  }

  set innerHTML(_value) {
    throw new Error("innerHTML must never be used for files");
  }

  get textContent() {
    return this.text + this.children.map((c) => c.textContent).join("");
  }

  set textContent(value) {
    this.children = [];
    this.text = String(value);
  }

  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  getAttribute(name) {
    if (name === "src" && this.src !== undefined) return this.src;
    return this.attributes.has(name) ? this.attributes.get(name) : null;
  }

  removeAttribute(name) {
    this.attributes.delete(name);
    if (name === "href") delete this.href;
  }

  appendChild(child) {
    child.parentNode?.removeChild(child);
    child.parentNode = this;
    this.children.push(child);
    return child;
  }

  append(...nodes) {
    for (const node of nodes) this.appendChild(node);
  }

  insertBefore(child, before) {
    if (!before) return this.appendChild(child);
    child.parentNode?.removeChild(child);
    child.parentNode = this;
    this.children.splice(this.children.indexOf(before), 0, child);
    return child;
  }

  removeChild(child) {
    this.children = this.children.filter((c) => c !== child);
    child.parentNode = null;
  }

  remove() {
    this.parentNode?.removeChild(this);
  }

  replaceChildren(...nodes) {
    this.children = [];
    this.text = "";
    this.append(...nodes);
  }

  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }

  dispatch(type, event = {}) {
    for (let node = this; node; node = node.parentNode) for (const fn of node.listeners[type] ?? []) fn({ target: this, ...event });
  }

  matches(selector) {
    const m = /^([a-z]*)((?:\.[\w-]+)*)(?:\[([\w-]+)(?:="([^"]*)")?\])?$/.exec(selector);
    if (!m) throw new Error(`selector not supported: ${selector}`);
    const [, tag, classes, attr, value] = m;
    if (tag && this.tagName !== tag.toUpperCase()) return false;
    const mine = this.className.split(/\s+/);
    if (classes && !classes.split(".").filter(Boolean).every((c) => mine.includes(c))) return false;
    if (attr) {
      const key = attr.startsWith("data-") ? attr.slice(5).replace(/-(\w)/g, (_, c) => c.toUpperCase()) : null;
      const have = key ? this.dataset[key] : this.getAttribute(attr);
      if (have === undefined || have === null || (value !== undefined && have !== value)) return false;
    }
    return true;
  }

  closest(selector) {
    for (let node = this; node; node = node.parentNode) if (node.matches?.(selector)) return node;
    return null;
  }

  all() {
    return this.children.flatMap((c) => [c, ...c.all()]);
  }

  querySelectorAll(selector) {
    if (selector.startsWith(":scope > ")) return this.children.filter((c) => c.matches(selector.slice(9)));
    return this.all().filter((c) => c.matches(selector));
  }

  querySelector(selector) {
    return this.querySelectorAll(selector)[0] ?? null;
  }
}

const doc = {
  createElement: (tag) => new Node_(tag),
  createElementNS: (_ns, tag) => new Node_(tag),
};

describe("the transcript's files", () => {
  const NASTY = '<img src=x onerror="alert(1)">.png';

  test("an image is a sized thumbnail opening full size in a new tab; a name is only ever text and alt", () => {
    const bubble = doc.createElement("div");
    const renderer = new FileRenderer({ t, doc, origin: "https://parley.test" });
    const box = renderer.fill(bubble, [{
      id: 9, name: NASTY, type: "image/png", size: 100, image: true, width: 640, height: 480,
      url: "/files/9.a/", thumbnail_url: "/files/9.t/",
    }]);
    const [link] = box.children;
    assert.equal(link.tagName, "A");
    assert.equal(link.href, "/files/9.a/");
    assert.equal(link.target, "_blank");
    assert.equal(link.rel, "noopener");
    assert.equal(link.getAttribute("aria-label"), `Open ${NASTY} full size`);
    const [img] = link.children;
    assert.deepEqual([img.tagName, img.alt, img.src, img.width, img.height], ["IMG", NASTY, "/files/9.t/", 220, 165]);
    assert.equal(box.all().filter((n) => n.tagName === "IMG").length, 1); // the name made no element
  });

  test("another file is a download row: icon, name, type and size; links elsewhere are not followed", () => {
    const bubble = doc.createElement("div");
    const renderer = new FileRenderer({ t, doc, origin: "https://parley.test" });
    const box = renderer.fill(bubble, [
      { id: 3, name: "<b>label</b>.pdf", type: "application/pdf", size: 48213, image: false, url: "/files/3.a/" },
      { id: 4, name: "evil.txt", type: "text/plain", size: 5, image: false, url: "https://evil.example/x" },
      { id: 5, name: "sending.pdf", type: "application/pdf", size: 5 }, // a pending message's file: no link yet
    ]);
    const [row, evil, pending] = box.children;
    assert.equal(row.tagName, "A");
    assert.equal(row.download, "<b>label</b>.pdf");
    assert.equal(row.querySelector(".file-name").textContent, "<b>label</b>.pdf");
    assert.equal(row.querySelector(".file-meta").textContent, "PDF · 48 KB");
    assert.equal(row.querySelector("svg").getAttribute("aria-hidden"), "true");
    assert.equal(evil.tagName, "DIV");
    assert.equal(evil.href, undefined);
    assert.equal(pending.tagName, "DIV");
  });

  test("fresh links update the same elements; a loaded image keeps its picture, one that failed reloads", () => {
    const bubble = doc.createElement("div");
    const stale = [];
    const renderer = new FileRenderer({ t, doc, origin: "", onStale: () => stale.push(1) });
    const file = { id: 9, name: "a.png", type: "image/png", size: 1, image: true, width: 10, height: 10, url: "/files/9.a/", thumbnail_url: "/files/9.t1/" };
    const box = renderer.fill(bubble, [file]);
    const [link] = box.children;
    const [img] = link.children;
    img.dispatch("error");
    assert.deepEqual(stale, [1]);
    assert.equal(renderer.fill(bubble, [{ ...file, url: "/files/9.b/", thumbnail_url: "/files/9.t2/" }]), box);
    assert.equal(link.href, "/files/9.b/");
    assert.equal(img.src, "/files/9.t2/"); // it had not loaded
    Object.assign(img, { complete: true, naturalWidth: 10 });
    renderer.fill(bubble, [{ ...file, url: "/files/9.c/", thumbnail_url: "/files/9.t3/" }]);
    assert.equal(link.href, "/files/9.c/");
    assert.equal(img.src, "/files/9.t2/"); // loaded: no new request, no flicker
  });

  test("sizes, kinds and thumbnail boxes", () => {
    assert.deepEqual([0, 999, 1000, 48213, 2_400_000, 10_000_000].map(humanSize), ["0 B", "999 B", "1 KB", "48 KB", "2.4 MB", "10 MB"]);
    assert.deepEqual([fileKind("application/pdf"), fileKind("image/webp"), fileKind("application/x-thing"), fileKind("", "a.txt")], ["PDF", "WebP", "X-THING", "TXT"]);
    assert.deepEqual(thumbnailSize(100, 50), { width: 100, height: 50 });
    assert.deepEqual(thumbnailSize(320, 640), { width: 110, height: 220 });
    assert.equal(thumbnailSize(undefined, 4), null);
  });
});

describe("uploads", () => {
  test("the server's answers map to done, refused (its reason), failed (Retry) and unauthorized", () => {
    const json = (o) => JSON.stringify(o);
    assert.deepEqual(uploadOutcome(201, json({ attachment: { id: 5, name: "a.png" } })), { kind: "done", attachment: { id: 5, name: "a.png" } });
    const refusal = (code, detail) => json({ error: { code, detail } });
    assert.deepEqual(uploadOutcome(400, refusal("type_mismatch", "The name does not match.")),
      { kind: "refused", code: "type_mismatch", detail: "The name does not match." });
    for (const code of ["empty_file", "type_not_allowed"]) assert.equal(uploadOutcome(400, refusal(code, "no")).kind, "refused");
    assert.deepEqual(uploadOutcome(413, refusal("too_large", "Files are limited to 10 MB.")),
      { kind: "refused", code: "too_large", detail: "Files are limited to 10 MB." });
    assert.deepEqual(uploadOutcome(413, "<html>nginx</html>"), { kind: "refused", code: "too_large", detail: "HTTP 413" });
    assert.deepEqual(uploadOutcome(429, json({ error: { code: "rate_limited", detail: "Too many files; wait a moment.", retry_after: 12 } })),
      { kind: "failed", code: "rate_limited", detail: "Too many files; wait a moment.", retry_after: 12 });
    assert.deepEqual(uploadOutcome(0, ""), { kind: "failed", code: "unavailable", detail: "" });
    assert.equal(uploadOutcome(502, "<html>").kind, "failed");
    assert.deepEqual(uploadOutcome(401, json({ error: { code: "unauthorized" } })), { kind: "unauthorized" });
  });

  test("uploadFile posts multipart `file` with the Bearer token and reports progress", async () => {
    const made = [];
    class FakeXHR {
      constructor() {
        this.headers = {};
        this.listeners = {};
        this.upload = { addEventListener: (type, fn) => (this.uploadListeners = { [type]: fn }) };
        made.push(this);
      }
      open(method, url) { Object.assign(this, { method, url }); }
      setRequestHeader(name, value) { this.headers[name] = value; }
      addEventListener(type, fn) { this.listeners[type] = fn; }
      send(body) { this.body = body; }
    }
    const file = new File([new Uint8Array([137, 80, 78, 71])], "shot.png", { type: "image/png" });
    const progress = [];
    const job = uploadFile({ file, token: "tok-9", onProgress: (p) => progress.push(p), XHR: FakeXHR });
    const [xhr] = made;
    assert.deepEqual([xhr.method, xhr.url, xhr.headers.Authorization], ["POST", "/api/widget/attachments", "Bearer tok-9"]);
    assert.equal(xhr.body.get("file").name, "shot.png");
    xhr.uploadListeners.progress({ lengthComputable: true, loaded: 2, total: 4 });
    Object.assign(xhr, { status: 201, responseText: JSON.stringify({ attachment: { id: 7 } }) });
    xhr.listeners.load();
    assert.deepEqual(await job.promise, { kind: "done", attachment: { id: 7 } });
    assert.deepEqual(progress, [50]);
  });
});

describe("the composer's tray", () => {
  function tray() {
    const jobs = [];
    const root = doc.createElement("div");
    const upload = (file) => {
      let resolve;
      const job = { file, promise: new Promise((r) => (resolve = r)), aborted: false };
      job.abort = () => {
        job.aborted = true;
      };
      job.answer = (outcome) => resolve(outcome);
      jobs.push(job);
      return job;
    };
    const discarded = [];
    return { root, jobs, discarded, tray: new FileTray({ root, t, upload, doc, discard: (id) => discarded.push(id) }) };
  }
  const file = (name) => ({ name });

  test("uploads at once; ready once done; a refusal shows the server's reason and does not count", async () => {
    const { root, jobs, tray: files } = tray();
    files.add([file("parcel.png"), file("invoice.pdf")]);
    assert.equal(files.status(), "uploading");
    assert.equal(root.hidden, false);
    const chips = root.querySelectorAll(".chip");
    assert.deepEqual(chips.map((c) => c.querySelector(".chip-remove").getAttribute("aria-label")), ["Remove parcel.png", "Remove invoice.pdf"]);
    jobs[0].answer({ kind: "done", attachment: { ...PHOTO } });
    jobs[1].answer({ kind: "refused", code: "type_mismatch", detail: "The file's name does not match its content (image/png)." });
    await settle();
    assert.equal(files.status(), "ready");
    assert.deepEqual(files.files(), [PHOTO]);
    assert.equal(chips[1].dataset.state, "refused");
    assert.equal(chips[1].querySelector(".chip-status").textContent,
      "Couldn't attach invoice.pdf: The file's name does not match its content (image/png).");
    assert.equal(chips[1].querySelector(".chip-retry").hidden, true);
  });

  test("a network failure offers Retry, which uploads the same file again; × aborts and removes", async () => {
    const { root, jobs, tray: files } = tray();
    files.add([file("a.png"), file("b.png")]);
    jobs[0].answer({ kind: "failed", code: "unavailable", detail: "" });
    await settle();
    const chip = root.querySelector(".chip");
    assert.equal(chip.dataset.state, "failed");
    assert.equal(chip.querySelector(".chip-retry").hidden, false);
    assert.equal(chip.querySelector(".chip-retry").getAttribute("aria-label"), "Retry uploading a.png");
    chip.querySelector(".chip-retry").dispatch("click");
    assert.equal(jobs.length, 3);
    assert.equal(jobs[2].file, jobs[0].file);
    assert.equal(files.status(), "uploading");
    root.querySelectorAll(".chip")[1].querySelector(".chip-remove").dispatch("click");
    assert.equal(jobs[1].aborted, true);
    assert.equal(root.querySelectorAll(".chip").length, 1);
  });

  test("× on an uploaded file asks the server to forget it; on one still uploading it only aborts", async () => {
    const { root, jobs, discarded, tray: files } = tray();
    files.add([file("parcel.png"), file("b.png")]);
    jobs[0].answer({ kind: "done", attachment: { ...PHOTO } });
    await settle();
    const [done, uploading] = root.querySelectorAll(".chip");
    done.querySelector(".chip-remove").dispatch("click");
    uploading.querySelector(".chip-remove").dispatch("click");
    assert.deepEqual(discarded, [PHOTO.id]);
    assert.equal(jobs[1].aborted, true);
  });

  test(`more than ${MAX_FILES} files: the extra ones are refused without an upload`, () => {
    const { jobs, root, tray: files } = tray();
    files.add(Array.from({ length: MAX_FILES + 1 }, (_, i) => file(`${i}.png`)));
    assert.equal(jobs.length, MAX_FILES);
    assert.equal(root.querySelectorAll(".chip").at(-1).dataset.state, "refused");
    files.clear();
    assert.equal(root.hidden, true);
  });
});

test("every file string exists in both languages", () => {
  const keys = Object.keys(CATALOGS.en).filter((k) => k.startsWith("files."));
  assert.ok(keys.length >= 10);
  for (const key of keys) assert.ok(CATALOGS["zh-hans"][key], key);
});
