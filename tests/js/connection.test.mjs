// Tests of static/widget/connection.js: run with `node --test tests/js/` (Node 20, no dependencies).
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  Connection, SSEParser, backoffDelay, formatCursor, newClientId, parseCursor,
} from "../../static/widget/connection.js";
import { FakeClock, MemoryStorage, ev, fakeWebSocketClass, settle, streamingBody } from "./fakes.mjs";

const HEARTBEAT = 1000;

/** A connection wired to fakes; `random` 0.5 makes every backoff delay exactly half its ceiling. */
function setup(options = {}) {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  let ids = 0;
  const conn = new Connection({
    url: "wss://parley.test/ws/widget/",
    token: "tok-1",
    WebSocketImpl: WS,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 0.5,
    heartbeatMs: HEARTBEAT,
    createId: () => `cid-${++ids}`,
    network: null,
    ...options,
  });
  const events = [];
  for (const type of ["state", "message", "reply", "conversation", "typing", "read", "error", "ack", "auth", "outbox", "transport", "welcome"]) {
    conn.on(type, (payload) => events.push({ type, ...payload }));
  }
  const socket = () => WS.instances.at(-1);
  const of = (type) => events.filter((e) => e.type === type);
  return { conn, clock, WS, socket, events, of };
}

function welcome(events = [], { conversation = ev.conversation(), cursor = "0.0", more = false, type = "welcome" } = {}) {
  return { type, visitor: { id: 3, name: "", email: "", verified: false }, conversation, events, cursor, more };
}

/** Connect, open the socket and answer hello with `frame`; returns the socket. */
function goLive(ctx, frame = welcome()) {
  ctx.conn.connect();
  const ws = ctx.socket();
  ws.open();
  ws.receive(frame);
  return ws;
}

const bodies = (conn) => conn.transcript().map((m) => `${m.seq}:${m.body}`);

describe("pure helpers", () => {
  test("parseCursor and formatCursor round-trip; junk is the start", () => {
    assert.deepEqual(parseCursor("12.3"), { seq: 12, index: 3 });
    assert.equal(formatCursor(parseCursor("7.0")), "7.0");
    assert.deepEqual(parseCursor("x.1"), { seq: 0, index: 0 });
    assert.deepEqual(parseCursor(undefined), { seq: 0, index: 0 });
  });

  test("backoffDelay grows exponentially, is capped, and is scaled by the jitter", () => {
    const half = { base: 500, max: 30000, random: () => 0.5 };
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 40].map((a) => backoffDelay(a, half)),
      [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    assert.equal(backoffDelay(3, { base: 500, max: 30000, random: () => 0 }), 0);
    assert.equal(backoffDelay(3, { base: 500, max: 30000, random: () => 0.999 }), 3996);
  });

  test("newClientId makes UUIDs, with or without crypto.randomUUID", () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.match(newClientId(), uuid);
    assert.match(newClientId({ getRandomValues: (b) => b.fill(0xab) }), uuid);
    assert.match(newClientId(null), uuid);
  });
});

describe("hello and welcome", () => {
  test("hello carries the token and the cursor, plus the conversation once known", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "hi", "customer"), ev.message(2, 1, "hello!", "bot")], { cursor: "2.0" }));
    assert.deepEqual(ws.sent[0], { type: "hello", token: "tok-1", cursor: "0.0" });
    ws.serverClose(1006);
    ctx.clock.advance(250);
    const again = ctx.socket();
    again.open();
    assert.deepEqual(again.sent[0], { type: "hello", token: "tok-1", cursor: "2.0", conversation: 7 });
  });

  test("welcome events are applied in order and the state goes open", () => {
    const ctx = setup();
    goLive(ctx, welcome([
      ev.message(1, 0, "hi", "customer"),
      ev.start(3, 1, 55),
      ev.snapshot(3, 55, 4, "Hello the"),
    ], { cursor: "3.4" }));
    assert.equal(ctx.conn.state, "open");
    assert.deepEqual(ctx.of("state").map((e) => e.state), ["connecting", "open"]);
    assert.deepEqual(bodies(ctx.conn), ["1:hi", "3:Hello the"]);
    assert.equal(ctx.conn.transcript()[1].status, "streaming");
    assert.equal(ctx.conn.cursor, "3.4");
    assert.equal(ctx.conn.conversationId, 7);
    ctx.socket().receive(ev.delta(3, 55, 5, "re"));
    assert.deepEqual(bodies(ctx.conn), ["1:hi", "3:Hello there"]);
  });

  test("welcome with more=true asks for the rest from the welcome's cursor", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "a"), ev.message(2, 1, "b")], { cursor: "2.0", more: true }));
    assert.deepEqual(ws.frames("resume"), [{ type: "resume", cursor: "2.0", conversation: 7 }]);
    ws.receive(welcome([ev.message(3, 2, "c")], { type: "replay", cursor: "3.0" }));
    assert.deepEqual(bodies(ctx.conn), ["1:a", "2:b", "3:c"]);
  });

  test("a welcome for another conversation starts the transcript afresh", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "old")], { cursor: "1.0" }));
    ws.serverClose(1012);
    ctx.clock.advance(250);
    ctx.socket().open();
    ctx.socket().receive(welcome([ev.message(1, 0, "new", "agent", 9)], { conversation: ev.conversation(9), cursor: "1.0" }));
    assert.equal(ctx.conn.conversationId, 9);
    assert.deepEqual(bodies(ctx.conn), ["1:new"]);
  });

  test("not_found for the conversation named in hello resets and replays from 0.0", () => {
    const storage = new MemoryStorage();
    const first = setup({ storage });
    goLive(first, welcome([ev.message(1, 0, "someone else's")], { cursor: "1.0" }));
    first.conn.close();
    const ctx = setup({ storage });
    ctx.conn.connect();
    const ws = ctx.socket();
    ws.open();
    assert.equal(ws.sent[0].conversation, 7);
    ws.receive({ type: "error", code: "not_found", detail: "No such conversation.", ref: "hello" });
    assert.deepEqual(ws.frames("resume"), [{ type: "resume", cursor: "0.0" }]);
    ws.receive(welcome([], { type: "replay", conversation: null }));
    assert.equal(ctx.conn.state, "open");
    assert.deepEqual(ctx.conn.transcript(), []);
  });
});

describe("dedupe and gaps", () => {
  test("live duplicates are dropped by seq and by delta index, also after a replay", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "hi", "customer")], { cursor: "1.0" }));
    ws.receive(ev.message(1, 0, "hi", "customer"));
    ws.receive(ev.start(2, 1, 60));
    ws.receive(ev.start(2, 1, 60));
    ws.receive(ev.delta(2, 60, 0, "Hel"));
    ws.receive(ev.delta(2, 60, 0, "Hel"));
    ws.receive(ev.delta(2, 60, 1, "lo"));
    assert.deepEqual(bodies(ctx.conn), ["1:hi", "2:Hello"]);
    // A resume replays what we hold; the same events then arrive live again.
    ws.receive(ev.message(4, 3, "jump"));
    assert.equal(ws.frames("resume").length, 1);
    ws.receive(welcome([ev.snapshot(2, 60, 2, "Hello!"), ev.message(3, 2, "c"), ev.message(4, 3, "jump")], { type: "replay", cursor: "4.0" }));
    ws.receive(ev.delta(2, 60, 2, "!"));
    ws.receive(ev.message(3, 2, "c"));
    ws.receive(ev.message(4, 3, "jump"));
    assert.deepEqual(bodies(ctx.conn), ["1:hi", "2:Hello!", "3:c", "4:jump"]);
    const news = ctx.of("message").filter((e) => e.change === "new").map((e) => e.message.seq);
    assert.deepEqual(news, [1, 2, 3, 4]);
  });

  test("a prev_seq gap sends exactly one resume, holds live events, and the replay fills the gap", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "a")], { cursor: "1.0" }));
    ws.receive(ev.message(3, 2, "c"));
    ws.receive(ev.message(4, 3, "d"));
    ws.receive(ev.message(5, 4, "e"));
    assert.deepEqual(ws.frames("resume"), [{ type: "resume", cursor: "1.0", conversation: 7 }]);
    assert.deepEqual(bodies(ctx.conn), ["1:a"], "nothing past the gap is applied before the replay");
    ws.receive(welcome([ev.message(2, 1, "b"), ev.message(3, 2, "c"), ev.message(4, 3, "d")], { type: "replay", cursor: "4.0" }));
    assert.deepEqual(bodies(ctx.conn), ["1:a", "2:b", "3:c", "4:d", "5:e"]);
    assert.equal(ws.frames("resume").length, 1);
    assert.equal(ctx.conn.cursor, "5.0");
  });

  test("a pong whose head cursor is ahead of ours (events lost silently) triggers one resume", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "a")], { cursor: "1.0" }));
    ws.receive({ type: "pong", conversation: 7, cursor: "1.0" });
    assert.equal(ws.frames("resume").length, 0, "level with the server: nothing to ask");
    ws.receive({ type: "pong", conversation: 7, cursor: "3.0" });
    assert.deepEqual(ws.frames("resume"), [{ type: "resume", cursor: "1.0", conversation: 7 }]);
    ws.receive({ type: "pong", conversation: 99, cursor: "9.0" });
    assert.equal(ws.frames("resume").length, 1, "another conversation's head is not ours");
  });

  test("seqs the customer never sees (internal notes) are not gaps", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "a")], { cursor: "1.0" }));
    ws.receive(ev.message(4, 1, "after two notes"));
    assert.equal(ws.frames("resume").length, 0);
    assert.deepEqual(bodies(ctx.conn), ["1:a", "4:after two notes"]);
  });

  test("a delta index gap triggers a resume from the last index held", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q", "customer")], { cursor: "1.0" }));
    ws.receive(ev.start(2, 1, 70));
    ws.receive(ev.delta(2, 70, 0, "A"));
    ws.receive(ev.delta(2, 70, 1, "B"));
    ws.receive(ev.delta(2, 70, 3, "D"));
    ws.receive(ev.delta(2, 70, 4, "E"));
    assert.deepEqual(ws.frames("resume"), [{ type: "resume", cursor: "2.1", conversation: 7 }]);
    ws.receive(welcome([ev.snapshot(2, 70, 3, "ABCD")], { type: "replay", cursor: "2.3" }));
    assert.deepEqual(bodies(ctx.conn), ["1:q", "2:ABCDE"]);
    assert.equal(ctx.conn.cursor, "2.4");
  });

  test("a delta for a reply we never saw start is a gap", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q")], { cursor: "1.0" }));
    ws.receive(ev.delta(2, 70, 0, "A"));
    assert.equal(ws.frames("resume").length, 1);
  });

  test("reply.start keeps the cursor; deltas move it; reply.end replaces the text and moves it to S.(index+1)", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q", "customer")], { cursor: "1.0" }));
    ws.receive(ev.start(2, 1, 80));
    assert.equal(ctx.conn.cursor, "1.0");
    ws.receive(ev.delta(2, 80, 0, "Hi"));
    ws.receive(ev.delta(2, 80, 1, " th"));
    assert.equal(ctx.conn.cursor, "2.1");
    ws.receive(ev.end(2, 80, 1, "Hi there, final.", "complete"));
    assert.equal(ctx.conn.cursor, "2.2");
    assert.deepEqual(ctx.conn.transcript()[1], {
      id: 80, seq: 2, author: { kind: "bot", name: "Parley" }, body: "Hi there, final.", status: "complete", created_at: null,
    });
    ws.receive(ev.end(2, 80, 1, "Hi there, final.", "complete"));
    ws.receive(ev.delta(2, 80, 2, "late"));
    assert.equal(ctx.conn.transcript()[1].body, "Hi there, final.");
    assert.deepEqual(ctx.of("reply").map((e) => e.phase), ["start", "delta", "delta", "end"]);
    assert.equal(ctx.of("reply").at(-1).text, "Hi there, final.");
  });

  test("the cursor stays at a reply still streaming when later messages arrive", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q", "customer")], { cursor: "1.0" }));
    ws.receive(ev.start(2, 1, 90));
    ws.receive(ev.delta(2, 90, 0, "x"));
    ws.receive(ev.message(3, 2, "agent joined"));
    assert.equal(ctx.conn.cursor, "2.0", "a resume must still bring the reply's end");
    ws.receive(ev.end(2, 90, 0, "x done"));
    assert.equal(ctx.conn.cursor, "3.0");
  });

  test("a reply that finished while away comes back as message.new and completes the held one", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q", "customer")], { cursor: "1.0" }));
    ws.receive(ev.start(2, 1, 91));
    ws.serverClose(1006);
    ctx.clock.advance(250);
    const again = ctx.socket();
    again.open();
    assert.equal(again.sent[0].cursor, "1.0");
    const finished = ev.message(2, 1, "whole answer", "bot");
    finished.message.id = 91;
    again.receive(welcome([finished], { cursor: "2.3" }));
    assert.deepEqual(bodies(ctx.conn), ["1:q", "2:whole answer"]);
    assert.equal(ctx.conn.transcript()[1].status, "sent");
    assert.equal(ctx.conn.cursor, "2.3", "the welcome's cursor knows the reply's last index");
  });

  test("conversation.updated with a new id resets the transcript and the cursor to 0.0", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "a"), ev.message(2, 1, "b")], { cursor: "2.0" }));
    ws.receive({ type: "conversation.updated", conversation: ev.conversation(7, { owner: "queue" }) });
    assert.equal(ctx.conn.conversation.owner, "queue");
    assert.equal(ctx.conn.cursor, "2.0");
    ws.receive({ type: "conversation.updated", conversation: ev.conversation(8) });
    assert.equal(ctx.conn.conversationId, 8);
    assert.equal(ctx.conn.cursor, "0.0");
    assert.deepEqual(ctx.conn.transcript(), []);
    ws.receive(ev.message(1, 0, "fresh", "system", 8));
    assert.deepEqual(bodies(ctx.conn), ["1:fresh"]);
    const switched = ctx.of("conversation").filter((e) => e.switched);
    assert.deepEqual(switched.map((e) => [e.previous, e.conversation.id]), [[null, 7], [7, 8]]);
  });

  test("typing and read events are passed on", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ws.receive({ type: "typing", conversation: 7, author: { kind: "agent", name: "Ann" }, active: true });
    ws.receive({ type: "read", conversation: 7, by: "agent", seq: 4 });
    assert.deepEqual(ctx.of("typing")[0].author, { kind: "agent", name: "Ann" });
    assert.equal(ctx.of("read")[0].seq, 4);
  });
});

describe("reconnect", () => {
  test("backoff delays use the injected jitter, grow exponentially, are capped, and reset after welcome", () => {
    const ctx = setup({ backoffBase: 500, backoffMax: 4000 });
    const ws = goLive(ctx);
    ws.serverClose(1006);
    const delays = [];
    for (let i = 0; i < 6; i += 1) {
      const [delay] = ctx.clock.pending();
      delays.push(delay);
      ctx.clock.advance(delay);
      ctx.socket().fail();
    }
    assert.deepEqual(delays, [250, 500, 1000, 2000, 2000, 2000]);
    assert.deepEqual(ctx.of("state").filter((e) => e.state === "reconnecting").map((e) => e.delay), [...delays, 2000]);
    ctx.clock.advance(2000);
    ctx.socket().open();
    ctx.socket().receive(welcome());
    ctx.socket().serverClose(1006);
    assert.deepEqual(ctx.clock.pending(), [250], "a welcome resets the backoff");
  });

  test("the jitter spreads delays over [0, ceiling)", () => {
    const rolls = [0.1, 0.9, 0.25];
    const ctx = setup({ random: () => rolls.shift() });
    goLive(ctx).serverClose(1006);
    assert.deepEqual(ctx.clock.pending(), [50]);
    ctx.clock.advance(50);
    ctx.socket().fail();
    assert.deepEqual(ctx.clock.pending(), [900]);
    ctx.clock.advance(900);
    ctx.socket().fail();
    assert.deepEqual(ctx.clock.pending(), [500]);
  });

  test("1012 (server restarting) reconnects with backoff and resumes from the cursor", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "a")], { cursor: "1.0" }));
    ws.serverClose(1012);
    assert.equal(ctx.conn.state, "reconnecting");
    assert.equal(ctx.WS.instances.length, 1, "waits for the backoff first");
    ctx.clock.advance(250);
    assert.equal(ctx.WS.instances.length, 2);
    ctx.socket().open();
    assert.deepEqual(ctx.socket().sent[0], { type: "hello", token: "tok-1", cursor: "1.0", conversation: 7 });
    ctx.socket().receive(welcome([ev.message(2, 1, "b")], { cursor: "2.0" }));
    assert.deepEqual(bodies(ctx.conn), ["1:a", "2:b"]);
  });

  test("4401 emits auth once and does not reconnect until a new token is given", () => {
    const ctx = setup();
    ctx.conn.connect();
    ctx.socket().open();
    ctx.socket().serverClose(4401);
    assert.equal(ctx.of("auth").length, 1);
    assert.equal(ctx.conn.state, "closed");
    ctx.clock.advance(120000);
    assert.equal(ctx.WS.instances.length, 1);
    assert.deepEqual(ctx.clock.pending(), []);
    ctx.conn.setToken("tok-2");
    assert.equal(ctx.WS.instances.length, 2);
    ctx.socket().open();
    assert.equal(ctx.socket().sent[0].token, "tok-2");
  });

  test("4403 closes for good and reports forbidden", () => {
    const ctx = setup();
    ctx.conn.connect();
    ctx.socket().open();
    ctx.socket().serverClose(4403);
    assert.equal(ctx.conn.state, "closed");
    assert.equal(ctx.of("error")[0].code, "forbidden");
    ctx.clock.advance(120000);
    assert.equal(ctx.WS.instances.length, 1);
  });

  test("close() stops everything and no timer brings the socket back", () => {
    const ctx = setup();
    goLive(ctx);
    ctx.conn.close();
    assert.equal(ctx.socket().closedWith, 1000);
    ctx.clock.advance(120000);
    assert.equal(ctx.WS.instances.length, 1);
    assert.equal(ctx.conn.state, "closed");
  });

  test("the browser going offline parks reconnects until it is back online", () => {
    const listeners = {};
    const network = { onLine: true, addEventListener: (type, fn) => { listeners[type] = fn; } };
    const ctx = setup({ network });
    const ws = goLive(ctx);
    network.onLine = false;
    ws.serverClose(1006);
    assert.equal(ctx.conn.state, "offline");
    assert.deepEqual(ctx.clock.pending(), []);
    network.onLine = true;
    listeners.online();
    assert.equal(ctx.WS.instances.length, 2);
    assert.equal(ctx.conn.state, "reconnecting");
  });
  test("the browser reporting offline drops a live link at once; messages wait for the way back", () => {
    const listeners = {};
    const network = { onLine: true, addEventListener: (type, fn) => { listeners[type] = fn; } };
    const ctx = setup({ network });
    const ws = goLive(ctx);
    network.onLine = false;
    listeners.offline();
    assert.equal(ctx.conn.state, "offline");
    assert.equal(ws.closedWith, 1000);
    assert.deepEqual(ctx.clock.pending(), []);
    ctx.conn.send("still there?");
    assert.equal(ctx.WS.instances.length, 1);
    network.onLine = true;
    listeners.online();
    const again = ctx.socket();
    again.open();
    again.receive(welcome());
    assert.deepEqual(again.sent.filter((f) => f.type === "message.send").map((f) => f.body), ["still there?"]);
  });
});

describe("heartbeat", () => {
  test("pings every heartbeat and reconnects when nothing arrives for two", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.clock.advance(HEARTBEAT);
    assert.equal(ws.frames("ping").length, 1);
    ws.receive({ type: "pong" });
    ctx.clock.advance(HEARTBEAT);
    assert.equal(ws.frames("ping").length, 2);
    assert.equal(ctx.WS.instances.length, 1, "a pong keeps the socket alive");
    // The server goes silent: no pong for the second ping.
    ctx.clock.advance(HEARTBEAT);
    assert.equal(ws.closedWith, 1000);
    assert.equal(ctx.conn.state, "reconnecting");
    ctx.clock.advance(250);
    assert.equal(ctx.WS.instances.length, 2);
  });

  test("a socket that opens but never welcomes is given up after two heartbeats", () => {
    const ctx = setup();
    ctx.conn.connect();
    ctx.socket().open();
    ctx.clock.advance(2 * HEARTBEAT);
    assert.equal(ctx.conn.state, "reconnecting");
  });
});

describe("outbox", () => {
  test("messages sent while disconnected go out after the next welcome, in order, with their client_ids", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ws.serverClose(1006);
    assert.equal(ctx.conn.send("first"), "cid-1");
    assert.equal(ctx.conn.send("second"), "cid-2");
    assert.deepEqual(ctx.conn.pending().map((e) => e.client_id), ["cid-1", "cid-2"]);
    ctx.clock.advance(250);
    const again = ctx.socket();
    again.open();
    assert.deepEqual(again.frames("message.send"), [], "nothing before welcome");
    again.receive(welcome());
    assert.deepEqual(again.frames("message.send"), [
      { type: "message.send", client_id: "cid-1", body: "first" },
      { type: "message.send", client_id: "cid-2", body: "second" },
    ]);
    again.receive({ type: "message.ack", client_id: "cid-1", id: 201, seq: 1, conversation: 7 });
    assert.deepEqual(ctx.conn.pending().map((e) => e.client_id), ["cid-2"]);
    again.receive({ type: "message.ack", client_id: "cid-2", id: 202, seq: 2, conversation: 7 });
    again.receive({ type: "message.ack", client_id: "cid-2", id: 202, seq: 2, conversation: 7 });
    assert.deepEqual(ctx.conn.pending(), []);
    assert.deepEqual(ctx.of("ack").map((e) => [e.client_id, e.seq]), [["cid-1", 1], ["cid-2", 2]]);
  });

  test("an unacknowledged send is retried after reconnect with the same client_id, once", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.send("are you there?");
    assert.deepEqual(ws.frames("message.send").map((f) => f.client_id), ["cid-1"]);
    ws.serverClose(1006); // the ack was lost with the socket
    ctx.clock.advance(250);
    const again = ctx.socket();
    again.open();
    again.receive(welcome());
    ctx.conn.send("hello?");
    assert.deepEqual(again.frames("message.send").map((f) => f.client_id), ["cid-1", "cid-2"]);
    again.receive({ type: "message.ack", client_id: "cid-1", id: 301, seq: 1, conversation: 7 });
    again.receive({ type: "message.ack", client_id: "cid-2", id: 302, seq: 2, conversation: 7 });
    assert.deepEqual(ctx.conn.pending(), []);
    // The next welcome on this same state sends nothing again.
    again.serverClose(1012);
    ctx.clock.advance(250);
    ctx.socket().open();
    ctx.socket().receive(welcome());
    assert.deepEqual(ctx.socket().frames("message.send"), []);
  });

  test("the outbox and the transcript survive a reload through storage", () => {
    const storage = new MemoryStorage();
    const before = setup({ storage });
    const ws = goLive(before, welcome([ev.message(1, 0, "hi", "customer"), ev.message(2, 1, "hello", "bot")], { cursor: "2.0" }));
    ws.serverClose(1006);
    before.conn.send("one");
    before.conn.send("two");
    before.conn.close();

    const after = setup({ storage, createId: () => "should-not-be-used" });
    assert.deepEqual(after.conn.pending().map((e) => [e.client_id, e.body]), [["cid-1", "one"], ["cid-2", "two"]]);
    assert.deepEqual(bodies(after.conn), ["1:hi", "2:hello"]);
    after.conn.connect();
    after.socket().open();
    assert.deepEqual(after.socket().sent[0], { type: "hello", token: "tok-1", cursor: "2.0", conversation: 7 });
    after.socket().receive(welcome([], { cursor: "2.0" }));
    assert.deepEqual(after.socket().frames("message.send").map((f) => f.client_id), ["cid-1", "cid-2"]);
    after.socket().receive({ type: "message.ack", client_id: "cid-1", id: 1, seq: 3, conversation: 7 });
    assert.deepEqual(JSON.parse(storage.get("parley:outbox")).map((e) => e.client_id), ["cid-2"]);
  });

  test("unreadable storage is ignored rather than fatal", () => {
    const storage = new MemoryStorage();
    storage.set("parley:state", "{not json");
    storage.set("parley:outbox", JSON.stringify([{ client_id: 5 }, { client_id: "ok", body: "kept" }]));
    const ctx = setup({ storage });
    assert.deepEqual(ctx.conn.transcript(), []);
    assert.deepEqual(ctx.conn.pending().map((e) => e.client_id), ["ok"]);
    assert.equal(ctx.conn.cursor, "0.0");
  });

  test("too_long and empty drop the message; rate_limited keeps it and retries after a backoff", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.send("a");
    ctx.conn.send("b");
    ws.receive({ type: "error", code: "too_long", detail: "too long", ref: "cid-1" });
    assert.deepEqual(ctx.conn.pending().map((e) => e.client_id), ["cid-2"]);
    assert.deepEqual(ctx.of("error").at(-1), { type: "error", code: "too_long", detail: "too long", ref: "cid-1", body: "a", retrying: false });
    ws.receive({ type: "error", code: "rate_limited", detail: "slow down", ref: "cid-2" });
    assert.equal(ctx.of("error").at(-1).retrying, true);
    ctx.conn.send("c"); // waits behind the retry so order holds
    assert.deepEqual(ws.frames("message.send").map((f) => f.client_id), ["cid-1", "cid-2"]);
    ctx.clock.advance(250);
    assert.deepEqual(ws.frames("message.send").map((f) => f.client_id), ["cid-1", "cid-2", "cid-2", "cid-3"]);
  });

  test("a rate_limited with retry_after waits that long before the same client_id goes again", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.send("a");
    ws.receive({ type: "error", code: "rate_limited", detail: "slow down", ref: "cid-1", retry_after: 1 });
    ws.receive({ type: "pong" }); // keep the link alive past the heartbeat
    ctx.clock.advance(999);
    assert.deepEqual(ws.frames("message.send").map((f) => f.client_id), ["cid-1"]);
    ws.receive({ type: "pong" });
    ctx.clock.advance(1);
    assert.deepEqual(ws.frames("message.send").map((f) => f.client_id), ["cid-1", "cid-1"]);
  });

  test("blank and oversized messages are refused before they are queued", () => {
    const ctx = setup({ maxBody: 5 });
    assert.equal(ctx.conn.send("   "), null);
    assert.equal(ctx.conn.send("123456"), null);
    assert.equal(ctx.conn.send(" 12345 "), "cid-1");
    assert.deepEqual(ctx.of("error").map((e) => e.code), ["empty", "too_long"]);
  });

  test("the first ack names the new conversation", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([], { conversation: null }));
    ctx.conn.send("hi");
    ws.receive({ type: "message.ack", client_id: "cid-1", id: 5, seq: 1, conversation: 12 });
    assert.equal(ctx.conn.conversationId, 12);
    ws.receive(ev.message(1, 0, "hi", "customer", 12));
    assert.deepEqual(bodies(ctx.conn), ["1:hi"]);
  });
});

describe("controls", () => {
  test("stop, handoff and read wait for the link; typing is dropped when offline", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q"), ev.start(2, 1, 44), ev.start(3, 2, 45)], { cursor: "1.0" }));
    ctx.conn.typing(true);
    ctx.conn.stop(44);
    ctx.conn.markRead(1);
    ctx.conn.markRead(1);
    assert.deepEqual(ws.sent.slice(1), [
      { type: "typing", active: true }, { type: "reply.stop", reply_id: 44 }, { type: "read", seq: 1 },
    ]);
    ws.serverClose(1006);
    ctx.conn.typing(false);
    ctx.conn.stop(45);
    ctx.conn.requestHuman();
    ctx.conn.requestHuman();
    ctx.clock.advance(250);
    ctx.socket().open();
    ctx.socket().receive(welcome([ev.end(3, 45, 0, "done")], { cursor: "3.1" }));
    assert.deepEqual(ctx.socket().sent.slice(1), [{ type: "handoff.request" }], "the stop is moot: reply 45 ended");
  });
});

describe("bot replies: outcome, meta and the customer's feedback", () => {
  const META = { sources: [{ id: 2, title: "Shipping costs", url: "/help/demo-shop/2/" }], actions: ["rephrase"] };
  const answered = (seq, prev, replyId, feedback = null) => ({
    ...ev.message(seq, prev, "Express costs $12.95.", "bot"),
    message: { ...ev.message(seq, prev, "", "bot").message, id: replyId, body: "Express costs $12.95.", outcome: "answered",
      meta: META, feedback },
  });

  test("reply.end and replayed bot messages carry outcome, meta and feedback into the transcript", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "hi", "customer"), answered(2, 1, 50, -1)], { cursor: "2.0" }));
    ws.receive(ev.message(3, 2, "and?", "customer"));
    ws.receive(ev.start(4, 3, 51));
    ws.receive({ ...ev.end(4, 51, -1, "I don't know."), outcome: "unanswered", meta: { actions: ["rephrase", "human"] },
      feedback: null });
    const [, first, , last] = ctx.conn.transcript();
    assert.deepEqual([first.outcome, first.meta, first.feedback], ["answered", META, false]);
    assert.deepEqual([last.outcome, last.meta.actions, last.feedback], ["unanswered", ["rephrase", "human"], null]);
    assert.equal(ctx.conn.transcript()[0].outcome, undefined, "a customer message has none");
  });

  test("a reply a person cut short, and the line saying who joined, keep what they say about themselves", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "hi", "customer")], { cursor: "1.0" }));
    ws.receive(ev.start(2, 1, 60));
    ws.receive({ ...ev.end(2, 60, -1, "Here's what our"), status: "stopped", outcome: "", meta: {}, feedback: null,
      stopped_by: "agent" });
    const joined = ev.message(3, 2, "Sam joined the conversation", "system");
    ws.receive({ ...joined, message: { ...joined.message, notice: { kind: "agent_joined", name: "Sam" } } });
    const [, cut, line] = ctx.conn.transcript();
    assert.deepEqual([cut.status, cut.stopped_by], ["stopped", "agent"]);
    assert.deepEqual(line.notice, { kind: "agent_joined", name: "Sam", email: "" });
  });

  test("feedback goes over the socket once per choice, shows at once, and the server's echo confirms it", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q", "customer"), answered(2, 1, 50)], { cursor: "2.0" }));
    assert.equal(ctx.conn.feedback(50, false), true);
    assert.equal(ctx.conn.feedback(50, false), false, "the same choice again sends nothing");
    assert.equal(ctx.conn.transcript()[1].feedback, false);
    assert.deepEqual(ws.frames("reply.feedback"), [{ type: "reply.feedback", reply_id: 50, helpful: false }]);
    ws.receive({ type: "reply.feedback", conversation: 7, reply_id: 50, helpful: false });
    assert.equal(ctx.conn.feedback(50, true), true, "changing one's mind is a new choice");
    assert.deepEqual(ws.frames("reply.feedback").map((f) => f.helpful), [false, true]);
    assert.equal(ctx.conn.feedback(999, true), false, "no such reply");
    assert.deepEqual(ctx.of("message").filter((e) => e.change === "update").map((e) => e.message.feedback), [false, true]);
  });

  test("a refused feedback puts the previous verdict back; another tab's verdict is taken as it comes", () => {
    const ctx = setup();
    const ws = goLive(ctx, welcome([ev.message(1, 0, "q", "customer"), answered(2, 1, 50, true)], { cursor: "2.0" }));
    ctx.conn.feedback(50, false);
    ws.receive({ type: "error", code: "not_found", detail: "No such reply.", ref: "reply.feedback" });
    assert.equal(ctx.conn.transcript()[1].feedback, true);
    assert.equal(ctx.of("error").at(-1).ref, "reply.feedback");
    ws.receive({ type: "reply.feedback", conversation: 7, reply_id: 50, helpful: false });
    assert.equal(ctx.conn.transcript()[1].feedback, false);
    ws.receive({ type: "reply.feedback", conversation: 8, reply_id: 50, helpful: true });
    assert.equal(ctx.conn.transcript()[1].feedback, false, "another conversation's event changes nothing");
  });

  test("a verdict given while offline waits for the link, and it survives a reload", () => {
    const storage = new MemoryStorage();
    const ctx = setup({ storage });
    goLive(ctx, welcome([ev.message(1, 0, "q", "customer"), answered(2, 1, 50)], { cursor: "2.0" }));
    ctx.socket().serverClose(1006);
    ctx.conn.feedback(50, true);
    ctx.clock.advance(250);
    ctx.socket().open();
    ctx.socket().receive(welcome([], { cursor: "2.0" }));
    assert.deepEqual(ctx.socket().frames("reply.feedback"), [{ type: "reply.feedback", reply_id: 50, helpful: true }]);
    const reloaded = setup({ storage }).conn;
    assert.equal(reloaded.transcript()[1].feedback, true);
    assert.equal(reloaded.transcript()[1].outcome, "answered");
  });
});

describe("SSE fallback", () => {
  const enc = new TextEncoder();

  /** Split bytes at the given offsets, to test chunk boundaries that fall anywhere. */
  function cut(text, offsets) {
    const bytes = enc.encode(text);
    const parts = [];
    let from = 0;
    for (const at of [...offsets, bytes.length]) {
      parts.push(bytes.slice(from, at));
      from = at;
    }
    return parts;
  }

  function sseSetup() {
    const calls = [];
    const streams = [];
    const fetchImpl = async (url, init = {}) => {
      calls.push({ url, init });
      if (url.includes("/api/widget/events")) {
        const stream = streamingBody(init.signal);
        streams.push(stream);
        return { ok: true, status: 200, body: stream.body };
      }
      const sent = JSON.parse(init.body);
      return { ok: true, status: 200, json: async () => ({ client_id: sent.client_id, id: 400, seq: 9, conversation: 7 }) };
    };
    const ctx = setup({ sseBase: "https://parley.test/", fetchImpl });
    return { ...ctx, calls, streams };
  }

  test("two failed socket opens switch to SSE; a chunked stream split at odd boundaries is parsed", async () => {
    const ctx = sseSetup();
    ctx.conn.connect();
    ctx.socket().fail();
    ctx.clock.advance(250);
    ctx.socket().fail();
    assert.equal(ctx.of("transport")[0].transport, "sse");
    await settle();
    assert.equal(ctx.calls[0].url, "https://parley.test/api/widget/events?cursor=0.0");
    assert.equal(ctx.calls[0].init.headers.Authorization, "Bearer tok-1");
    assert.equal(ctx.conn.state, "open");

    const text = [
      "retry: 3000\r\n",
      ": ping\r\n\r\n",
      `event: message.new\r\ndata: ${JSON.stringify(ev.message(1, 0, "héllo 👋", "customer"))}\r\nid: 1.0\r\n\r\n`,
      `event: reply.start\ndata: ${JSON.stringify(ev.start(2, 1, 77))}\nid: 1.0\n\n`,
      `event: reply.delta\ndata: ${JSON.stringify(ev.delta(2, 77, 0, "Bon"))}\nid: 2.0\n\n`,
      `event: reply.delta\rdata: ${JSON.stringify(ev.delta(2, 77, 1, "jour ✓"))}\rid: 2.1\r\r`,
      `event: reply.end\r\ndata: ${JSON.stringify(ev.end(2, 77, 1, "Bonjour ✓"))}\r\nid: 2.2\r\n\r\n`,
    ].join("");
    const emoji = enc.encode(text.slice(0, text.indexOf("👋"))).length + 2; // inside the 4-byte emoji
    const crlf = enc.encode(text.slice(0, text.indexOf("\r\n\r\nevent: reply.start"))).length + 1; // between CR and LF
    const offsets = [1, 7, 15, 40, emoji, crlf, crlf + 2, crlf + 50, crlf + 51].sort((a, b) => a - b);
    for (const chunk of cut(text, offsets)) ctx.streams[0].push(chunk);
    await settle();

    assert.deepEqual(bodies(ctx.conn), ["1:héllo 👋", "2:Bonjour ✓"]);
    assert.equal(ctx.conn.transcript()[1].status, "complete");
    assert.equal(ctx.conn.cursor, "2.2");
    assert.deepEqual(ctx.of("reply").map((e) => e.phase), ["start", "delta", "delta", "end"]);
  });

  test("sends go through POST with the bearer token and the JSON answer is the ack", async () => {
    const ctx = sseSetup();
    ctx.conn.connect();
    ctx.socket().fail();
    ctx.clock.advance(250);
    ctx.socket().fail();
    await settle();
    ctx.conn.send("via post");
    await settle();
    const post = ctx.calls.find((c) => c.url.endsWith("/api/widget/messages"));
    assert.equal(post.init.method, "POST");
    assert.equal(post.init.headers.Authorization, "Bearer tok-1");
    assert.deepEqual(JSON.parse(post.init.body), { client_id: "cid-1", body: "via post" });
    assert.deepEqual(ctx.conn.pending(), []);
    assert.equal(ctx.of("ack")[0].id, 400);
  });

  test("feedback goes by POST with the bearer token; a refusal puts the previous verdict back", async () => {
    const ctx = sseSetup();
    ctx.conn.connect();
    ctx.socket().fail();
    ctx.clock.advance(250);
    ctx.socket().fail();
    await settle();
    const reply = { ...ev.message(2, 1, "Express costs $12.95.", "bot"), prev_seq: undefined };
    reply.message = { ...reply.message, id: 50, outcome: "answered", meta: {}, feedback: null };
    ctx.streams[0].push(new TextEncoder().encode(`event: message.new\ndata: ${JSON.stringify(reply)}\nid: 2.0\n\n`));
    await settle();

    const answers = [{ ok: true, status: 200, json: async () => ({ helpful: true }) },
      { ok: false, status: 404, json: async () => ({ error: { code: "not_found", detail: "No such reply." } }) }];
    const posts = [];
    ctx.conn.fetchImpl = async (url, init) => {
      posts.push({ url, init });
      return answers.shift();
    };
    ctx.conn.feedback(50, true);
    await settle();
    assert.equal(posts[0].url, "https://parley.test/api/widget/replies/50/feedback");
    assert.equal(posts[0].init.method, "POST");
    assert.equal(posts[0].init.headers.Authorization, "Bearer tok-1");
    assert.deepEqual(JSON.parse(posts[0].init.body), { helpful: true });
    assert.equal(ctx.conn.transcript()[0].feedback, true);

    ctx.conn.feedback(50, false);
    await settle();
    assert.equal(ctx.conn.transcript()[0].feedback, true);
    assert.deepEqual(ctx.of("error").at(-1), { type: "error", code: "not_found", detail: "No such reply.", ref: "reply.feedback" });
    assert.equal(posts.length, 2);
  });

  test("a gap in the stream reopens it from the cursor; a dead stream is reopened too", async () => {
    const ctx = sseSetup();
    ctx.conn.connect();
    ctx.socket().fail();
    ctx.clock.advance(250);
    ctx.socket().fail();
    await settle();
    ctx.streams[0].push(enc.encode(`data: ${JSON.stringify(ev.message(1, 0, "a"))}\nid: 1.0\n\n`));
    ctx.streams[0].push(enc.encode(`data: ${JSON.stringify(ev.message(3, 2, "c"))}\nid: 3.0\n\n`));
    await settle();
    assert.deepEqual(bodies(ctx.conn), ["1:a"]);
    ctx.clock.advance(250);
    await settle();
    assert.equal(ctx.calls.at(-1).url, "https://parley.test/api/widget/events?cursor=1.0&conversation=7");
    // Silence for two heartbeats: the stream is dropped and reopened.
    ctx.clock.advance(2 * HEARTBEAT);
    assert.equal(ctx.conn.state, "reconnecting");
    ctx.clock.advance(250);
    await settle();
    assert.equal(ctx.calls.filter((c) => c.url.includes("/events")).length, 3);
  });

  test("a 401 on the stream emits auth and stops", async () => {
    const fetchImpl = async () => ({ ok: false, status: 401, body: null });
    const ctx = setup({ sseBase: "https://parley.test", fetchImpl, WebSocketImpl: null });
    ctx.conn.transport = "sse";
    ctx.conn.connect();
    await settle();
    assert.equal(ctx.of("auth").length, 1);
    assert.equal(ctx.conn.state, "closed");
  });
});

describe("SSEParser", () => {
  test("handles CRLF split across chunks, comments, multi-line data, BOM and ids", () => {
    const parser = new SSEParser();
    const out = [];
    for (const piece of ["\uFEFFid: 4.0\r", "\nevent: x\r\ndata: a\r\ndata: b\r", "\n\r", "\n: comment\n", "data: c\n\n"]) {
      out.push(...parser.push(piece));
    }
    assert.deepEqual(out, [{ event: "x", data: "a\nb", id: "4.0" }, { event: "message", data: "c", id: "4.0" }]);
    // A CR ending one chunk and its LF starting the next are one line break, not a blank line.
    const split = new SSEParser();
    const events = [...split.push("data: a\r"), ...split.push("\ndata: b\r\n\r\n")];
    assert.deepEqual(events, [{ event: "message", data: "a\nb", id: "" }]);
  });
});
