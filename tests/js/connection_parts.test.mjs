// Tests of the parts of the widget connection (static/widget/connection/*.js) on their own;
// connection.test.mjs drives them together through Connection. `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Emitter } from "../../static/widget/connection/emitter.js";
import { postFeedback, postMessage, postStop } from "../../static/widget/connection/http.js";
import { Outbox } from "../../static/widget/connection/outbox.js";
import { parseFrame } from "../../static/widget/connection/protocol.js";
import { SocketLink } from "../../static/widget/connection/socket.js";
import { EventStreamLink, eventFrame } from "../../static/widget/connection/sse.js";
import { ConnectionStore } from "../../static/widget/connection/storage.js";
import { Timers } from "../../static/widget/connection/timers.js";
import { Transcript, helpfulness } from "../../static/widget/connection/transcript.js";
import { FakeClock, MemoryStorage, ev, fakeWebSocketClass, settle, streamingBody } from "./fakes.mjs";

function transcript() {
  const events = [];
  const log = new Transcript((type, payload) => events.push({ type, ...payload }));
  return { log, events };
}

describe("Transcript", () => {
  test("applies each event once: by seq for messages, by index for deltas", () => {
    const { log, events } = transcript();
    assert.equal(log.apply(ev.message(1, 0, "hi", "customer"), true), "applied");
    assert.equal(log.apply(ev.message(1, 0, "hi", "customer"), true), "duplicate");
    assert.equal(log.apply(ev.start(2, 1, 60), true), "applied");
    assert.equal(log.apply(ev.start(2, 1, 60), true), "duplicate");
    assert.equal(log.apply(ev.delta(2, 60, 0, "Hel"), true), "applied");
    assert.equal(log.apply(ev.delta(2, 60, 0, "Hel"), true), "duplicate");
    assert.equal(log.apply(ev.delta(2, 60, 1, "lo"), true), "applied");
    assert.deepEqual(log.sorted().map((m) => m.body), ["hi", "Hello"]);
    assert.deepEqual(events.filter((e) => e.type === "reply").map((e) => e.phase), ["start", "delta", "delta"]);
    assert.deepEqual(events.filter((e) => e.type === "message").map((e) => e.change), ["new", "new", "update", "update"]);
  });

  test("live events past what it holds are gaps; replayed ones are not", () => {
    const { log } = transcript();
    log.apply(ev.message(1, 0, "a"), true);
    assert.equal(log.apply(ev.message(3, 2, "c"), true), "gap");
    assert.equal(log.apply(ev.start(3, 2, 70), true), "gap");
    assert.equal(log.apply(ev.delta(4, 71, 0, "x"), true), "gap", "a delta of a reply never started");
    assert.equal(log.apply(ev.end(4, 71, 0, "x"), true), "gap");
    assert.equal(log.size, 1);
    assert.equal(log.apply(ev.message(3, 2, "c"), false), "applied");
    assert.equal(log.lastSeq(), 3);
  });

  test("a delta that skips an index is a gap", () => {
    const { log } = transcript();
    log.apply(ev.start(1, 0, 80), true);
    log.apply(ev.delta(1, 80, 0, "A"), true);
    assert.equal(log.apply(ev.delta(1, 80, 2, "C"), true), "gap");
    assert.equal(log.apply(ev.snapshot(1, 80, 2, "ABC"), true), "applied");
    assert.equal(log.sorted()[0].body, "ABC");
  });

  test("its position stops at a streaming reply and moves past a finished one", () => {
    const { log } = transcript();
    log.apply(ev.message(1, 0, "q"), true);
    log.apply(ev.start(2, 1, 90), true);
    assert.deepEqual(log.position(), { seq: 1, index: 0 });
    log.apply(ev.delta(2, 90, 0, "x"), true);
    log.apply(ev.message(3, 2, "later"), true);
    assert.deepEqual(log.position(), { seq: 2, index: 0 });
    log.apply(ev.end(2, 90, 0, "x!"), true);
    assert.deepEqual(log.position(), { seq: 3, index: 0 });
    log.notePosition("3.4");
    assert.deepEqual(log.position(), { seq: 3, index: 4 }, "the server knows more about seq 3");
    log.notePosition("3.1");
    assert.deepEqual(log.position(), { seq: 3, index: 4 }, "never moves back");
  });

  test("restore keeps only entries it can build a cursor from", () => {
    const { log } = transcript();
    const good = { id: 1, seq: 1, author: {}, body: "ok", status: "sent", created_at: null, index: -1, pos: { seq: 1, index: 0 } };
    log.restore([good, { ...good, seq: 0 }, { ...good, seq: 2, body: 5 }, { ...good, seq: 3, pos: { seq: "3" } }, null]);
    assert.deepEqual(log.sorted(), [good]);
    assert.equal(log.entryById(1), good);
    assert.equal(log.replyEnded(1), true);
    log.clear();
    assert.equal(log.size, 0);
  });

  test("helpfulness reads booleans and the database's 1 / -1", () => {
    assert.deepEqual([true, 1, false, -1, null, 0, "yes", undefined].map(helpfulness), [true, true, false, false, null, null, null, null]);
  });
});

describe("Outbox", () => {
  test("acknowledging unqueues once, resets the retry attempt, and answers false for a repeat", () => {
    const outbox = new Outbox();
    outbox.add({ client_id: "a", body: "1" });
    outbox.add({ client_id: "b", body: "2" });
    outbox.inFlight.add("a");
    outbox.attempt = 3;
    assert.equal(outbox.nextUnsent().client_id, "b");
    assert.equal(outbox.acknowledge("a"), true);
    assert.equal(outbox.acknowledge("a"), false);
    assert.equal(outbox.attempt, 0);
    assert.equal(outbox.inFlight.has("a"), false);
    assert.deepEqual(outbox.pending(), [{ client_id: "b", body: "2" }]);
  });

  test("pending hands out copies; drop and restore", () => {
    const outbox = new Outbox();
    const entry = { client_id: "a", body: "1" };
    outbox.add(entry);
    outbox.pending()[0].body = "changed";
    assert.equal(outbox.find("a").body, "1");
    outbox.drop(entry);
    assert.equal(outbox.includes(entry), false);
    outbox.restore([{ client_id: 1, body: "x" }, { client_id: "k", body: "kept" }, null, { client_id: "n" }]);
    assert.deepEqual(outbox.pending(), [{ client_id: "k", body: "kept" }]);
  });
});

describe("ConnectionStore", () => {
  test("state and outbox round-trip under the key prefix", () => {
    const storage = new MemoryStorage();
    const store = new ConnectionStore(storage, "parley:demo:conn");
    store.saveState({ visitor: { id: 3 }, conversation: { id: 7 }, messages: [{ seq: 1 }] });
    store.saveOutbox([{ client_id: "a", body: "x" }]);
    assert.deepEqual([...storage.map.keys()], ["parley:demo:conn:state", "parley:demo:conn:outbox"]);
    assert.deepEqual(store.loadState(), { visitor: { id: 3 }, conversation: { id: 7 }, messages: [{ seq: 1 }] });
    assert.deepEqual(store.loadOutbox(), [{ client_id: "a", body: "x" }]);
  });

  test("unreadable, foreign or missing data loads as nothing; failing storage is ignored", () => {
    const storage = new MemoryStorage();
    const store = new ConnectionStore(storage, "k");
    storage.set("k:state", "{not json");
    storage.set("k:outbox", JSON.stringify({ not: "a list" }));
    assert.equal(store.loadState(), null);
    assert.equal(store.loadOutbox(), null);
    storage.set("k:state", JSON.stringify({ v: 2, messages: [] }));
    assert.equal(store.loadState(), null, "another version");
    storage.set("k:state", JSON.stringify({ v: 1, conversation: { id: "7" }, messages: "x" }));
    assert.deepEqual(store.loadState(), { visitor: null, conversation: null, messages: [] });
    const broken = new ConnectionStore({ get() { throw new Error("denied"); }, set() { throw new Error("full"); } }, "k");
    broken.saveOutbox([]);
    assert.equal(broken.loadOutbox(), null);
    assert.equal(new ConnectionStore(null, "k").loadState(), null);
  });
});

describe("Timers and Emitter", () => {
  test("a named timer replaces the previous one of that name and forgets itself when it runs", () => {
    const clock = new FakeClock();
    const timers = new Timers(clock.setTimeout, clock.clearTimeout);
    const ran = [];
    timers.start("a", 100, () => ran.push("first"));
    timers.start("a", 200, () => ran.push("second"));
    timers.start("b", 50, () => ran.push("b"));
    timers.clear("b");
    assert.deepEqual(clock.pending(), [200]);
    clock.advance(200);
    assert.deepEqual(ran, ["second"]);
    assert.equal(timers.has("a"), false);
  });

  test("listeners run in order, a throwing one does not stop the others, and on() returns off", () => {
    const emitter = new Emitter();
    const got = [];
    const original = console.error;
    console.error = () => {};
    try {
      emitter.on("x", () => { throw new Error("broken"); });
      const off = emitter.on("x", (p) => got.push(p));
      emitter.emit("x", 1);
      off();
      emitter.emit("x", 2);
    } finally {
      console.error = original;
    }
    assert.deepEqual(got, [1]);
  });
});

describe("SocketLink", () => {
  test("reports open, activity, JSON object frames and the close code; nothing after close()", () => {
    const WS = fakeWebSocketClass();
    const seen = [];
    const link = new SocketLink(WS, "wss://x/ws/widget/", {
      onOpen: () => seen.push("open"),
      onActivity: () => seen.push("activity"),
      onFrame: (frame) => seen.push(frame.type),
      onClose: (code) => seen.push(`close ${code}`),
    });
    const ws = WS.instances[0];
    assert.equal(link.send({ type: "ping" }), false, "not open yet");
    ws.open();
    assert.equal(link.send({ type: "ping" }), true);
    ws.receive({ type: "pong" });
    ws.onmessage({ data: "garbled" });
    ws.onmessage({ data: "3" });
    ws.serverClose(4012);
    assert.deepEqual(seen, ["open", "activity", "pong", "activity", "activity", "close 4012"]);
    assert.deepEqual(ws.sent, [{ type: "ping" }]);

    const second = new SocketLink(WS, "wss://x/ws/widget/", { onOpen() {}, onActivity() {}, onFrame() {}, onClose: () => seen.push("late") });
    WS.instances[1].open();
    second.close();
    assert.equal(WS.instances[1].closedWith, 1000);
    assert.equal(second.send({ type: "ping" }), false);
    assert.equal(seen.includes("late"), false);
  });

  test("parseFrame keeps JSON objects only", () => {
    assert.deepEqual(parseFrame('{"type":"pong"}'), { type: "pong" });
    for (const text of ["", "nope", "null", "1", '"s"']) assert.equal(parseFrame(text), null, text);
  });
});

describe("EventStreamLink", () => {
  function streamLink(response) {
    const seen = [];
    const requests = [];
    const fetchImpl = async (url, init) => {
      requests.push({ url, init });
      return typeof response === "function" ? response(init) : response;
    };
    const link = new EventStreamLink(fetchImpl, {
      onActivity: () => seen.push("activity"),
      onOpen: () => seen.push("open"),
      onFrame: (frame) => seen.push(frame.type),
      onPosition: (cursor) => seen.push(`at ${cursor}`),
      onLost: (code) => seen.push(`lost ${code}`),
    });
    return { link, seen, requests };
  }

  test("frames with their cursors, then lost when the stream ends", async () => {
    let stream;
    const { link, seen, requests } = streamLink((init) => {
      stream = streamingBody(init.signal);
      return { ok: true, status: 200, body: stream.body };
    });
    void link.open("https://x/api/widget/events?cursor=0.0", { Authorization: "Bearer t" });
    await settle();
    assert.deepEqual(requests[0].init.headers, { Authorization: "Bearer t" });
    assert.equal(requests[0].init.cache, "no-store");
    stream.push(new TextEncoder().encode(`event: message.new\ndata: ${JSON.stringify(ev.message(1, 0, "a"))}\nid: 1.0\n\n: ping\n\n`));
    await settle();
    stream.end();
    await settle();
    assert.deepEqual(seen, ["open", "activity", "message.new", "at 1.0", "lost 0"]);
  });

  test("401 and 403 are reported as the socket's close codes; a closed link reports nothing", async () => {
    for (const [status, code] of [[401, 4401], [403, 4403], [500, 0]]) {
      const { link, seen } = streamLink({ ok: false, status, body: null });
      await link.open("u", {});
      assert.deepEqual(seen, [`lost ${code}`]);
    }
    const { link, seen } = streamLink({ ok: false, status: 401, body: null });
    const opening = link.open("u", {});
    link.close();
    await opening;
    assert.deepEqual(seen, []);
  });

  test("eventFrame types data by its event name when the data has no type", () => {
    assert.deepEqual(eventFrame({ event: "reply.end", data: '{"seq":2}', id: "" }), { type: "reply.end", seq: 2 });
    assert.deepEqual(eventFrame({ event: "message", data: '{"seq":2}', id: "" }), { seq: 2 });
    assert.equal(eventFrame({ event: "x", data: "not json", id: "" }), null);
  });
});

describe("http fallback", () => {
  const respond = (status, body) => ({ ok: status < 300, status, json: async () => body });
  const http = (answer) => ({ base: "https://x/", token: "t", fetchImpl: async () => (answer instanceof Error ? Promise.reject(answer) : answer) });
  const entry = { client_id: "c1", body: "hi" };

  test("postMessage: an ack, an auth failure, a refusal with the server's code or one from the status, no network", async () => {
    assert.deepEqual(await postMessage(http(respond(200, { id: 4 })), entry), { kind: "ack", answer: { id: 4 } });
    assert.deepEqual(await postMessage(http(respond(401, {})), entry), { kind: "unauthorized" });
    assert.deepEqual(await postMessage(http(respond(400, { error: { code: "too_long", detail: "long" } })), entry),
      { kind: "refused", code: "too_long", detail: "long" });
    assert.deepEqual(await postMessage(http(respond(429, null)), entry), { kind: "refused", code: "rate_limited", detail: "HTTP 429" });
    assert.deepEqual(await postMessage(http(respond(503, null)), entry), { kind: "refused", code: "unavailable", detail: "HTTP 503" });
    assert.deepEqual(await postMessage(http(new TypeError("offline")), entry), { kind: "unreachable" });
  });

  test("postStop and postFeedback", async () => {
    assert.equal(await postStop(http(respond(200, {})), 5), null);
    assert.deepEqual(await postStop(http(respond(404, {})), 5), { code: "stop_failed", detail: "HTTP 404", ref: "reply.stop" });
    assert.equal((await postStop(http(new TypeError("offline")), 5)).code, "unavailable");
    assert.deepEqual(await postFeedback(http(respond(200, { helpful: false })), 5, true), { kind: "saved", helpful: false });
    assert.deepEqual(await postFeedback(http(respond(200, {})), 5, true), { kind: "saved", helpful: true });
    assert.deepEqual(await postFeedback(http(respond(401, {})), 5, true), { kind: "unauthorized" });
    assert.equal((await postFeedback(http(new TypeError("offline")), 5, true)).code, "unavailable");
  });
});
