// Tests of the widget's support tools (rating, contact capture, transcript by email): the Connection's
// frames and POSTs, and the pure rules of static/widget/support.js. `node --test tests/js/`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { Connection } from "../../static/widget/connection.js";
import { CATALOGS } from "../../static/widget/i18n.js";
import {
  SupportState, askedInText, contactOffer, emptyFacts, noteFacts, ratingOf, teamAvailable, validEmail,
} from "../../static/widget/support-rules.js";
import { faceIcon } from "../../static/widget/support.js";
import { fakeDocument } from "./fakedom.mjs";
import { FakeClock, MemoryStorage, ev, fakeWebSocketClass, settle, streamingBody } from "./fakes.mjs";

function setup(options = {}) {
  const clock = new FakeClock();
  const WS = fakeWebSocketClass();
  const conn = new Connection({
    url: "wss://parley.test/ws/widget/", token: "tok-1", WebSocketImpl: WS, setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout, random: () => 0.5, heartbeatMs: 1000, createId: () => "cid", network: null,
    ...options,
  });
  const events = [];
  for (const type of ["conversation", "error", "visitor", "transcript", "auth"]) {
    conn.on(type, (payload) => events.push({ type, ...payload }));
  }
  const of = (type) => events.filter((e) => e.type === type);
  return { conn, clock, WS, socket: () => WS.instances.at(-1), of };
}

const VISITOR = { id: 3, name: "", email: "", verified: false, email_confirmed: false };

function welcome(conversation = ev.conversation(7, { status: "resolved", owner: "agent" })) {
  return { type: "welcome", visitor: VISITOR, conversation, events: [], cursor: "0.0", more: false };
}

function goLive(ctx, frame = welcome()) {
  ctx.conn.connect();
  ctx.socket().open();
  ctx.socket().receive(frame);
  return ctx.socket();
}

describe("rating over the socket", () => {
  test("rating.submit carries the conversation, the score and a trimmed comment; none when blank", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    assert.equal(ctx.conn.rate(7, 4, "  Quick and kind.  "), true);
    assert.equal(ctx.conn.rate(7, 5, "   "), true);
    assert.deepEqual(ws.frames("rating.submit"), [
      { type: "rating.submit", conversation: 7, score: 4, comment: "Quick and kind." },
      { type: "rating.submit", conversation: 7, score: 5 },
    ]);
  });

  test("a score outside 1–5 or a missing conversation is refused before anything is sent", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    for (const [id, score] of [[7, 0], [7, 6], [7, 2.5], [7, "4"], [null, 3]]) assert.equal(ctx.conn.rate(id, score), false);
    assert.deepEqual(ws.frames("rating.submit"), []);
    assert.deepEqual(ctx.of("error").map((e) => [e.code, e.ref]), Array(5).fill(["bad_request", "rating.submit"]));
  });

  test("the comment is cut at 1000 characters", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.rate(7, 3, "x".repeat(1500));
    assert.equal(ws.frames("rating.submit")[0].comment.length, 1000);
  });

  test("the broadcast conversation.updated carrying the rating is the confirmation, and it survives a reload", () => {
    const storage = new MemoryStorage();
    const ctx = setup({ storage });
    const ws = goLive(ctx);
    ctx.conn.rate(7, 4, "Thanks");
    const rating = { score: 4, comment: "Thanks", rated_at: "2026-11-30T10:00:00Z" };
    ws.receive({ type: "conversation.updated", conversation: ev.conversation(7, { status: "resolved", rating }) });
    assert.deepEqual(ctx.of("conversation").at(-1).conversation.rating, rating);
    assert.equal(ctx.of("conversation").at(-1).switched, false);
    assert.deepEqual(setup({ storage }).conn.conversation.rating, rating);
  });

  test("a rating given while the link is down waits for the next welcome; a newer one replaces it", () => {
    const ctx = setup();
    goLive(ctx);
    ctx.socket().serverClose(1006);
    ctx.conn.rate(7, 2);
    ctx.conn.rate(7, 5, "changed my mind");
    ctx.clock.advance(250);
    ctx.socket().open();
    ctx.socket().receive(welcome());
    assert.deepEqual(ctx.socket().frames("rating.submit"), [
      { type: "rating.submit", conversation: 7, score: 5, comment: "changed my mind" },
    ]);
  });

  test("not_resolved and not_found come back as errors that name rating.submit", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.rate(7, 4);
    ws.receive({ type: "error", code: "not_resolved", detail: "The conversation is open.", ref: "rating.submit" });
    ws.receive({ type: "error", code: "not_found", detail: "No such conversation.", ref: "rating.submit" });
    assert.deepEqual(ctx.of("error").map((e) => [e.code, e.ref]), [["not_resolved", "rating.submit"], ["not_found", "rating.submit"]]);
    assert.equal(ctx.conn.state, "open", "a refused rating does not disturb the link");
  });
});

describe("contact and transcript over the socket", () => {
  test("contact.set sends the address (and a name); contact.saved updates the visitor, emits it and persists it", () => {
    const storage = new MemoryStorage();
    const ctx = setup({ storage });
    const ws = goLive(ctx);
    assert.equal(ctx.conn.setContact("  cleo@example.com "), true);
    assert.equal(ctx.conn.setContact("ada@example.com", "Ada"), true);
    assert.equal(ctx.conn.setContact("  "), false);
    assert.deepEqual(ws.frames("contact.set"), [
      { type: "contact.set", email: "cleo@example.com" },
      { type: "contact.set", email: "ada@example.com", name: "Ada" },
    ]);
    ws.receive({ type: "contact.saved", visitor: { ...VISITOR, name: "Ada", email: "ada@example.com" } });
    assert.equal(ctx.of("visitor")[0].visitor.email, "ada@example.com");
    assert.equal(ctx.conn.visitor.email_confirmed, false);
    assert.equal(setup({ storage }).conn.visitor.email, "ada@example.com");
  });

  test("transcript.email names the conversation and an address only when one is given; transcript.queued is passed on", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ctx.conn.emailTranscript(7);
    ctx.conn.emailTranscript(7, "cleo@example.com");
    assert.equal(ctx.conn.emailTranscript(null), false);
    assert.deepEqual(ws.frames("transcript.email"), [
      { type: "transcript.email", conversation: 7 },
      { type: "transcript.email", conversation: 7, email: "cleo@example.com" },
    ]);
    ws.receive({ type: "transcript.queued", conversation: 7, email: "cleo@example.com" });
    assert.deepEqual(ctx.of("transcript").map(({ conversation, email }) => [conversation, email]), [[7, "cleo@example.com"]]);
    assert.deepEqual(ctx.of("error").map((e) => [e.code, e.ref]), [["not_found", "transcript.email"]]);
  });

  test("a garbled contact.saved changes nothing", () => {
    const ctx = setup();
    const ws = goLive(ctx);
    ws.receive({ type: "contact.saved", visitor: null });
    assert.equal(ctx.of("visitor").length, 0);
    assert.equal(ctx.conn.visitor.email, "");
  });
});

describe("support tools over HTTP (the SSE fallback)", () => {
  /** A connection on the SSE transport whose POSTs answer from `answers` (by path) and are recorded. */
  async function sseSetup(answers) {
    const posts = [];
    const fetchImpl = async (url, init = {}) => {
      if (url.includes("/api/widget/events")) return { ok: true, status: 200, body: streamingBody(init.signal).body };
      posts.push({ url, init, body: JSON.parse(init.body) });
      const path = new URL(url).pathname;
      const [status, json] = answers[path] ?? [500, {}];
      return { ok: status < 300, status, json: async () => json };
    };
    const ctx = setup({ sseBase: "https://parley.test/", fetchImpl, WebSocketImpl: null });
    ctx.conn.transport = "sse";
    ctx.conn.connect();
    await settle();
    return { ...ctx, posts };
  }

  test("a rating is POSTed with the bearer token; the answer's conversation shows the rating at once", async () => {
    const rating = { score: 4, comment: "Great", rated_at: "2026-11-30T10:00:00Z" };
    const ctx = await sseSetup({
      "/api/widget/conversations/7/rating": [200, { conversation: ev.conversation(7, { status: "resolved", rating }) }],
    });
    ctx.conn.rate(7, 4, "Great");
    await settle();
    assert.equal(ctx.posts[0].url, "https://parley.test/api/widget/conversations/7/rating");
    assert.equal(ctx.posts[0].init.method, "POST");
    assert.equal(ctx.posts[0].init.headers.Authorization, "Bearer tok-1");
    assert.deepEqual(ctx.posts[0].body, { score: 4, comment: "Great" });
    assert.deepEqual(ctx.conn.conversation.rating, rating);
    assert.deepEqual(ctx.of("conversation").at(-1).conversation.rating, rating);
  });

  test("a 409 is not_resolved, a 404 not_found, with the server's code when it gives one", async () => {
    const ctx = await sseSetup({
      "/api/widget/conversations/7/rating": [409, { error: { code: "not_resolved", detail: "Still open." } }],
      "/api/widget/conversations/8/rating": [404, {}],
    });
    ctx.conn.rate(7, 4);
    ctx.conn.rate(8, 4);
    await settle();
    assert.deepEqual(ctx.of("error").map((e) => [e.code, e.ref, e.detail]), [
      ["not_resolved", "rating.submit", "Still open."], ["not_found", "rating.submit", "HTTP 404"],
    ]);
  });

  test("contact and transcript go to their endpoints; the JSON answers act as contact.saved and transcript.queued", async () => {
    const saved = { ...VISITOR, email: "cleo@example.com" };
    const ctx = await sseSetup({
      "/api/widget/contact": [200, { visitor: saved }],
      "/api/widget/conversations/7/transcript": [200, { conversation: 7, email: "cleo@example.com" }],
    });
    ctx.conn.setContact("cleo@example.com");
    ctx.conn.emailTranscript(7);
    await settle();
    assert.deepEqual(ctx.posts.map((p) => [new URL(p.url).pathname, p.body]), [
      ["/api/widget/contact", { email: "cleo@example.com" }],
      ["/api/widget/conversations/7/transcript", {}],
    ]);
    assert.equal(ctx.of("visitor")[0].visitor.email, "cleo@example.com");
    assert.deepEqual(ctx.of("transcript").map(({ conversation, email }) => [conversation, email]), [[7, "cleo@example.com"]]);
  });

  test("an invalid address is a bad_request naming contact.set; a 401 asks for a new session", async () => {
    const ctx = await sseSetup({
      "/api/widget/contact": [400, { error: { code: "bad_request", detail: "Enter a valid email address." } }],
      "/api/widget/conversations/7/transcript": [401, {}],
    });
    ctx.conn.setContact("nope@");
    await settle();
    assert.deepEqual(ctx.of("error").map((e) => [e.code, e.ref]), [["bad_request", "contact.set"]]);
    ctx.conn.emailTranscript(7, "cleo@example.com");
    await settle();
    assert.equal(ctx.of("auth").length, 1);
  });

  test("a server that cannot be reached is `unavailable`", async () => {
    const ctx = await sseSetup({});
    ctx.conn.fetchImpl = async () => {
      throw new TypeError("Failed to fetch");
    };
    ctx.conn.emailTranscript(7);
    await settle();
    assert.deepEqual(ctx.of("error").map((e) => [e.code, e.ref]), [["unavailable", "transcript.email"]]);
  });
});

describe("support rules", () => {
  const open = { open: true, agents_online: true };
  const away = { open: true, agents_online: false };
  const conversation = (extra = {}) => ({ id: 7, status: "open", owner: "bot", ...extra });
  const facts = (...messages) => {
    const folded = emptyFacts();
    for (const message of messages) noteFacts(folded, message);
    return folded;
  };
  const bot = (extra = {}) => ({ author: { kind: "bot" }, status: "complete", outcome: "answered", meta: {}, ...extra });

  test("email addresses: a plausible one passes, the rest do not", () => {
    for (const good of ["cleo@example.com", " a.b+c@shop.example.co "]) assert.equal(validEmail(good), true, good);
    for (const bad of ["", "cleo", "cleo@", "@example.com", "cleo@example", "a b@example.com", `${"x".repeat(250)}@e.com`]) {
      assert.equal(validEmail(bad), false, bad);
    }
  });

  test("the team can answer only within hours and with an agent online", () => {
    assert.equal(teamAvailable(open), true);
    assert.equal(teamAvailable(away), false);
    assert.equal(teamAvailable({ open: false, agents_online: true }), false);
    assert.equal(teamAvailable(null), false);
  });

  test("a rating is read from the conversation only when its score is 1–5", () => {
    assert.deepEqual(ratingOf({ rating: { score: 4, comment: "ok", rated_at: "x" } }), { score: 4, comment: "ok" });
    assert.deepEqual(ratingOf({ rating: { score: 5, comment: null } }), { score: 5, comment: "" });
    for (const c of [null, {}, { rating: null }, { rating: { score: 0 } }, { rating: { score: "4" } }]) assert.equal(ratingOf(c), null);
  });

  test("the bubble: offered when nobody could answer the first message, and while a handoff waits in the queue", () => {
    const base = { conversation: conversation(), visitor: VISITOR, availability: away, facts: emptyFacts(), offeredAway: false, skipped: false };
    assert.equal(contactOffer({ ...base, offeredAway: true }), "away");
    assert.equal(contactOffer(base), "", "the bot owns it and nobody was away at the first message");
    assert.equal(contactOffer({ ...base, availability: open, conversation: conversation({ owner: "queue" }) }), "queue");
    assert.equal(contactOffer({ ...base, availability: open, conversation: conversation({ owner: "queue" }),
      facts: facts({ author: { kind: "agent" } }) }), "", "a person answered");
  });

  test("the bubble: never with an address, after Skip, once resolved, or without a conversation", () => {
    const base = { conversation: conversation(), visitor: VISITOR, availability: away, facts: emptyFacts(), offeredAway: true, skipped: false };
    assert.equal(contactOffer({ ...base, visitor: { ...VISITOR, email: "cleo@example.com" } }), "");
    assert.equal(contactOffer({ ...base, skipped: true }), "");
    assert.equal(contactOffer({ ...base, conversation: conversation({ status: "resolved" }) }), "");
    assert.equal(contactOffer({ ...base, conversation: null }), "");
  });

  test("the bubble is not offered when the bot (or a handoff line) asks for the address in text", () => {
    const base = { conversation: conversation({ owner: "queue" }), visitor: VISITOR, facts: emptyFacts(), offeredAway: true, skipped: false };
    const handedOff = facts(bot({ outcome: "handoff", meta: { handoff: true } }));
    assert.equal(askedInText(handedOff, away), true);
    assert.equal(contactOffer({ ...base, availability: away, facts: handedOff }), "", "away: the bot's reply asked already");
    assert.equal(contactOffer({ ...base, availability: away, facts: facts({ author: { kind: "system" } }) }), "");
    assert.equal(contactOffer({ ...base, availability: open, facts: handedOff }), "away", "with a team the handoff asks nothing");
    const answeredInText = facts(bot({ outcome: "contact" }));
    assert.equal(contactOffer({ ...base, availability: open, facts: answeredInText }), "", "the address was dealt with in text");
  });

  test("streaming bot messages and ordinary answers say nothing about an address", () => {
    assert.deepEqual(facts(bot(), { author: { kind: "customer" } }), emptyFacts());
  });
});

describe("support state", () => {
  const away = { open: true, agents_online: false };

  test("the first message sent while nobody can answer earns the bubble for the conversation it starts, across reloads", () => {
    const storage = new MemoryStorage();
    const state = new SupportState(storage);
    state.update({ availability: away, visitor: VISITOR });
    assert.equal(state.due(), false);
    assert.equal(state.noteSend({ first: true }), true);
    assert.equal(state.contactOffer(), "", "no conversation yet");
    assert.equal(state.update({ conversation: { id: 7, status: "open", owner: "bot" } }), true);
    assert.equal(state.contactOffer(), "away");
    const reloaded = new SupportState(storage);
    reloaded.update({ availability: away, visitor: VISITOR, conversation: { id: 7, status: "open", owner: "bot" } });
    assert.equal(reloaded.due(), true);
    reloaded.skipContact();
    assert.equal(reloaded.contactOffer(), "");
    const again = new SupportState(storage);
    again.update({ availability: away, visitor: VISITOR, conversation: { id: 7, status: "open", owner: "queue" } });
    assert.equal(again.contactOffer(), "", "Skip is remembered for that conversation");
  });

  test("with a team online, or for a later message, the first-message bubble is not earned", () => {
    const state = new SupportState(new MemoryStorage());
    state.update({ availability: { open: true, agents_online: true }, conversation: { id: 8, status: "open", owner: "bot" } });
    assert.equal(state.noteSend({ first: true }), false);
    state.update({ availability: away });
    assert.equal(state.noteSend({ first: false }), false);
    assert.equal(state.contactOffer(), "");
  });

  test("a resolved conversation is due (its card), a new conversation forgets the facts of the old one", () => {
    const state = new SupportState(new MemoryStorage());
    state.update({ conversation: { id: 7, status: "resolved", owner: "agent" } });
    assert.equal(state.due(), true);
    assert.equal(state.noteMessage({ author: { kind: "agent" }, status: "sent" }), true);
    assert.equal(state.noteMessage({ author: { kind: "agent" }, status: "sent" }), false, "nothing new");
    assert.equal(state.noteMessage({ author: { kind: "bot" }, status: "streaming", outcome: "contact" }), false);
    state.update({ conversation: { id: 9, status: "open", owner: "queue" } });
    assert.equal(state.facts.agentAnswered, false);
    assert.equal(state.contactOffer(), "queue");
    state.reset();
    assert.equal(state.due(), false);
  });
});

describe("support view pieces", () => {
  const svgDocument = {
    ...fakeDocument,
    createElementNS: (_ns, tag) => fakeDocument.createElement(tag),
  };

  test("five faces, each its own mouth, decorative (the button carries the name)", () => {
    const faces = [1, 2, 3, 4, 5].map((score) => faceIcon(svgDocument, score));
    for (const face of faces) assert.equal(face.getAttribute("aria-hidden"), "true");
    const mouths = faces.map((face) => face.childNodes.at(-1).getAttribute("d"));
    assert.equal(new Set(mouths).size, 5);
    assert.match(faces[4].getAttribute("class"), /face-5/);
  });

  test("every string the support tools use is in both catalogs", () => {
    const source = ["support.js", "support-rules.js", "frame.js"].map((name) => readFileSync(new URL(`../../static/widget/${name}`, import.meta.url), "utf8")).join("\n");
    const template = readFileSync(new URL("../../templates/widget/frame.html", import.meta.url), "utf8");
    const keys = new Set([
      ...[...source.matchAll(/\bt\(\s*"([\w.]+)"/g)].map((m) => m[1]),
      ...[...template.matchAll(/data-i18n(?:-label)?="([\w.]+)"/g)].map((m) => m[1]),
      ...[1, 2, 3, 4, 5].map((score) => `rating.${score}`),
    ]);
    for (const key of ["ended.line", "rating.thanks", "contact.title", "menu.transcript", "transcript.sent"]) assert.ok(keys.has(key), key);
    for (const language of ["en", "zh-hans"]) {
      const missing = [...keys].filter((key) => !(key in CATALOGS[language]));
      assert.deepEqual(missing, [], language);
    }
  });

  test("the English strings say what the issue asks for", () => {
    const en = CATALOGS.en;
    assert.equal(en["ended.line"], "This conversation has ended");
    assert.equal(en["rating.thanks"], "Thanks for your feedback");
    assert.equal(en["contact.title"], "Get notified by email");
    assert.equal(en["contact.saved"].replace("{email}", "x@y"), "We'll email you at x@y (check your inbox to confirm)");
    assert.equal(en["menu.transcript"], "Email me this conversation");
    assert.equal(en["transcript.sent"].replace("{email}", "x@y"), "Sent to x@y");
  });

  test("no support code writes HTML", () => {
    const source = ["support.js", "support-rules.js"].map((name) => readFileSync(new URL(`../../static/widget/${name}`, import.meta.url), "utf8")).join("\n");
    assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });
});
