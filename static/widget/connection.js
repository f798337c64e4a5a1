// @ts-check
/**
 * Parley widget connection: owns the customer's link (docs/protocol.md sections 2, 3, 5, 7).
 *
 * One `Connection` keeps the transcript of the current conversation, the cursor that
 * describes it, and an outbox of messages not yet acknowledged. It speaks WebSocket
 * and falls back to Server-Sent Events over fetch when sockets cannot open. Plain ES
 * module, no build step, no dependencies; every clock, socket and fetch is injectable.
 *
 * This module decides (when to reconnect, resume, fall back, retry); the parts live in
 * ./connection/: socket.js and sse.js + http.js (the two transports), transcript.js (the
 * ordered, deduplicated events), outbox.js, storage.js, timers.js and emitter.js.
 */

import { backoffDelay } from "../shared/backoff.js";
import { compareCursors, formatCursor, isBehind, parseCursor } from "../shared/cursors.js";
import { isTracked } from "../shared/events.js";
import { newClientId } from "../shared/ids.js";
import { Emitter } from "./connection/emitter.js";
import { authHeaders, httpUrl, messageFields, postCommand, postFeedback, postMessage, postStop } from "./connection/http.js";
import { Outbox, validIds } from "./connection/outbox.js";
import { CLOSE, RETRYABLE, retryAfterMs } from "./connection/protocol.js";
import { SocketLink } from "./connection/socket.js";
import { EventStreamLink } from "./connection/sse.js";
import { ConnectionStore } from "./connection/storage.js";
import { Timers } from "./connection/timers.js";
import { Transcript, helpfulness, publicMessage } from "./connection/transcript.js";

export { backoffDelay } from "../shared/backoff.js";
export { formatCursor, isBehind, parseCursor } from "../shared/cursors.js";
export { newClientId } from "../shared/ids.js";
export { CLOSE } from "./connection/protocol.js";
export { SSEParser } from "./connection/sse.js";
export { helpfulness } from "./connection/transcript.js";

/** @typedef {import("./connection/protocol.js").Frame} Frame */
/** @typedef {import("./connection/transcript.js").Entry} Entry */
/** @typedef {import("./connection/transcript.js").TranscriptEvents} TranscriptEvents */
/** @typedef {import("./connection/outbox.js").OutboxEntry} OutboxEntry */
/** @typedef {import("./connection/outbox.js").FileNote} FileNote */
/** @typedef {import("./connection/storage.js").StorageLike} StorageLike */
/** @typedef {import("./connection/socket.js").SocketClass} SocketClass */
/** @typedef {import("./connection/sse.js").FetchLike} FetchLike */
/** @typedef {import("./connection/http.js").HttpContext} HttpContext */

/**
 * "idle" before connect(); "open" while live; "closed" after close() or a refusal.
 * @typedef {"idle" | "connecting" | "open" | "reconnecting" | "offline" | "closed"} LinkState
 */

/** @typedef {"ws" | "sse"} Transport */

/**
 * @typedef {{code: string, detail: string, ref: string | null, body?: string, retrying?: boolean, files?: number}} ErrorEvent
 */

/**
 * Everything a Connection emits, by event name.
 * @typedef {TranscriptEvents & {
 *   state: {state: LinkState, previous: LinkState, reason?: string, delay?: number, attempt?: number},
 *   welcome: {visitor: any, conversation: any},
 *   conversation: {conversation: any, previous: number | null, switched: boolean},
 *   typing: {author: any, active: boolean, conversation: any},
 *   read: {by: any, seq: any, conversation: any},
 *   ack: {client_id: string, id: any, seq: any, conversation: any},
 *   error: ErrorEvent,
 *   auth: {code: number, transport: Transport},
 *   outbox: {pending: OutboxEntry[]},
 *   transport: {transport: Transport},
 *   feedback: {reply_id: any, helpful: boolean | null},
 *   visitor: {visitor: any},
 *   transcript: {conversation: any, email: string},
 * }} ConnectionEvents
 */

/**
 * The browser's online / offline signal.
 * @typedef {{readonly onLine: boolean, addEventListener: (type: string, fn: () => void) => void}} Network
 */

/**
 * @typedef {object} ConnectionOptions
 * @property {string} [url]  the WebSocket URL
 * @property {string} [token]  the visitor token
 * @property {string | null} [sseBase]  the origin for the SSE fallback; none: no fallback
 * @property {SocketClass | null} [WebSocketImpl]
 * @property {FetchLike | null} [fetchImpl]
 * @property {() => number} [random]
 * @property {(fn: () => void, ms: number) => unknown} [setTimeout]
 * @property {(id: any) => void} [clearTimeout]
 * @property {StorageLike | null} [storage]
 * @property {string} [storageKey]
 * @property {number} [heartbeatMs]
 * @property {number} [backoffBase]
 * @property {number} [backoffMax]
 * @property {number} [sseAfterFailures]  socket opens that fail before we fall back to SSE
 * @property {number} [maxBody]  in characters
 * @property {() => string} [createId]
 * @property {Network | null} [network]
 * @property {() => number} [now]  ms since the epoch
 * @property {number} [linkMaxAgeMs]  file links older than this are renewed by the next replay
 */

/**
 * A rating of a resolved conversation, a contact address, or a transcript request (support tools).
 * @typedef {{type: "rating.submit", conversation: number, score: number, comment?: string}
 *   | {type: "contact.set", email: string, name?: string}
 *   | {type: "transcript.email", conversation: number, email?: string}} SupportFrame
 */

/**
 * A stop, handoff, feedback or support frame that waits for the next welcome.
 * @typedef {{type: "reply.stop", reply_id: any} | {type: "handoff.request"} | {type: "reply.feedback", reply_id: any, helpful: boolean}
 *   | SupportFrame} ControlFrame
 */

const MAX_RATING_COMMENT = 1000;

/**
 * The browser's network status, when there is one (Node has none).
 * @returns {Network | null}
 */
function defaultNetwork() {
  const nav = globalThis.navigator;
  if (!nav || typeof globalThis.addEventListener !== "function" || typeof nav.onLine !== "boolean") return null;
  return {
    get onLine() {
      return nav.onLine;
    },
    addEventListener: (type, fn) => globalThis.addEventListener(type, fn),
  };
}

/**
 * The widget's link to Parley. Emits:
 * `state`, `welcome`, `conversation`, `message`, `reply`, `typing`, `read`, `ack`,
 * `error`, `auth`, `outbox`, `transport`, `feedback`, `visitor`, `transcript`.
 * @extends {Emitter<ConnectionEvents>}
 */
export class Connection extends Emitter {
  /** @param {ConnectionOptions} [options] */
  constructor(options = {}) {
    super();
    this.url = options.url;
    this.token = options.token;
    this.sseBase = options.sseBase ?? null;
    this.WebSocketImpl = options.WebSocketImpl ?? /** @type {SocketClass | undefined} */ (globalThis.WebSocket) ?? null;
    this.fetchImpl = options.fetchImpl ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : null);
    this.random = options.random ?? Math.random;
    this.heartbeatMs = options.heartbeatMs ?? 25000;
    this.backoff = { base: options.backoffBase ?? 500, max: options.backoffMax ?? 30000 };
    this.sseAfter = options.sseAfterFailures ?? 2;
    this.maxBody = options.maxBody ?? 4000;
    this.createId = options.createId ?? (() => newClientId());
    this.network = options.network === undefined ? defaultNetwork() : options.network;
    this.now = options.now ?? (() => Date.now());
    this.linkMaxAgeMs = options.linkMaxAgeMs ?? 30 * 60 * 1000;
    /** @type {number | null} */
    this.refreshAge = null; // for the next replay only
    this.timers = new Timers(
      options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
      options.clearTimeout ?? ((id) => globalThis.clearTimeout(id)),
    );
    this.store = new ConnectionStore(options.storage ?? null, options.storageKey ?? "parley");

    // The transcript of the current conversation.
    this.visitor = null;
    /** @type {({id: number} & Record<string, any>) | null} */
    this.conversation = null;
    // The transcript's events are ours too ("message", "reply"); TypeScript cannot match the keys generically.
    this.log = new Transcript((type, payload) => this.emit(type, /** @type {any} */ (payload)), () => this.now());
    this.outbox = new Outbox();

    // The link.
    /** @type {LinkState} */
    this.state = "idle";
    /** @type {Transport} */
    this.transport = this.WebSocketImpl ? "ws" : "sse";
    /** @type {SocketLink | null} */
    this.socket = null;
    /** @type {EventStreamLink | null} */
    this.sse = null;
    this.welcomed = false; // this link is live (welcome seen, or SSE stream open)
    this.everWelcomed = false; // some link was live once: WebSocket works here
    this.wsFailures = 0;
    this.attempt = 0;
    this.stopped = true;
    this.authFailed = false; // closed because the token was refused; setToken() reopens
    this.resumeInFlight = false;
    /** @type {Frame[]} live events that arrived while a resume was outstanding */
    this.held = [];
    /** @type {ControlFrame[]} stop / handoff / feedback frames waiting for the next welcome */
    this.control = [];
    /** @type {Map<any, boolean | null>} reply id -> the verdict before ours, until the server confirms ours */
    this.feedbackSent = new Map();
    this.readWanted = 0;
    this.readSent = 0;
    this.posting = false;

    this.restore();
    this.network?.addEventListener("online", () => {
      if (this.state === "offline") this.open();
    });
    // A socket can outlive the network for a long while (until TCP gives up, or forever on
    // emulated offline): when the browser says it is offline, believe it and park the link.
    this.network?.addEventListener("offline", () => {
      if (this.stopped || this.state === "offline" || this.state === "closed") return;
      this.dropLink();
      this.setState("offline");
    });
  }

  // ---- public API ---------------------------------------------------------------

  /** Start connecting (idempotent). */
  connect() {
    if (!this.stopped) return this;
    this.stopped = false;
    this.open();
    return this;
  }

  /** Disconnect for good; `connect()` starts again. */
  close() {
    this.stopped = true;
    this.dropLink();
    this.timers.clear("sendRetry");
    this.setState("closed");
  }

  /**
   * Replace the visitor token (after `auth`) and reconnect if the old one was refused.
   * @param {string} token
   */
  setToken(token) {
    this.token = token;
    if (this.state === "closed" && this.authFailed && !this.stopped) {
      this.authFailed = false;
      this.attempt = 0;
      this.open();
    }
  }

  /** The cursor of the transcript held, "S.I". */
  get cursor() {
    return formatCursor(this.log.position());
  }

  /**
   * The id of the current conversation, or null before the first message.
   * @returns {number | null}
   */
  get conversationId() {
    return this.conversation?.id ?? null;
  }

  /** Messages of the current conversation by seq, replies with their text so far. */
  transcript() {
    return this.log.sorted().map(publicMessage);
  }

  /** Messages sent but not yet acknowledged, oldest first. */
  pending() {
    return this.outbox.pending();
  }

  /**
   * Send a customer message (with files uploaded for it: then the text may be empty); returns its client_id,
   * or null when it is refused locally. It stays in the outbox (and in storage) until the server acknowledges it.
   * @param {unknown} body
   * @param {FileNote[]} [files]
   * @returns {string | null}
   */
  send(body, files = []) {
    const text = String(body ?? "");
    const trimmed = text.trim();
    const ids = files.map((f) => f?.id);
    if (!validIds(ids)) return this.refuse("bad_request", "A file is not uploaded yet.");
    if (!trimmed && !ids.length) return this.refuse("empty", "The message is empty.");
    if ([...trimmed].length > this.maxBody) {
      return this.refuse("too_long", `Messages are limited to ${this.maxBody} characters.`);
    }
    /** @type {OutboxEntry} */
    const entry = { client_id: this.createId(), body: ids.length ? trimmed : text, created_at: new Date().toISOString() };
    if (ids.length) {
      entry.attachments = ids;
      entry.files = files.map(({ id, name, type, size }) => ({ id, name: String(name ?? ""), type: String(type ?? ""), size: Number(size) || 0 }));
    }
    this.outbox.add(entry);
    this.outboxChanged();
    this.flushOutbox();
    return entry.client_id;
  }

  /**
   * Stop a streaming bot reply; queued until the link is live again.
   * @param {unknown} replyId
   */
  stop(replyId) {
    if (this.transport === "sse") return void this.postStop(replyId);
    this.control = this.control.filter((f) => !(f.type === "reply.stop" && f.reply_id === replyId));
    this.control.push({ type: "reply.stop", reply_id: replyId });
    this.flushControl();
  }

  /** Ask for a human; queued until the link is live again. */
  requestHuman() {
    if (this.transport === "sse") {
      this.emit("error", { code: "unsupported", detail: "Asking for a human needs the WebSocket.", ref: "handoff.request" });
      return;
    }
    if (!this.control.some((f) => f.type === "handoff.request")) this.control.push({ type: "handoff.request" });
    this.flushControl();
  }

  /**
   * The customer's verdict on a bot reply (true: it helped). Shown at once; the server's `reply.feedback`
   * confirms it, an error puts the previous one back. Choosing what is already chosen sends nothing.
   * @param {unknown} replyId
   * @param {unknown} helpful
   * @returns {boolean} false when there is no such reply or nothing changes
   */
  feedback(replyId, helpful) {
    const entry = this.log.entryById(replyId);
    const verdict = Boolean(helpful);
    if (!entry || entry.feedback === verdict) return false;
    if (!this.feedbackSent.has(replyId)) this.feedbackSent.set(replyId, entry.feedback ?? null);
    this.setFeedback(entry, verdict);
    if (this.transport === "sse") {
      void this.postFeedback(replyId, verdict);
      return true;
    }
    this.control = this.control.filter((f) => !(f.type === "reply.feedback" && f.reply_id === replyId));
    this.control.push({ type: "reply.feedback", reply_id: replyId, helpful: verdict });
    this.flushControl();
    return true;
  }

  /**
   * Rate a resolved conversation 1–5 with an optional comment. The broadcast `conversation.updated`
   * carrying `rating` confirms it (a `conversation` event); a refusal is an `error` with ref "rating.submit".
   * @param {unknown} conversationId
   * @param {unknown} score
   * @param {unknown} [comment]
   * @returns {boolean} false when refused locally (no such score, no conversation)
   */
  rate(conversationId, score, comment = "") {
    if (!Number.isInteger(conversationId) || !Number.isInteger(score) || Number(score) < 1 || Number(score) > 5) {
      this.refuse("bad_request", "A rating is a whole number from 1 to 5.", "rating.submit");
      return false;
    }
    const id = /** @type {number} */ (conversationId);
    const text = [...String(comment ?? "").trim()].slice(0, MAX_RATING_COMMENT).join(""); // characters, not UTF-16 halves
    /** @type {SupportFrame} */
    const frame = { type: "rating.submit", conversation: id, score: /** @type {number} */ (score) };
    if (text) frame.comment = text;
    if (this.transport === "sse") {
      const body = text ? { score, comment: text } : { score };
      void this.postSupport(frame, `/api/widget/conversations/${id}/rating`, body);
      return true;
    }
    this.queueControl(frame, (f) => f.type === "rating.submit" && f.conversation === id);
    return true;
  }

  /**
   * Give the visitor's email address (and name); answered by `contact.saved` (a `visitor` event).
   * @param {unknown} email
   * @param {unknown} [name]
   * @returns {boolean} false when there is no address to send
   */
  setContact(email, name = "") {
    const address = String(email ?? "").trim();
    if (!address) {
      this.refuse("bad_request", "The email address is empty.", "contact.set");
      return false;
    }
    /** @type {SupportFrame} */
    const frame = { type: "contact.set", email: address };
    const who = String(name ?? "").trim();
    if (who) frame.name = who;
    if (this.transport === "sse") {
      void this.postSupport(frame, "/api/widget/contact", who ? { email: address, name: who } : { email: address });
      return true;
    }
    this.queueControl(frame, (f) => f.type === "contact.set");
    return true;
  }

  /**
   * Ask for the conversation's transcript by email, to `email` or the visitor's own address;
   * answered by `transcript.queued` (a `transcript` event).
   * @param {unknown} conversationId
   * @param {unknown} [email]
   * @returns {boolean} false when there is no conversation to send
   */
  emailTranscript(conversationId, email = "") {
    if (!Number.isInteger(conversationId)) {
      this.refuse("not_found", "There is no conversation to email yet.", "transcript.email");
      return false;
    }
    const id = /** @type {number} */ (conversationId);
    const address = String(email ?? "").trim();
    /** @type {SupportFrame} */
    const frame = { type: "transcript.email", conversation: id };
    if (address) frame.email = address;
    if (this.transport === "sse") {
      void this.postSupport(frame, `/api/widget/conversations/${id}/transcript`, address ? { email: address } : {});
      return true;
    }
    this.queueControl(frame, (f) => f.type === "transcript.email" && f.conversation === id);
    return true;
  }

  /**
   * Queue a control frame in place of an earlier one it supersedes, and send it if live.
   * @param {ControlFrame} frame
   * @param {(f: ControlFrame) => boolean} supersedes
   */
  queueControl(frame, supersedes) {
    this.control = this.control.filter((f) => !supersedes(f));
    this.control.push(frame);
    this.flushControl();
  }

  /**
   * Tell agents the customer is (not) typing; dropped when not live, it is only a hint.
   * @param {unknown} active
   */
  typing(active) {
    if (this.transport === "ws" && this.welcomed) this.sendFrame({ type: "typing", active: Boolean(active) });
  }

  /**
   * Read receipt up to `seq`; only the highest one is sent, when live.
   * @param {unknown} seq
   */
  markRead(seq) {
    if (typeof seq !== "number" || !Number.isInteger(seq) || seq <= this.readWanted) return;
    this.readWanted = seq;
    this.flushControl();
  }

  // ---- link lifecycle ---------------------------------------------------------

  open() {
    this.timers.clear("reconnect");
    if (this.stopped) return;
    if (this.state !== "reconnecting" && this.state !== "offline") this.setState("connecting");
    else if (this.state === "offline") this.setState("reconnecting");
    if (this.transport === "sse") this.openSSE();
    else this.openSocket();
  }

  openSocket() {
    this.outbox.inFlight.clear();
    /** @type {SocketLink} */
    let link;
    try {
      link = new SocketLink(/** @type {SocketClass} */ (this.WebSocketImpl), /** @type {string} */ (this.url), {
        onOpen: () => {
          this.sendFrame(this.helloFrame());
          this.armWatchdog(); // no welcome within two heartbeats: the server is not answering
        },
        onActivity: () => this.armWatchdog(),
        onFrame: (frame) => this.dispatch(frame),
        onClose: (code) => this.linkLost(code),
      });
    } catch {
      this.linkLost(0);
      return;
    }
    this.socket = link;
    this.armWatchdog(); // also bounds a connect that hangs
  }

  /** Our cursor, or an earlier one when file links we hold are old: the replay brings fresh ones. */
  replayCursor() {
    const held = this.log.position();
    const maxAge = Math.min(this.linkMaxAgeMs, this.refreshAge ?? Infinity);
    this.refreshAge = null;
    const stale = this.log.staleLinks(this.now() - maxAge);
    return formatCursor(stale && compareCursors(stale, held) < 0 ? stale : held);
  }

  /**
   * Renew file links older than `maxAgeMs` with a replay; true when one was asked for.
   * @param {number} [maxAgeMs]
   */
  refreshLinks(maxAgeMs = this.linkMaxAgeMs) {
    const stale = this.log.staleLinks(this.now() - maxAgeMs);
    if (!stale || !this.welcomed || this.resumeInFlight) return false;
    if (this.transport === "sse") {
      this.dropLink();
      this.refreshAge = maxAgeMs;
      this.open();
      return true;
    }
    this.sendResume(formatCursor(stale));
    return true;
  }

  helloFrame() {
    /** @type {Frame} */
    const frame = { type: "hello", token: this.token, cursor: this.replayCursor() };
    if (this.conversationId != null) frame.conversation = this.conversationId;
    return frame;
  }

  /** Open the event stream from our cursor and read it until it ends or we drop it. */
  openSSE() {
    const link = new EventStreamLink(/** @type {FetchLike} */ (this.fetchImpl), {
      onActivity: () => this.armWatchdog(),
      onOpen: () => {
        this.armWatchdog();
        this.markLive();
        this.flushOutbox();
      },
      onFrame: (frame) => this.dispatch(frame),
      onPosition: (cursor) => this.log.notePosition(cursor),
      onLost: (code) => this.linkLost(code),
    });
    this.sse = link;
    this.armWatchdog();
    let query = `?cursor=${encodeURIComponent(this.replayCursor())}`;
    if (this.conversationId != null) query += `&conversation=${this.conversationId}`;
    const http = this.http();
    void link.open(httpUrl(http, `/api/widget/events${query}`), authHeaders(http, { Accept: "text/event-stream" }));
  }

  /**
   * Where the SSE fallback's requests go, as whom, and how, as of now.
   * @returns {HttpContext}
   */
  http() {
    return { fetchImpl: /** @type {FetchLike} */ (this.fetchImpl), base: String(this.sseBase), token: String(this.token) };
  }

  /** Tear down the current socket or stream and its timers, without deciding what comes next. */
  dropLink() {
    for (const name of ["ping", "watchdog", "reconnect"]) this.timers.clear(name);
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
    if (this.sse) {
      this.sse.close();
      this.sse = null;
    }
    this.welcomed = false;
    this.resumeInFlight = false;
    this.held = [];
  }

  /**
   * The link ended (closed, timed out, refused): decide between retry, fallback and giving up.
   * @param {number} code  the close code; 0 when there is none
   */
  linkLost(code) {
    const wasLive = this.welcomed;
    this.dropLink();
    if (this.stopped) return;
    if (code === CLOSE.UNAUTHORIZED) {
      // Retrying the same token would be refused forever: let the app get a new session.
      this.authFailed = true;
      this.setState("closed", { reason: "auth" });
      this.emit("auth", { code, transport: this.transport });
      return;
    }
    if (code === CLOSE.FORBIDDEN) {
      this.setState("closed", { reason: "forbidden" });
      this.emit("error", { code: "forbidden", detail: "This page may not use the chat.", ref: null });
      return;
    }
    if (this.transport === "ws" && !wasLive && !this.everWelcomed) {
      this.wsFailures += 1;
      if (this.wsFailures >= this.sseAfter && this.canUseSSE()) {
        this.transport = "sse";
        this.emit("transport", { transport: "sse" });
        this.open();
        return;
      }
    }
    this.scheduleReconnect();
  }

  canUseSSE() {
    return this.sseBase != null && typeof this.fetchImpl === "function";
  }

  scheduleReconnect() {
    if (this.network && this.network.onLine === false) {
      this.setState("offline"); // the `online` event reconnects
      return;
    }
    const delay = backoffDelay(this.attempt, { ...this.backoff, random: this.random });
    this.attempt += 1;
    this.setState("reconnecting", { delay, attempt: this.attempt });
    this.timers.start("reconnect", delay, () => this.open());
  }

  /** The link is live: reset backoff, then send what waited. */
  markLive() {
    this.welcomed = true;
    this.everWelcomed = true;
    this.wsFailures = 0;
    this.attempt = 0;
    this.setState("open");
  }

  schedulePing() {
    this.timers.start("ping", this.heartbeatMs, () => {
      this.sendFrame({ type: "ping" });
      this.schedulePing();
    });
  }

  /** Any frame proves the link alive; silence for two heartbeats means it is dead. */
  armWatchdog() {
    this.timers.start("watchdog", 2 * this.heartbeatMs, () => this.linkLost(CLOSE.HEARTBEAT));
  }

  /**
   * @param {LinkState} state
   * @param {{reason?: string, delay?: number, attempt?: number} | null} [detail]
   */
  setState(state, detail = null) {
    const previous = this.state;
    this.state = state;
    if (previous !== state || detail) this.emit("state", { state, previous, ...(detail ?? {}) });
  }

  /**
   * Send a frame on the socket now; false when there is no open socket.
   * @param {Frame} frame
   * @returns {boolean}
   */
  sendFrame(frame) {
    return this.socket ? this.socket.send(frame) : false;
  }

  // ---- incoming frames ----------------------------------------------------------

  /** @param {Frame} frame */
  dispatch(frame) {
    switch (frame.type) {
      case "welcome":
      case "replay":
        return this.onWelcome(frame);
      case "message.ack":
        return this.onAck(frame);
      case "error":
        return this.onError(frame);
      case "conversation.updated":
        return this.onConversationUpdated(frame.conversation);
      case "typing":
        return this.emit("typing", { author: frame.author, active: Boolean(frame.active), conversation: frame.conversation });
      case "read":
        return this.emit("read", { by: frame.by, seq: frame.seq, conversation: frame.conversation });
      case "reply.feedback":
        return this.onFeedback(frame);
      case "contact.saved":
        return this.onContactSaved(frame.visitor);
      case "transcript.queued":
        return this.emit("transcript", { conversation: frame.conversation, email: String(frame.email ?? "") });
      case "pong":
        // The server's head cursor: behind it means events were lost without a visible gap
        // (e.g. the channel layer restarted and forgot our groups), so ask for them.
        if (frame.cursor && frame.conversation === this.conversationId && isBehind(this.log.position(), parseCursor(frame.cursor))) {
          this.requestResume();
        }
        return undefined;
      default:
        if (isTracked(frame.type)) this.onLive(frame);
        return undefined; // unknown types are ignored so newer servers don't break older widgets
    }
  }

  /**
   * `welcome` (first answer on a link) or `replay` (answer to `resume`): catch up, then go live.
   * @param {Frame} frame
   */
  onWelcome(frame) {
    const first = !this.welcomed;
    this.resumeInFlight = false;
    if (frame.visitor) this.visitor = frame.visitor;
    this.adoptConversation(frame.conversation ?? null);
    let gap = false;
    for (const event of Array.isArray(frame.events) ? frame.events : []) {
      if (!isTracked(event?.type)) this.dispatch(event);
      else if (this.log.apply(event, false) === "gap") gap = true;
    }
    if (typeof frame.cursor === "string") this.log.notePosition(frame.cursor);
    if (first) {
      this.markLive();
      if (this.transport === "ws") this.schedulePing();
      this.emit("welcome", { visitor: this.visitor, conversation: this.conversation });
    }
    this.persist();
    if (frame.more) this.sendResume(frame.cursor);
    else if (gap) this.requestResume();
    else this.releaseHeld();
    if (first) {
      this.flushOutbox();
      this.flushControl();
    }
  }

  /**
   * The conversation a welcome names: the same one, another one (start afresh), or none.
   * @param {any} conversation
   */
  adoptConversation(conversation) {
    if (!conversation) {
      if (this.conversation) this.switchConversation(null);
      return;
    }
    if (conversation.id !== this.conversationId) this.switchConversation(conversation);
    else this.updateConversation(conversation);
  }

  /** @param {any} conversation */
  onConversationUpdated(conversation) {
    if (!conversation || !Number.isInteger(conversation.id)) return;
    // Ids grow, so a larger one is a conversation that started after ours; an older one is history.
    if (this.conversationId == null || conversation.id > this.conversationId) this.switchConversation(conversation);
    else if (conversation.id === this.conversationId) this.updateConversation(conversation);
    this.persist();
  }

  /** @param {Record<string, any>} conversation */
  updateConversation(conversation) {
    this.conversation = /** @type {{id: number} & Record<string, any>} */ ({ ...this.conversation, ...conversation });
    this.emit("conversation", { conversation: this.conversation, previous: this.conversationId, switched: false });
  }

  /**
   * A new conversation: its transcript starts empty and its cursor at "0.0".
   * @param {({id: number} & Record<string, any>) | null} conversation
   */
  switchConversation(conversation) {
    const previous = this.conversationId;
    this.conversation = conversation ? { ...conversation } : null;
    this.log.clear();
    this.readWanted = 0;
    this.readSent = 0;
    this.emit("conversation", { conversation: this.conversation, previous, switched: true });
  }

  /**
   * A live transcript event: hold it while a resume is answered, else apply it.
   * @param {Frame} event
   */
  onLive(event) {
    if (!this.welcomed || this.resumeInFlight) {
      this.held.push(event);
      return;
    }
    if (!this.followConversation(event.conversation)) return;
    const result = this.log.apply(event, true);
    if (result === "gap") this.requestResume();
    else if (result === "applied" && event.type !== "reply.delta") this.persist();
  }

  /**
   * True when the event belongs to the current conversation, switching to a newer one if needed.
   * @param {any} id
   */
  followConversation(id) {
    if (id == null || id === this.conversationId) return true;
    if (this.conversationId != null && id < this.conversationId) return false;
    this.switchConversation({ id });
    return true;
  }

  /** Apply the events held during a resume, as if they arrived now (dupes drop, gaps resume). */
  releaseHeld() {
    const held = this.held;
    this.held = [];
    for (const event of held) this.onLive(event);
  }

  /** Ask for what we missed, at most once at a time. */
  requestResume() {
    if (this.resumeInFlight || !this.welcomed) return;
    if (this.transport === "sse") {
      // An SSE stream cannot be asked to replay: reopen it from our cursor (after a short jittered pause).
      this.dropLink();
      this.scheduleReconnect();
      return;
    }
    this.sendResume(this.cursor);
  }

  /** @param {string} cursor */
  sendResume(cursor) {
    /** @type {Frame} */
    const frame = { type: "resume", cursor };
    if (this.conversationId != null) frame.conversation = this.conversationId;
    this.resumeInFlight = this.sendFrame(frame);
  }

  // ---- the outbox ---------------------------------------------------------------

  /** @param {Frame} frame */
  onAck(frame) {
    if (!this.outbox.acknowledge(frame.client_id)) return; // the answer to a retry we already had
    // The first message starts a conversation; take it if no event named it yet.
    if (this.conversationId == null && Number.isInteger(frame.conversation)) this.followConversation(frame.conversation);
    this.outboxChanged();
    this.emit("ack", { client_id: frame.client_id, id: frame.id, seq: frame.seq, conversation: frame.conversation });
  }

  /** @param {Frame} frame */
  onError(frame) {
    const { code, detail, ref = null } = frame;
    const entry = ref == null ? null : this.outbox.find(ref);
    if (entry) return this.onSendError(entry, code, detail, retryAfterMs(frame.retry_after));
    if ((ref === "hello" || ref === "resume") && (code === "not_found" || code === "bad_request")) {
      // The conversation or cursor we named is not usable (another visitor's storage, a stale
      // cursor): start this conversation from scratch rather than retry the same refusal.
      this.resumeInFlight = false;
      if (this.conversation || this.log.size) {
        this.switchConversation(null);
        this.persist();
        this.sendResume("0.0");
      }
    } else if (ref === "resume" && this.resumeInFlight) {
      this.linkLost(0); // no replay will come: a fresh hello repairs the transcript
    } else if (ref === "reply.feedback") {
      for (const replyId of [...this.feedbackSent.keys()]) this.feedbackRefused(replyId);
    }
    this.emit("error", { code, detail, ref });
    return undefined;
  }

  /**
   * @param {OutboxEntry} entry
   * @param {string} code
   * @param {string} detail
   * @param {number} [notBeforeMs]  the server's retry_after: no retry sooner than this
   */
  onSendError(entry, code, detail, notBeforeMs = 0) {
    this.outbox.inFlight.delete(entry.client_id);
    const retrying = RETRYABLE.has(code);
    if (retrying) {
      this.scheduleSendRetry(notBeforeMs);
    } else {
      this.outbox.drop(entry);
      this.outboxChanged();
    }
    /** @type {ErrorEvent} */
    const error = { code, detail, ref: entry.client_id, body: entry.body, retrying };
    if (entry.attachments?.length) error.files = entry.attachments.length;
    this.emit("error", error);
  }

  /** @param {number} [notBeforeMs] */
  scheduleSendRetry(notBeforeMs = 0) {
    if (this.timers.has("sendRetry")) return;
    // A rate limit says when there will be room: retrying sooner would only be refused again.
    const delay = Math.max(notBeforeMs, backoffDelay(this.outbox.attempt, { ...this.backoff, random: this.random }));
    this.outbox.attempt += 1;
    this.timers.start("sendRetry", delay, () => this.flushOutbox());
  }

  /** Send every queued message not yet sent on this link, oldest first, with its own client_id. */
  flushOutbox() {
    if (!this.welcomed || this.timers.has("sendRetry")) return;
    if (this.transport === "sse") {
      void this.postOutbox();
      return;
    }
    for (const entry of this.outbox.entries) {
      if (this.outbox.inFlight.has(entry.client_id)) continue;
      if (!this.sendFrame({ type: "message.send", ...messageFields(entry) })) return;
      this.outbox.inFlight.add(entry.client_id);
    }
  }

  flushControl() {
    if (!this.welcomed || this.transport !== "ws") return;
    const frames = this.control;
    this.control = [];
    for (const frame of frames) {
      // A stop for a reply that has ended since would change nothing; skip it.
      if (frame.type === "reply.stop" && this.log.replyEnded(frame.reply_id)) continue;
      if (!this.sendFrame(frame)) this.control.push(frame);
    }
    if (this.readWanted > this.readSent && this.conversationId != null && this.sendFrame({ type: "read", seq: this.readWanted })) {
      this.readSent = this.readWanted;
    }
  }

  /**
   * The server stored a verdict (ours, or one from another tab): it is the truth.
   * @param {Frame} frame
   */
  onFeedback(frame) {
    if (frame.conversation != null && frame.conversation !== this.conversationId) return;
    const entry = this.log.entryById(frame.reply_id);
    this.feedbackSent.delete(frame.reply_id);
    if (entry) this.setFeedback(entry, helpfulness(frame.helpful));
  }

  /**
   * The server refused a verdict: show the one it holds again.
   * @param {unknown} replyId
   */
  feedbackRefused(replyId) {
    const previous = this.feedbackSent.get(replyId) ?? null;
    this.feedbackSent.delete(replyId);
    const entry = this.log.entryById(replyId);
    if (entry) this.setFeedback(entry, previous);
  }

  /**
   * @param {Entry} entry
   * @param {boolean | null} verdict
   */
  setFeedback(entry, verdict) {
    if (entry.feedback === verdict) return;
    entry.feedback = verdict;
    this.persist();
    this.emit("message", { message: publicMessage(entry), change: "update" });
    this.emit("feedback", { reply_id: entry.id, helpful: verdict });
  }

  /**
   * The server stored the visitor's address: it is the visitor we hold now.
   * @param {any} visitor
   */
  onContactSaved(visitor) {
    if (!visitor || typeof visitor !== "object") return;
    this.visitor = { ...(this.visitor ?? {}), ...visitor };
    this.persist();
    this.emit("visitor", { visitor: this.visitor });
  }

  /**
   * @param {string} code
   * @param {string} detail
   * @param {string | null} [ref]
   * @returns {null}
   */
  refuse(code, detail, ref = null) {
    this.emit("error", { code, detail, ref });
    return null;
  }

  outboxChanged() {
    this.store.saveOutbox(this.outbox.entries);
    this.emit("outbox", { pending: this.pending() });
  }

  // ---- over HTTP, while on the SSE fallback ----------------------------------------

  /** POST queued messages one by one, in order; the JSON answer is the ack. */
  async postOutbox() {
    if (this.posting) return;
    this.posting = true;
    try {
      while (this.transport === "sse" && this.welcomed && !this.timers.has("sendRetry")) {
        const entry = this.outbox.nextUnsent();
        if (!entry) break;
        this.outbox.inFlight.add(entry.client_id);
        await this.postMessage(entry);
        // Still queued means it must be retried later; later ones wait so order holds.
        if (this.outbox.includes(entry)) {
          this.outbox.inFlight.delete(entry.client_id);
          break;
        }
      }
    } finally {
      this.posting = false;
    }
  }

  /** @param {OutboxEntry} entry */
  async postMessage(entry) {
    const answer = await postMessage(this.http(), entry);
    if (answer.kind === "unreachable") this.scheduleSendRetry(); // the same client_id goes again later
    else if (answer.kind === "unauthorized") this.linkLost(CLOSE.UNAUTHORIZED);
    else if (answer.kind === "ack") this.onAck({ ...answer.answer, client_id: entry.client_id });
    else this.onSendError(entry, answer.code, answer.detail, retryAfterMs(answer.retry_after));
  }

  /** @param {unknown} replyId */
  async postStop(replyId) {
    const error = await postStop(this.http(), replyId);
    if (error) this.emit("error", error);
  }

  /**
   * Over SSE the verdict goes by POST; its answer `{helpful}` is the server's confirmation.
   * @param {unknown} replyId
   * @param {boolean} helpful
   */
  async postFeedback(replyId, helpful) {
    const answer = await postFeedback(this.http(), replyId, helpful);
    if (answer.kind === "unauthorized") return void this.linkLost(CLOSE.UNAUTHORIZED);
    if (answer.kind === "saved") return void this.onFeedback({ reply_id: replyId, helpful: answer.helpful });
    this.feedbackRefused(replyId);
    this.emit("error", { code: answer.code, detail: answer.detail, ref: "reply.feedback" });
    return undefined;
  }

  /**
   * Over SSE a support frame goes by POST; the JSON answer is what its answering frame would carry.
   * @param {SupportFrame} frame
   * @param {string} path
   * @param {Record<string, unknown>} body
   */
  async postSupport(frame, path, body) {
    const answer = await postCommand(this.http(), path, body);
    if (answer.kind === "unauthorized") return void this.linkLost(CLOSE.UNAUTHORIZED);
    if (answer.kind === "refused") {
      /** @type {ErrorEvent} */
      const error = { code: answer.code, detail: answer.detail, ref: frame.type };
      return void this.emit("error", error);
    }
    const result = answer.answer;
    if (frame.type === "rating.submit") {
      // The stored rating comes back on the stream too; the answer shows it without waiting for that.
      if (result.conversation && typeof result.conversation === "object") this.onConversationUpdated(result.conversation);
    } else if (frame.type === "contact.set") {
      this.onContactSaved(result.visitor);
    } else {
      this.emit("transcript", { conversation: result.conversation ?? frame.conversation, email: String(result.email ?? frame.email ?? "") });
    }
    return undefined;
  }

  // ---- storage ------------------------------------------------------------------

  /** Save the transcript and its cursor together, so a reload resumes where this page was. */
  persist() {
    this.store.saveState({ visitor: this.visitor, conversation: this.conversation, messages: this.log.sorted() });
  }

  restore() {
    const state = this.store.loadState();
    if (state) {
      this.visitor = state.visitor;
      this.conversation = state.conversation;
      this.log.restore(state.messages);
    }
    const outbox = this.store.loadOutbox();
    if (outbox) this.outbox.restore(outbox);
  }
}
