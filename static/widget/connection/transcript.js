// @ts-check
/**
 * The transcript of one conversation as the widget holds it (docs/protocol.md section 2):
 * tracked events are applied at most once and in order, by seq for messages and by index for
 * a streaming reply's deltas, so a replay overlapping live events changes nothing. Live events
 * that skip ahead are reported as gaps for the connection to repair with a resume.
 */

import { parseCursor } from "../../shared/cursors.js";

/** @typedef {import("../../shared/cursors.js").Cursor} Cursor */
/** @typedef {import("./protocol.js").Frame} Frame */

/**
 * One message as the transcript holds it: the public fields, plus our bookkeeping `index`
 * (a reply's last delta, -1 before the first) and `pos` (the cursor just after this message).
 * @typedef {object} Entry
 * @property {any} id
 * @property {number} seq
 * @property {any} author
 * @property {string} body
 * @property {string} status
 * @property {string | null} created_at
 * @property {number} index
 * @property {Cursor | null} pos
 * @property {string} [html]
 * @property {string} [outcome]
 * @property {object} [meta]
 * @property {boolean | null} [feedback]
 * @property {string} [stopped_by]  "agent": a person took over while this reply streamed
 * @property {{kind: string, name?: string, email?: string}} [notice]  what a system line announces, to say in the widget's language
 * @property {object[]} [attachments]  its files, with signed links
 * @property {number} [linked_at]  when those links came (they expire)
 */

/**
 * An entry without our bookkeeping, as the widget's listeners get it.
 * @typedef {Omit<Entry, "index" | "pos" | "linked_at">} PublicMessage
 */

/** @typedef {"applied" | "duplicate" | "gap"} ApplyResult */

/**
 * What the transcript tells its owner: a message appeared or changed, a reply moved on.
 * @typedef {object} TranscriptEvents
 * @property {{message: PublicMessage, change: "new" | "update"}} message
 * @property {ReplyProgress} reply
 */

/**
 * @typedef {object} ReplyProgress
 * @property {"start" | "delta" | "snapshot" | "end"} phase
 * @property {any} reply_id
 * @property {number} seq
 * @property {string} text
 * @property {number} index
 * @property {string} status
 * @property {string} [delta]
 */

/**
 * @typedef {<K extends keyof TranscriptEvents>(type: K, payload: TranscriptEvents[K]) => void} Emit
 */

/** What a message says about itself (protocol: `outcome`, `meta`, `feedback`, `stopped_by`, `notice`), copied when present. */
const REPLY_FIELDS = /** @type {const} */ (["outcome", "meta", "feedback", "stopped_by", "notice"]);

/**
 * A copy of a transcript entry without our bookkeeping (index, pos).
 * @param {Entry} m
 * @returns {PublicMessage}
 */
export function publicMessage(m) {
  /** @type {PublicMessage} */
  const out = { id: m.id, seq: m.seq, author: m.author, body: m.body, status: m.status, created_at: m.created_at };
  if (m.html !== undefined) out.html = m.html;
  if (m.attachments?.length) out.attachments = m.attachments;
  for (const field of REPLY_FIELDS) if (m[field] !== undefined) /** @type {any} */ (out)[field] = m[field];
  return out;
}

/**
 * The customer's verdict as true (helpful), false or null; the database's 1 / -1 read the same.
 * @param {unknown} value
 * @returns {boolean | null}
 */
export function helpfulness(value) {
  if (value === true || value === 1) return true;
  if (value === false || value === -1) return false;
  return null;
}

/**
 * Copy what a message says about itself (a reply's outcome, meta, feedback and who stopped it; a notice) onto an entry.
 * @param {Entry} entry
 * @param {Frame} source
 */
function takeReplyFields(entry, source) {
  if (typeof source.outcome === "string") entry.outcome = source.outcome;
  if (source.meta && typeof source.meta === "object") entry.meta = source.meta;
  if (source.feedback !== undefined) entry.feedback = helpfulness(source.feedback);
  if (source.stopped_by === "agent") entry.stopped_by = "agent";
  if (source.notice && typeof source.notice.kind === "string") {
    const text = (/** @type {unknown} */ value) => (typeof value === "string" ? value : "");
    entry.notice = { kind: source.notice.kind, name: text(source.notice.name), email: text(source.notice.email) };
  }
}

/**
 * A stored transcript entry we can trust enough to build a cursor from.
 * @param {any} m
 * @returns {m is Entry}
 */
export function validEntry(m) {
  const validPos = m?.pos == null || (Number.isInteger(m.pos.seq) && Number.isInteger(m.pos.index));
  return Boolean(m) && Number.isInteger(m.seq) && m.seq > 0 && Number.isInteger(m.index) && typeof m.body === "string" && validPos;
}

/**
 * @param {Entry} m
 * @returns {boolean}
 */
export function isStreaming(m) {
  return m.status === "streaming";
}

/**
 * @param {unknown} value
 * @returns {object[] | null}
 */
function filesOf(value) {
  if (!Array.isArray(value)) return null;
  const files = value.filter((a) => a && typeof a === "object" && Number.isInteger(a.id));
  return files.length ? files : null;
}

export class Transcript {
  /**
   * @param {Emit} emit  where "message" and "reply" events go
   * @param {() => number} [now]
   */
  constructor(emit, now = () => Date.now()) {
    this.emit = emit;
    this.now = now;
    /** @type {Map<number, Entry>} seq -> entry */
    this.messages = new Map();
  }

  /** How many messages are held. */
  get size() {
    return this.messages.size;
  }

  /** Forget every message: a new conversation starts empty, its cursor at "0.0". */
  clear() {
    this.messages.clear();
  }

  /**
   * Take back entries saved earlier; the untrustworthy ones are dropped.
   * @param {unknown[]} entries
   */
  restore(entries) {
    for (const m of entries) {
      if (validEntry(m)) this.messages.set(m.seq, m);
    }
  }

  /**
   * Entries in seq order.
   * @returns {Entry[]}
   */
  sorted() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The highest seq held, 0 when none. */
  lastSeq() {
    let last = 0;
    for (const seq of this.messages.keys()) if (seq > last) last = seq;
    return last;
  }

  /**
   * The entry of a message or reply id, or null.
   * @param {unknown} id
   * @returns {Entry | null}
   */
  entryById(id) {
    for (const m of this.messages.values()) if (m.id === id) return m;
    return null;
  }

  /**
   * True when we hold that reply and it is no longer streaming.
   * @param {unknown} replyId
   * @returns {boolean}
   */
  replyEnded(replyId) {
    for (const m of this.messages.values()) if (m.id === replyId) return !isStreaming(m);
    return false;
  }

  /**
   * Our cursor, derived from the transcript. It stops at a reply still streaming, even when
   * later messages arrived meanwhile, so a resume also brings that reply's missing end.
   * @returns {Cursor}
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

  /**
   * The cursor just before the first message with links from before `before` (ms), or null.
   * @param {number} before
   * @returns {Cursor | null}
   */
  staleLinks(before) {
    let previous = { seq: 0, index: 0 };
    for (const m of this.sorted()) {
      if (m.attachments?.length && !((m.linked_at ?? 0) >= before)) return previous;
      previous = m.pos ?? { seq: m.seq, index: 0 };
    }
    return null;
  }

  /**
   * The server told us a cursor (welcome, SSE id): it knows a finished reply's last index, we may not.
   * @param {string} text
   */
  notePosition(text) {
    const cursor = parseCursor(text);
    const m = this.messages.get(cursor.seq);
    if (m && (!m.pos || cursor.index >= m.pos.index) && (!isStreaming(m) || cursor.index <= m.index)) m.pos = cursor;
  }

  /**
   * Apply one tracked event; returns "applied", "duplicate" or "gap".
   * Live events are checked for gaps; replayed ones are contiguous by construction.
   * @param {Frame} event
   * @param {boolean} live
   * @returns {ApplyResult}
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

  /**
   * prev_seq names the message before this one; holding less than that means we missed some.
   * @param {Frame} event
   */
  missedBefore(event) {
    return Number.isInteger(event.prev_seq) && event.prev_seq > this.lastSeq();
  }

  /**
   * @param {Frame} event
   * @param {Entry | undefined} held
   * @param {boolean} live
   * @returns {ApplyResult}
   */
  applyMessage(event, held, live) {
    if (held && !isStreaming(held)) {
      // A replay renews its files' links.
      const files = filesOf(event.message?.attachments);
      if (files && held.id === event.message.id) {
        held.attachments = files;
        held.linked_at = this.now();
        this.emit("message", { message: publicMessage(held), change: "update" });
      }
      return "duplicate";
    }
    if (!held && live && this.missedBefore(event)) return "gap";
    const m = event.message;
    // A reply we saw start may come back finished as a plain message.new in a replay.
    /** @type {Entry} */
    const entry = {
      id: m.id, seq: m.seq, author: m.author, body: m.body ?? "", status: m.status, created_at: m.created_at,
      index: held ? held.index : -1, pos: { seq: m.seq, index: 0 },
    };
    if (m.html !== undefined) entry.html = m.html;
    const files = filesOf(m.attachments);
    if (files) {
      entry.attachments = files;
      entry.linked_at = this.now();
    }
    takeReplyFields(entry, m);
    this.messages.set(m.seq, entry);
    this.emit("message", { message: publicMessage(entry), change: held ? "update" : "new" });
    if (held) this.emitReply("end", entry);
    return "applied";
  }

  /**
   * @param {Frame} event
   * @param {Entry | undefined} held
   * @param {boolean} live
   * @returns {ApplyResult}
   */
  applyStart(event, held, live) {
    if (held) return "duplicate";
    if (live && this.missedBefore(event)) return "gap";
    const entry = this.newReply(event);
    this.emit("message", { message: publicMessage(entry), change: "new" });
    this.emitReply("start", entry);
    return "applied";
  }

  /**
   * Deltas apply strictly in order: index must be exactly one past what we hold.
   * @param {Frame} event
   * @param {Entry | undefined} held
   * @returns {ApplyResult}
   */
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

  /**
   * @param {Frame} event
   * @param {Entry | undefined} held
   * @param {boolean} live
   * @returns {ApplyResult}
   */
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

  /**
   * The end carries the final body (it wins over what we assembled); the cursor moves past it.
   * @param {Frame} event
   * @param {Entry | undefined} held
   * @param {boolean} live
   * @returns {ApplyResult}
   */
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

  /**
   * A streaming reply with no text yet, held under its seq.
   * @param {Frame} event
   * @returns {Entry}
   */
  newReply(event) {
    /** @type {Entry} */
    const entry = {
      id: event.reply_id, seq: event.seq, author: event.author ?? { kind: "bot", name: "" }, body: "",
      status: "streaming", created_at: event.created_at ?? null, index: -1, pos: null,
    };
    this.messages.set(event.seq, entry);
    return entry;
  }

  /**
   * @param {ReplyProgress["phase"]} phase
   * @param {Entry} entry
   * @param {string} [delta]
   */
  emitReply(phase, entry, delta) {
    /** @type {ReplyProgress} */
    const payload = {
      phase, reply_id: entry.id, seq: entry.seq, text: entry.body, index: entry.index, status: entry.status,
    };
    if (delta !== undefined) payload.delta = delta;
    this.emit("reply", payload);
  }
}
