/**
 * Parley widget connection: owns the customer's socket (docs/protocol.md sections 2, 3, 5, 7).
 *
 * One `Connection` keeps the transcript of the current conversation, the cursor that
 * describes it, and an outbox of messages not yet acknowledged. It speaks WebSocket
 * and falls back to Server-Sent Events over fetch when sockets cannot open. Plain ES
 * module, no build step, no dependencies; every clock, socket and fetch is injectable.
 */

/** Close codes the server uses (protocol section 7) and one of our own. */
export const CLOSE = Object.freeze({
  // Daphne may only send 1000 or 3000-4999, so the server says 4009/4012 for the standard
  // 1009 (too big) and 1012 (restarting); any code but auth/forbidden means "reconnect".
  TOO_LARGE: 4009,
  RESTARTING: 4012,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  HELLO_TIMEOUT: 4408,
  HEARTBEAT: 4000, // ours: no frame within two heartbeats
});

/** Frames that belong to the transcript; these are deduped, gap-checked and replayed. */
const TRACKED = new Set(["message.new", "reply.start", "reply.delta", "reply.snapshot", "reply.end"]);

/** Send errors worth retrying with the same client_id; any other send error drops the message. */
const RETRYABLE = new Set(["rate_limited", "unavailable", "internal"]);

const SOCKET_OPEN = 1;

/** Read a cursor "S.I" into numbers; anything malformed is the start, "0.0". */
export function parseCursor(text) {
  const match = /^(\d{1,10})\.(\d{1,10})$/.exec(typeof text === "string" ? text : "");
  return match ? { seq: Number(match[1]), index: Number(match[2]) } : { seq: 0, index: 0 };
}

/** True when cursor `mine` is before cursor `theirs`. */
export function isBehind(mine, theirs) {
  return mine.seq < theirs.seq || (mine.seq === theirs.seq && mine.index < theirs.index);
}

/** Write a cursor back as "S.I". */
export function formatCursor(cursor) {
  return `${cursor.seq}.${cursor.index}`;
}

/**
 * Delay before reconnect attempt number `attempt` (0-based): exponential, capped, full jitter.
 * Full jitter spreads a crowd of widgets reconnecting after a server restart.
 */
export function backoffDelay(attempt, { base = 500, max = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** A random v4 UUID, the shape the server requires for `client_id`. */
export function newClientId(cryptoImpl = globalThis.crypto) {
  if (cryptoImpl && typeof cryptoImpl.randomUUID === "function") return cryptoImpl.randomUUID();
  const bytes = new Uint8Array(16);
  if (cryptoImpl && typeof cryptoImpl.getRandomValues === "function") cryptoImpl.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Incremental `text/event-stream` parser: feed it decoded text in chunks of any size,
 * get back whole events `{event, data, id}`. Lines may end in LF, CR or CRLF, and a
 * CRLF may be split across two chunks.
 */
export class SSEParser {
  constructor() {
    this.partial = "";
    this.endedWithCR = false;
    this.first = true;
    this.data = [];
    this.event = "";
    this.lastEventId = "";
    this.retry = null;
  }

  /** Parse one chunk; returns the events it completed, in order. */
  push(text) {
    if (!text) return [];
    let chunk = text;
    if (this.first) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    // A CR that ended the last chunk already closed its line; its LF is not a second line.
    if (this.endedWithCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.endedWithCR = chunk.endsWith("\r");
    const lines = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = lines.pop();
    const events = [];
    for (const line of lines) this.line(line, events);
    return events;
  }

  line(line, events) {
    if (line === "") {
      if (this.data.length) {
        events.push({ event: this.event || "message", data: this.data.join("\n"), id: this.lastEventId });
      }
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return; // a comment, e.g. the server's keep-alive ping
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/** The smallest event emitter: `on` returns an unsubscribe function. */
class Emitter {
  constructor() {
    this.listeners = new Map();
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  emit(type, payload) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) {
      try {
        fn(payload);
      } catch (err) {
        // A broken listener must not break the connection's own bookkeeping.
        console.error(`parley: a "${type}" listener threw`, err);
      }
    }
  }
}

/** What a bot reply says about itself (protocol: `outcome`, `meta`, `feedback`), copied when present. */
const REPLY_FIELDS = ["outcome", "meta", "feedback"];

/** A copy of a transcript entry without our bookkeeping (index, pos). */
function publicMessage(m) {
  const out = { id: m.id, seq: m.seq, author: m.author, body: m.body, status: m.status, created_at: m.created_at };
  if (m.html !== undefined) out.html = m.html;
  for (const field of REPLY_FIELDS) if (m[field] !== undefined) out[field] = m[field];
  return out;
}

/** Copy a bot reply's outcome, meta and feedback from a frame onto an entry. */
function takeReplyFields(entry, source) {
  if (typeof source.outcome === "string") entry.outcome = source.outcome;
  if (source.meta && typeof source.meta === "object") entry.meta = source.meta;
  if (source.feedback !== undefined) entry.feedback = helpfulness(source.feedback);
}

/** The customer's verdict as true (helpful), false or null; the database's 1 / -1 read the same. */
export function helpfulness(value) {
  if (value === true || value === 1) return true;
  if (value === false || value === -1) return false;
  return null;
}

/** A stored transcript entry we can trust enough to build a cursor from. */
function validEntry(m) {
  const validPos = m?.pos == null || (Number.isInteger(m.pos.seq) && Number.isInteger(m.pos.index));
  return Boolean(m) && Number.isInteger(m.seq) && m.seq > 0 && Number.isInteger(m.index) && typeof m.body === "string" && validPos;
}

function isStreaming(m) {
  return m.status === "streaming";
}

/** The browser's network status, when there is one (Node has none). */
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
 * `error`, `auth`, `outbox`, `transport`, `feedback`.
 */
export class Connection extends Emitter {
  constructor(options = {}) {
    super();
    this.url = options.url;
    this.token = options.token;
    this.sseBase = options.sseBase ?? null;
    this.WebSocketImpl = options.WebSocketImpl ?? globalThis.WebSocket;
    this.fetchImpl = options.fetchImpl ?? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : null);
    this.random = options.random ?? Math.random;
    this.setTimer = options.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms));
    this.clearTimer = options.clearTimeout ?? ((id) => globalThis.clearTimeout(id));
    this.storage = options.storage ?? null;
    this.storageKey = options.storageKey ?? "parley";
    this.heartbeatMs = options.heartbeatMs ?? 25000;
    this.backoff = { base: options.backoffBase ?? 500, max: options.backoffMax ?? 30000 };
    this.sseAfter = options.sseAfterFailures ?? 2;
    this.maxBody = options.maxBody ?? 4000;
    this.createId = options.createId ?? (() => newClientId());
    this.network = options.network === undefined ? defaultNetwork() : options.network;

    // The transcript of the current conversation.
    this.visitor = null;
    this.conversation = null;
    this.messages = new Map(); // seq -> entry
    this.outbox = []; // {client_id, body, created_at}, oldest first

    // The link.
    this.state = "idle";
    this.transport = this.WebSocketImpl ? "ws" : "sse";
    this.socket = null;
    this.sse = null;
    this.welcomed = false; // this link is live (welcome seen, or SSE stream open)
    this.everWelcomed = false; // some link was live once: WebSocket works here
    this.wsFailures = 0;
    this.attempt = 0;
    this.sendAttempt = 0;
    this.stopped = true;
    this.authFailed = false; // closed because the token was refused; setToken() reopens
    this.timers = {};
    this.inFlight = new Set(); // client_ids sent on this link and not yet answered
    this.resumeInFlight = false;
    this.held = []; // live events that arrived while a resume was outstanding
    this.control = []; // stop / handoff / feedback frames waiting for the next welcome
    this.feedbackSent = new Map(); // reply id -> the verdict before ours, until the server confirms ours
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
    this.clearOwnTimer("sendRetry");
    this.setState("closed");
  }

  /** Replace the visitor token (after `auth`) and reconnect if the old one was refused. */
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
    return formatCursor(this.position());
  }

  /** The id of the current conversation, or null before the first message. */
  get conversationId() {
    return this.conversation?.id ?? null;
  }

  /** Messages of the current conversation by seq, replies with their text so far. */
  transcript() {
    return this.sorted().map(publicMessage);
  }

  /** Messages sent but not yet acknowledged, oldest first. */
  pending() {
    return this.outbox.map((e) => ({ ...e }));
  }

  /**
   * Send a customer message; returns its client_id, or null when it is refused locally.
   * It stays in the outbox (and in storage) until the server acknowledges it.
   */
  send(body) {
    const text = String(body ?? "");
    const trimmed = text.trim();
    if (!trimmed) return this.refuse("empty", "The message is empty.");
    if ([...trimmed].length > this.maxBody) {
      return this.refuse("too_long", `Messages are limited to ${this.maxBody} characters.`);
    }
    const entry = { client_id: this.createId(), body: text, created_at: new Date().toISOString() };
    this.outbox.push(entry);
    this.outboxChanged();
    this.flushOutbox();
    return entry.client_id;
  }

  /** Stop a streaming bot reply; queued until the link is live again. */
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
   */
  feedback(replyId, helpful) {
    const entry = this.entryById(replyId);
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

  /** Tell agents the customer is (not) typing; dropped when not live, it is only a hint. */
  typing(active) {
    if (this.transport === "ws" && this.welcomed) this.sendFrame({ type: "typing", active: Boolean(active) });
  }

  /** Read receipt up to `seq`; only the highest one is sent, when live. */
  markRead(seq) {
    if (!Number.isInteger(seq) || seq <= this.readWanted) return;
    this.readWanted = seq;
    this.flushControl();
  }

  // ---- link lifecycle ---------------------------------------------------------

  open() {
    this.clearOwnTimer("reconnect");
    if (this.stopped) return;
    if (this.state !== "reconnecting" && this.state !== "offline") this.setState("connecting");
    else if (this.state === "offline") this.setState("reconnecting");
    if (this.transport === "sse") this.openSSE();
    else this.openSocket();
  }

  openSocket() {
    this.inFlight.clear();
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch {
      this.linkLost(0);
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      if (this.socket !== ws) return;
      this.sendFrame(this.helloFrame());
      this.armWatchdog(); // no welcome within two heartbeats: the server is not answering
    };
    ws.onmessage = (event) => {
      if (this.socket !== ws) return;
      this.armWatchdog();
      this.receive(event.data);
    };
    ws.onclose = (event) => {
      if (this.socket === ws) this.linkLost(event?.code ?? 0);
    };
    ws.onerror = () => {}; // a close event always follows; that is where we act
    this.armWatchdog(); // also bounds a connect that hangs
  }

  helloFrame() {
    const frame = { type: "hello", token: this.token, cursor: this.cursor };
    if (this.conversationId != null) frame.conversation = this.conversationId;
    return frame;
  }

  /** Tear down the current socket or stream and its timers, without deciding what comes next. */
  dropLink() {
    for (const name of ["ping", "watchdog", "reconnect"]) this.clearOwnTimer(name);
    const ws = this.socket;
    if (ws) {
      this.socket = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        if (ws.readyState < 2) ws.close(1000);
      } catch {
        /* already gone */
      }
    }
    if (this.sse) {
      this.sse.controller?.abort();
      this.sse = null;
    }
    this.welcomed = false;
    this.resumeInFlight = false;
    this.held = [];
  }

  /** The link ended (closed, timed out, refused): decide between retry, fallback and giving up. */
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
    this.startTimer("reconnect", delay, () => this.open());
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
    this.startTimer("ping", this.heartbeatMs, () => {
      this.sendFrame({ type: "ping" });
      this.schedulePing();
    });
  }

  /** Any frame proves the link alive; silence for two heartbeats means it is dead. */
  armWatchdog() {
    this.startTimer("watchdog", 2 * this.heartbeatMs, () => this.linkLost(CLOSE.HEARTBEAT));
  }

  setState(state, detail = null) {
    const previous = this.state;
    this.state = state;
    if (previous !== state || detail) this.emit("state", { state, previous, ...(detail ?? {}) });
  }

  startTimer(name, ms, fn) {
    this.clearOwnTimer(name);
    this.timers[name] = this.setTimer(() => {
      this.timers[name] = null;
      fn();
    }, ms);
  }

  clearOwnTimer(name) {
    if (this.timers[name] != null) {
      this.clearTimer(this.timers[name]);
      this.timers[name] = null;
    }
  }

  sendFrame(frame) {
    const ws = this.socket;
    if (!ws || ws.readyState !== SOCKET_OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // ---- incoming frames ----------------------------------------------------------

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return; // the server only sends JSON; a garbled frame is better ignored than fatal
    }
    if (frame && typeof frame === "object") this.dispatch(frame);
  }

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
      case "pong":
        // The server's head cursor: behind it means events were lost without a visible gap
        // (e.g. the channel layer restarted and forgot our groups), so ask for them.
        if (frame.cursor && frame.conversation === this.conversationId && isBehind(this.position(), parseCursor(frame.cursor))) {
          this.requestResume();
        }
        return undefined;
      default:
        if (TRACKED.has(frame.type)) this.onLive(frame);
        return undefined; // unknown types are ignored so newer servers don't break older widgets
    }
  }

  /** `welcome` (first answer on a link) or `replay` (answer to `resume`): catch up, then go live. */
  onWelcome(frame) {
    const first = !this.welcomed;
    this.resumeInFlight = false;
    if (frame.visitor) this.visitor = frame.visitor;
    this.adoptConversation(frame.conversation ?? null);
    let gap = false;
    for (const event of Array.isArray(frame.events) ? frame.events : []) {
      if (!TRACKED.has(event?.type)) this.dispatch(event);
      else if (this.apply(event, false) === "gap") gap = true;
    }
    if (typeof frame.cursor === "string") this.notePosition(frame.cursor);
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

  /** The conversation a welcome names: the same one, another one (start afresh), or none. */
  adoptConversation(conversation) {
    if (!conversation) {
      if (this.conversation) this.switchConversation(null);
      return;
    }
    if (conversation.id !== this.conversationId) this.switchConversation(conversation);
    else this.updateConversation(conversation);
  }

  onConversationUpdated(conversation) {
    if (!conversation || !Number.isInteger(conversation.id)) return;
    // Ids grow, so a larger one is a conversation that started after ours; an older one is history.
    if (this.conversationId == null || conversation.id > this.conversationId) this.switchConversation(conversation);
    else if (conversation.id === this.conversationId) this.updateConversation(conversation);
    this.persist();
  }

  updateConversation(conversation) {
    this.conversation = { ...this.conversation, ...conversation };
    this.emit("conversation", { conversation: this.conversation, previous: this.conversationId, switched: false });
  }

  /** A new conversation: its transcript starts empty and its cursor at "0.0". */
  switchConversation(conversation) {
    const previous = this.conversationId;
    this.conversation = conversation ? { ...conversation } : null;
    this.messages.clear();
    this.readWanted = 0;
    this.readSent = 0;
    this.emit("conversation", { conversation: this.conversation, previous, switched: true });
  }

  /** A live transcript event: hold it while a resume is answered, else apply it. */
  onLive(event) {
    if (!this.welcomed || this.resumeInFlight) {
      this.held.push(event);
      return;
    }
    if (!this.followConversation(event.conversation)) return;
    const result = this.apply(event, true);
    if (result === "gap") this.requestResume();
    else if (result === "applied" && event.type !== "reply.delta") this.persist();
  }

  /** True when the event belongs to the current conversation, switching to a newer one if needed. */
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

  sendResume(cursor) {
    const frame = { type: "resume", cursor };
    if (this.conversationId != null) frame.conversation = this.conversationId;
    this.resumeInFlight = this.sendFrame(frame);
  }

  // ---- the transcript -------------------------------------------------------------

  /**
   * Apply one transcript event; returns "applied", "duplicate" or "gap".
   * Live events are checked for gaps; replayed ones are contiguous by construction.
   */
  apply(event, live) {
    const seq = event.type === "message.new" ? event.message?.seq : event.seq;
    if (!Number.isInteger(seq)) return "duplicate";
    const held = this.messages.get(seq);
    switch (event.type) {
      case "message.new":
        return this.applyMessage(event, held, live);
      case "reply.start":
        return this.applyStart(event, held, live);
      case "reply.delta":
        return this.applyDelta(event, held);
      case "reply.snapshot":
        return this.applySnapshot(event, held, live);
      default:
        return this.applyEnd(event, held, live);
    }
  }

  /** prev_seq names the message before this one; holding less than that means we missed some. */
  missedBefore(event) {
    return Number.isInteger(event.prev_seq) && event.prev_seq > this.lastSeq();
  }

  applyMessage(event, held, live) {
    if (held && !isStreaming(held)) return "duplicate";
    if (!held && live && this.missedBefore(event)) return "gap";
    const m = event.message;
    // A reply we saw start may come back finished as a plain message.new in a replay.
    const entry = {
      id: m.id, seq: m.seq, author: m.author, body: m.body ?? "", status: m.status, created_at: m.created_at,
      index: held ? held.index : -1, pos: { seq: m.seq, index: 0 },
    };
    if (m.html !== undefined) entry.html = m.html;
    takeReplyFields(entry, m);
    this.messages.set(m.seq, entry);
    this.emit("message", { message: publicMessage(entry), change: held ? "update" : "new" });
    if (held) this.emitReply("end", entry);
    return "applied";
  }

  applyStart(event, held, live) {
    if (held) return "duplicate";
    if (live && this.missedBefore(event)) return "gap";
    const entry = this.newReply(event);
    this.emit("message", { message: publicMessage(entry), change: "new" });
    this.emitReply("start", entry);
    return "applied";
  }

  /** Deltas apply strictly in order: index must be exactly one past what we hold. */
  applyDelta(event, held) {
    if (!held) return "gap";
    if (!isStreaming(held) || event.index <= held.index) return "duplicate";
    if (event.index !== held.index + 1) return "gap";
    held.body += event.text ?? "";
    held.index = event.index;
    held.pos = { seq: held.seq, index: held.index };
    this.emit("message", { message: publicMessage(held), change: "update" });
    this.emitReply("delta", held, event.text ?? "");
    return "applied";
  }

  applySnapshot(event, held, live) {
    if (!held && live) return "gap";
    const entry = held ?? this.newReply(event);
    if (!isStreaming(entry) || event.index <= entry.index) return "duplicate";
    entry.body = event.text ?? "";
    entry.index = event.index;
    entry.pos = { seq: entry.seq, index: entry.index };
    this.emit("message", { message: publicMessage(entry), change: held ? "update" : "new" });
    this.emitReply("snapshot", entry);
    return "applied";
  }

  /** The end carries the final body (it wins over what we assembled); the cursor moves past it. */
  applyEnd(event, held, live) {
    if (!held && live) return "gap";
    const entry = held ?? this.newReply(event);
    if (!isStreaming(entry)) return "duplicate";
    if (typeof event.body === "string") entry.body = event.body;
    if (event.html !== undefined) entry.html = event.html;
    takeReplyFields(entry, event);
    entry.status = event.status ?? "complete";
    if (Number.isInteger(event.index)) entry.index = event.index;
    entry.pos = { seq: entry.seq, index: entry.index + 1 };
    this.emit("message", { message: publicMessage(entry), change: held ? "update" : "new" });
    this.emitReply("end", entry);
    return "applied";
  }

  newReply(event) {
    const entry = {
      id: event.reply_id, seq: event.seq, author: event.author ?? { kind: "bot", name: "" }, body: "",
      status: "streaming", created_at: event.created_at ?? null, index: -1, pos: null,
    };
    this.messages.set(event.seq, entry);
    return entry;
  }

  emitReply(phase, entry, delta) {
    const payload = {
      phase, reply_id: entry.id, seq: entry.seq, text: entry.body, index: entry.index, status: entry.status,
    };
    if (delta !== undefined) payload.delta = delta;
    this.emit("reply", payload);
  }

  sorted() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  lastSeq() {
    let last = 0;
    for (const seq of this.messages.keys()) if (seq > last) last = seq;
    return last;
  }

  /**
   * Our cursor, derived from the transcript. It stops at a reply still streaming, even when
   * later messages arrived meanwhile, so a resume also brings that reply's missing end.
   */
  position() {
    let cursor = { seq: 0, index: 0 };
    for (const m of this.sorted()) {
      if (isStreaming(m)) {
        if (m.pos) cursor = m.pos; // no delta yet: a resume must send reply.start again
        break;
      }
      cursor = m.pos ?? { seq: m.seq, index: 0 };
    }
    return cursor;
  }

  /** The server told us a cursor (welcome, SSE id): it knows a finished reply's last index, we may not. */
  notePosition(text) {
    const cursor = parseCursor(text);
    const m = this.messages.get(cursor.seq);
    if (m && (!m.pos || cursor.index >= m.pos.index) && (!isStreaming(m) || cursor.index <= m.index)) m.pos = cursor;
  }

  // ---- the outbox ---------------------------------------------------------------

  onAck(frame) {
    const at = this.outbox.findIndex((e) => e.client_id === frame.client_id);
    if (at < 0) return; // the answer to a retry we already had
    this.outbox.splice(at, 1);
    this.inFlight.delete(frame.client_id);
    this.sendAttempt = 0;
    // The first message starts a conversation; take it if no event named it yet.
    if (this.conversationId == null && Number.isInteger(frame.conversation)) this.followConversation(frame.conversation);
    this.outboxChanged();
    this.emit("ack", { client_id: frame.client_id, id: frame.id, seq: frame.seq, conversation: frame.conversation });
  }

  onError(frame) {
    const { code, detail, ref = null } = frame;
    const entry = ref == null ? null : this.outbox.find((e) => e.client_id === ref);
    if (entry) return this.onSendError(entry, code, detail);
    if ((ref === "hello" || ref === "resume") && (code === "not_found" || code === "bad_request")) {
      // The conversation or cursor we named is not usable (another visitor's storage, a stale
      // cursor): start this conversation from scratch rather than retry the same refusal.
      this.resumeInFlight = false;
      if (this.conversation || this.messages.size) {
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

  onSendError(entry, code, detail) {
    this.inFlight.delete(entry.client_id);
    const retrying = RETRYABLE.has(code);
    if (retrying) {
      this.scheduleSendRetry();
    } else {
      this.outbox = this.outbox.filter((e) => e !== entry);
      this.outboxChanged();
    }
    this.emit("error", { code, detail, ref: entry.client_id, body: entry.body, retrying });
  }

  scheduleSendRetry() {
    if (this.timers.sendRetry != null) return;
    const delay = backoffDelay(this.sendAttempt, { ...this.backoff, random: this.random });
    this.sendAttempt += 1;
    this.startTimer("sendRetry", delay, () => this.flushOutbox());
  }

  /** Send every queued message not yet sent on this link, oldest first, with its own client_id. */
  flushOutbox() {
    if (!this.welcomed || this.timers.sendRetry != null) return;
    if (this.transport === "sse") {
      this.postOutbox();
      return;
    }
    for (const entry of this.outbox) {
      if (this.inFlight.has(entry.client_id)) continue;
      if (!this.sendFrame({ type: "message.send", client_id: entry.client_id, body: entry.body })) return;
      this.inFlight.add(entry.client_id);
    }
  }

  flushControl() {
    if (!this.welcomed || this.transport !== "ws") return;
    const frames = this.control;
    this.control = [];
    for (const frame of frames) {
      // A stop for a reply that has ended since would change nothing; skip it.
      if (frame.type === "reply.stop" && this.replyEnded(frame.reply_id)) continue;
      if (!this.sendFrame(frame)) this.control.push(frame);
    }
    if (this.readWanted > this.readSent && this.conversationId != null && this.sendFrame({ type: "read", seq: this.readWanted })) {
      this.readSent = this.readWanted;
    }
  }

  replyEnded(replyId) {
    for (const m of this.messages.values()) if (m.id === replyId) return !isStreaming(m);
    return false;
  }

  entryById(id) {
    for (const m of this.messages.values()) if (m.id === id) return m;
    return null;
  }

  /** The server stored a verdict (ours, or one from another tab): it is the truth. */
  onFeedback(frame) {
    if (frame.conversation != null && frame.conversation !== this.conversationId) return;
    const entry = this.entryById(frame.reply_id);
    this.feedbackSent.delete(frame.reply_id);
    if (entry) this.setFeedback(entry, helpfulness(frame.helpful));
  }

  /** The server refused a verdict: show the one it holds again. */
  feedbackRefused(replyId) {
    const previous = this.feedbackSent.get(replyId) ?? null;
    this.feedbackSent.delete(replyId);
    const entry = this.entryById(replyId);
    if (entry) this.setFeedback(entry, previous);
  }

  setFeedback(entry, verdict) {
    if (entry.feedback === verdict) return;
    entry.feedback = verdict;
    this.persist();
    this.emit("message", { message: publicMessage(entry), change: "update" });
    this.emit("feedback", { reply_id: entry.id, helpful: verdict });
  }

  refuse(code, detail) {
    this.emit("error", { code, detail, ref: null });
    return null;
  }

  outboxChanged() {
    this.save("outbox", this.outbox);
    this.emit("outbox", { pending: this.pending() });
  }

  // ---- Server-Sent Events fallback -----------------------------------------------

  httpUrl(path) {
    return `${String(this.sseBase).replace(/\/+$/, "")}${path}`;
  }

  authHeaders(extra = {}) {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  /** Open the event stream from our cursor and read it until it ends or we drop it. */
  async openSSE() {
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const link = { controller };
    this.sse = link;
    this.armWatchdog();
    let query = `?cursor=${encodeURIComponent(this.cursor)}`;
    if (this.conversationId != null) query += `&conversation=${this.conversationId}`;
    let response;
    try {
      response = await this.fetchImpl(this.httpUrl(`/api/widget/events${query}`), {
        headers: this.authHeaders({ Accept: "text/event-stream" }),
        cache: "no-store",
        signal: controller?.signal,
      });
    } catch {
      if (this.sse === link) this.linkLost(0);
      return;
    }
    if (this.sse !== link) return;
    if (response.status === 401 || response.status === 403) {
      this.linkLost(response.status === 401 ? CLOSE.UNAUTHORIZED : CLOSE.FORBIDDEN);
      return;
    }
    if (!response.ok || !response.body) {
      this.linkLost(0);
      return;
    }
    this.armWatchdog();
    this.markLive();
    this.flushOutbox();
    await this.readStream(link, response.body.getReader());
  }

  async readStream(link, reader) {
    const decoder = new TextDecoder();
    const parser = new SSEParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (this.sse !== link) break;
        if (done) return void this.linkLost(0);
        this.armWatchdog(); // bytes, even a `: ping` comment, prove the stream alive
        for (const event of parser.push(decoder.decode(value, { stream: true }))) {
          if (this.sse !== link) break; // a gap dropped this stream: the rest comes again from the cursor
          this.onStreamEvent(event);
        }
        if (this.sse !== link) break;
      }
    } catch {
      if (this.sse === link) this.linkLost(0);
    }
    try {
      reader.cancel?.()?.catch?.(() => {});
    } catch {
      /* already released */
    }
  }

  /** One SSE event: the same frames as on the socket; its `id` is the cursor after it. */
  onStreamEvent({ event, data, id }) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (!frame.type && event !== "message") frame = { type: event, ...frame };
    const link = this.sse;
    this.dispatch(frame);
    if (id && this.sse === link) this.notePosition(id);
  }

  /** POST queued messages one by one, in order; the JSON answer is the ack. */
  async postOutbox() {
    if (this.posting) return;
    this.posting = true;
    try {
      while (this.transport === "sse" && this.welcomed && this.timers.sendRetry == null) {
        const entry = this.outbox.find((e) => !this.inFlight.has(e.client_id));
        if (!entry) break;
        this.inFlight.add(entry.client_id);
        await this.postMessage(entry);
        // Still queued means it must be retried later; later ones wait so order holds.
        if (this.outbox.includes(entry)) {
          this.inFlight.delete(entry.client_id);
          break;
        }
      }
    } finally {
      this.posting = false;
    }
  }

  async postMessage(entry) {
    let response;
    let answer = null;
    try {
      response = await this.fetchImpl(this.httpUrl("/api/widget/messages"), {
        method: "POST",
        headers: this.authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify({ client_id: entry.client_id, body: entry.body }),
      });
      answer = await response.json().catch(() => null);
    } catch {
      this.scheduleSendRetry(); // network trouble: the same client_id goes again later
      return;
    }
    if (response.status === 401) return void this.linkLost(CLOSE.UNAUTHORIZED);
    if (response.ok) return void this.onAck({ ...(answer ?? {}), client_id: entry.client_id });
    const error = answer?.error ?? answer ?? {};
    const fallback = response.status === 429 ? "rate_limited" : response.status >= 500 ? "unavailable" : "bad_request";
    this.onSendError(entry, error.code ?? fallback, error.detail ?? `HTTP ${response.status}`);
  }

  async postStop(replyId) {
    try {
      const response = await this.fetchImpl(this.httpUrl(`/api/widget/replies/${encodeURIComponent(replyId)}/stop`), {
        method: "POST",
        headers: this.authHeaders({ Accept: "application/json" }),
      });
      if (!response.ok) this.emit("error", { code: "stop_failed", detail: `HTTP ${response.status}`, ref: "reply.stop" });
    } catch {
      this.emit("error", { code: "unavailable", detail: "Could not reach the server to stop the reply.", ref: "reply.stop" });
    }
  }

  /** Over SSE the verdict goes by POST; its answer `{helpful}` is the server's confirmation. */
  async postFeedback(replyId, helpful) {
    try {
      const response = await this.fetchImpl(this.httpUrl(`/api/widget/replies/${encodeURIComponent(replyId)}/feedback`), {
        method: "POST",
        headers: this.authHeaders({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify({ helpful }),
      });
      const answer = await response.json().catch(() => null);
      if (response.status === 401) return void this.linkLost(CLOSE.UNAUTHORIZED);
      if (!response.ok) {
        this.feedbackRefused(replyId);
        const error = answer?.error ?? {};
        this.emit("error", { code: error.code ?? "bad_request", detail: error.detail ?? `HTTP ${response.status}`, ref: "reply.feedback" });
        return undefined;
      }
      this.onFeedback({ reply_id: replyId, helpful: typeof answer?.helpful === "boolean" ? answer.helpful : helpful });
    } catch {
      this.feedbackRefused(replyId);
      this.emit("error", { code: "unavailable", detail: "Could not reach the server to save the feedback.", ref: "reply.feedback" });
    }
    return undefined;
  }

  // ---- storage ------------------------------------------------------------------

  /** Save the transcript and its cursor together, so a reload resumes where this page was. */
  persist() {
    this.save("state", {
      v: 1,
      visitor: this.visitor,
      conversation: this.conversation,
      messages: this.sorted(),
    });
  }

  restore() {
    const state = this.load("state");
    if (state && state.v === 1) {
      this.visitor = state.visitor ?? null;
      this.conversation = state.conversation && Number.isInteger(state.conversation.id) ? state.conversation : null;
      for (const m of Array.isArray(state.messages) ? state.messages : []) {
        if (validEntry(m)) this.messages.set(m.seq, m);
      }
    }
    const outbox = this.load("outbox");
    if (Array.isArray(outbox)) {
      this.outbox = outbox.filter((e) => e && typeof e.client_id === "string" && typeof e.body === "string");
    }
  }

  save(name, value) {
    if (!this.storage) return;
    try {
      this.storage.set(`${this.storageKey}:${name}`, JSON.stringify(value));
    } catch {
      /* storage full or forbidden: the connection still works, it just won't survive a reload */
    }
  }

  load(name) {
    if (!this.storage) return null;
    try {
      const raw = this.storage.get(`${this.storageKey}:${name}`);
      return typeof raw === "string" ? JSON.parse(raw) : raw ?? null;
    } catch {
      return null;
    }
  }
}
