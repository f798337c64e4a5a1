/**
 * One conversation's transcript as the desk holds it, and the cursor "S.I" that describes it
 * (docs/protocol.md section 2). Events are applied at most once, by seq for messages and by
 * index for a streaming reply's deltas, so a replay overlapping live events changes nothing.
 * Agents see every seq (notes included), so a live message that skips a seq means a gap:
 * the desk then subscribes again from the cursor.
 */

import { formatCursor, parseCursor } from "../shared/cursors.js";
import { isTracked } from "../shared/events.js";

const isStreaming = (m) => m.status === "streaming";

/** A bot reply's outcome, meta and the customer's verdict (feedback: true, false or null), from a frame. */
function takeReplyFields(entry, source) {
  if (typeof source.outcome === "string") entry.outcome = source.outcome;
  if (source.meta && typeof source.meta === "object") entry.meta = source.meta;
  if (source.feedback !== undefined) entry.feedback = typeof source.feedback === "boolean" ? source.feedback : null;
  if (source.stopped_by === "agent") entry.stopped_by = "agent";
  if (source.notice && typeof source.notice.kind === "string") entry.notice = source.notice;
}

export class Transcript {
  constructor(id) {
    this.id = id;
    this.messages = new Map(); // seq -> entry
    this.conversation = null; // the agent payload of the conversation, as last seen
    this.customerReadSeq = 0;
    this.started = false; // a `subscribed` replay was applied at least once
  }

  /** Entries in seq order. */
  sorted() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  lastSeq() {
    let last = 0;
    for (const seq of this.messages.keys()) last = Math.max(last, seq);
    return last;
  }

  /** True when a file link held is older than `maxAgeMs`: a replay from the start brings fresh ones. */
  staleFiles(maxAgeMs, now = Date.now()) {
    for (const m of this.messages.values()) if (m.attachments?.length && now - m.filesAt > maxAgeMs) return true;
    return false;
  }

  /** The streaming bot reply, if one is in flight. */
  activeReply() {
    for (const m of this.messages.values()) if (m.author?.kind === "bot" && isStreaming(m)) return m;
    return null;
  }

  /**
   * Our cursor. It stops at a reply still streaming, even when later messages arrived, so a
   * resume also brings that reply's missing deltas or end.
   */
  cursor() {
    let cursor = { seq: 0, index: 0 };
    for (const m of this.sorted()) {
      if (isStreaming(m)) {
        if (m.index >= 0) cursor = { seq: m.seq, index: m.index };
        break;
      }
      cursor = m.pos ?? { seq: m.seq, index: 0 };
    }
    return formatCursor(cursor);
  }

  /** The server's cursor after a replay knows a finished reply's last index; keep it when it is ahead. */
  notePosition(text) {
    const cursor = parseCursor(text);
    const m = this.messages.get(cursor.seq);
    if (m && !isStreaming(m) && (!m.pos || cursor.index > m.pos.index)) m.pos = cursor;
  }

  /** Apply the replay of a `subscribed` frame. Returns the entries that changed. */
  applyReplay(frame) {
    this.conversation = frame.conversation ?? this.conversation;
    this.customerReadSeq = Math.max(this.customerReadSeq, frame.conversation?.customer_read_seq ?? 0);
    const changed = [];
    for (const event of frame.events ?? []) {
      const { result, entry } = this.apply(event, { live: false });
      if (result === "applied") changed.push(entry);
    }
    if (frame.cursor) this.notePosition(frame.cursor);
    this.started = true;
    return changed;
  }

  /** Apply one event: {result: "applied" | "duplicate" | "gap" | "ignored", entry}. */
  apply(event, { live = true } = {}) {
    if (!isTracked(event.type)) return { result: "ignored", entry: null };
    const seq = event.type === "message.new" ? event.message?.seq : event.seq;
    if (!Number.isInteger(seq) || seq < 1) return { result: "ignored", entry: null };
    const held = this.messages.get(seq);
    const skipped = live && !held && seq > this.lastSeq() + 1;
    switch (event.type) {
      case "message.new": {
        if (held && !isStreaming(held)) {
          // A replay brings fresh file links (they expire): keep the newest, so a re-render uses them.
          if (Array.isArray(event.message?.attachments)) {
            held.attachments = event.message.attachments;
            held.filesAt = Date.now();
          }
          return { result: "duplicate", entry: held };
        }
        if (skipped) return { result: "gap", entry: null };
        const m = event.message;
        const entry = {
          id: m.id, seq, author: m.author ?? { kind: "system" }, body: m.body ?? "", status: m.status ?? "complete",
          created_at: m.created_at, internal: Boolean(m.internal), index: held ? held.index : -1,
          pos: { seq, index: 0 },
          attachments: Array.isArray(m.attachments) ? m.attachments : [], filesAt: Date.now(),
        };
        takeReplyFields(entry, m);
        this.messages.set(seq, entry);
        return { result: "applied", entry };
      }
      case "reply.start": {
        if (held) return { result: "duplicate", entry: held };
        if (skipped) return { result: "gap", entry: null };
        return { result: "applied", entry: this.newReply(event) };
      }
      case "reply.delta": {
        if (!held) return { result: "gap", entry: null };
        if (!isStreaming(held) || event.index <= held.index) return { result: "duplicate", entry: held };
        if (event.index !== held.index + 1) return { result: "gap", entry: null };
        held.body += event.text ?? "";
        held.index = event.index;
        return { result: "applied", entry: held };
      }
      case "reply.snapshot": {
        if (!held && live) return { result: "gap", entry: null };
        const entry = held ?? this.newReply(event);
        if (!isStreaming(entry) || event.index <= entry.index) return { result: "duplicate", entry };
        entry.body = event.text ?? "";
        entry.index = event.index;
        return { result: "applied", entry };
      }
      default: {
        // reply.end: its body is final and wins over what the deltas assembled.
        if (!held && live) return { result: "gap", entry: null };
        const entry = held ?? this.newReply(event);
        if (!isStreaming(entry)) return { result: "duplicate", entry };
        if (typeof event.body === "string") entry.body = event.body;
        entry.status = event.status ?? "complete";
        if (Number.isInteger(event.index)) entry.index = event.index;
        entry.pos = { seq, index: entry.index + 1 };
        entry.reason = event.reason;
        takeReplyFields(entry, event);
        return { result: "applied", entry };
      }
    }
  }

  /** A `reply.feedback` event: the customer's verdict on a bot reply. Returns the entry it changed, or null. */
  applyFeedback(event) {
    for (const entry of this.messages.values()) {
      if (entry.id === event.reply_id && entry.author?.kind === "bot") {
        entry.feedback = typeof event.helpful === "boolean" ? event.helpful : null;
        return entry;
      }
    }
    return null;
  }

  newReply(event) {
    const entry = {
      id: event.reply_id, seq: event.seq, author: event.author ?? { kind: "bot", name: "AI assistant" }, body: "",
      status: "streaming", created_at: event.created_at ?? null, internal: false, index: -1, pos: null,
    };
    this.messages.set(event.seq, entry);
    return entry;
  }
}
