/**
 * The transcript as DOM: one element per message, keyed by seq, in seq order, with the
 * DOM contract other code and tests rely on — `data-seq`, `data-author`, `data-status`,
 * the text in `.body`. Bot replies are rendered from Markdown; everything a person wrote
 * is set as textContent. Messages still in the outbox follow, without a seq.
 */

import { sparkleIcon } from "./icons.js";
import { renderMarkdown } from "./markdown.js";

const GROUP_GAP_MS = 5 * 60 * 1000; // a pause this long starts a new group with the author's name again
const NEAR_BOTTOM_PX = 48;
const NOTES = { stopped: "message.stopped", interrupted: "message.interrupted", failed: "message.failed" };

export class TranscriptView {
  constructor({ root, scroller, t, locale, doc = globalThis.document }) {
    this.root = root;
    this.scroller = scroller;
    this.t = t;
    this.doc = doc;
    this.bySeq = new Map();
    this.pending = new Map(); // client_id -> element
    this.rendered = new WeakMap(); // .body -> the status and text it shows, so nothing unchanged is rebuilt
    this.clock = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
    this.dated = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  }

  /** Forget every message (a new conversation, or another visitor). */
  clear() {
    this.bySeq.clear();
    this.pending.clear();
    this.root.replaceChildren();
  }

  /** Add or refresh one persisted message. */
  upsert(message) {
    const stick = this.nearBottom();
    let element = this.bySeq.get(message.seq);
    if (!element) {
      element = this.create(message.author?.kind ?? "system");
      element.dataset.seq = String(message.seq);
      this.root.insertBefore(element, this.successor(message.seq));
      this.bySeq.set(message.seq, element);
    }
    this.fill(element, message);
    this.regroupAround(element);
    if (stick) this.scrollToEnd();
  }

  /** Show the outbox: messages typed but not yet stored, in order, after every stored one. */
  setPending(entries) {
    const stick = this.nearBottom();
    const wanted = new Set(entries.map((entry) => entry.client_id));
    for (const [clientId, element] of this.pending) {
      if (!wanted.has(clientId)) {
        element.remove();
        this.pending.delete(clientId);
      }
    }
    for (const entry of entries) {
      if (this.pending.has(entry.client_id)) continue;
      const element = this.create("customer");
      element.dataset.clientId = entry.client_id;
      element.classList.add("pending");
      this.fill(element, { author: { kind: "customer" }, body: entry.body, status: "pending", created_at: entry.created_at });
      this.root.appendChild(element);
      this.pending.set(entry.client_id, element);
      this.regroupAround(element);
    }
    if (stick) this.scrollToEnd();
  }

  /** Mark the customer's last stored message "Seen" when agents have read up to `seq`. */
  setSeen(seq) {
    let last = null;
    for (const [messageSeq, element] of this.bySeq) {
      if (element.dataset.author === "customer" && (!last || messageSeq > Number(last.dataset.seq))) last = element;
    }
    for (const element of this.bySeq.values()) {
      const seen = element.querySelector(".seen");
      if (seen) seen.hidden = !(element === last && Number(element.dataset.seq) <= seq);
    }
  }

  /** The message elements with a seq, in order (for unread counts and tests). */
  messages() {
    return [...this.bySeq.entries()].sort((a, b) => a[0] - b[0]).map(([, element]) => element);
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // ---- elements -------------------------------------------------------------------

  el(tag, className) {
    const element = this.doc.createElement(tag);
    if (className) element.className = className;
    return element;
  }

  create(kind) {
    const element = this.el("div", "msg");
    element.dataset.author = kind;
    const stack = this.el("div", "stack");
    const bubble = this.el("div", "bubble");
    bubble.appendChild(this.el("div", "body"));
    const meta = this.el("div", "meta");
    const seen = this.el("span", "seen");
    seen.textContent = this.t("message.seen");
    seen.hidden = true;
    meta.append(this.el("time"), this.el("span", "note"), seen);
    stack.append(this.el("div", "name"), bubble, meta);
    if (kind === "bot" || kind === "agent") element.appendChild(this.avatar(kind));
    element.appendChild(stack);
    return element;
  }

  avatar(kind) {
    const avatar = this.el("div", "avatar");
    avatar.setAttribute("aria-hidden", "true");
    if (kind === "bot") avatar.appendChild(sparkleIcon(this.doc));
    return avatar;
  }

  fill(element, message) {
    const kind = element.dataset.author;
    const status = message.status ?? "complete";
    const text = message.body ?? "";
    element.dataset.status = status;
    if (message.id != null) element.dataset.id = String(message.id);
    if (message.author?.id != null) element.dataset.agent = String(message.author.id);
    element.classList.toggle("thinking", kind === "bot" && status === "streaming" && !text);
    element.setAttribute("aria-busy", status === "streaming" ? "true" : "false");

    const body = element.querySelector(".body");
    const shown = `${status}:${text}`;
    if (this.rendered.get(body) !== shown) {
      const partial = status !== "complete";
      if (kind === "bot") body.replaceChildren(renderMarkdown(text, this.doc, { partial }));
      else body.textContent = text;
      this.rendered.set(body, shown);
    }
    element.querySelector(".name").textContent = this.authorName(message.author ?? { kind });
    const avatar = element.querySelector(".avatar");
    if (avatar && kind === "agent") avatar.textContent = (message.author?.name || "?").slice(0, 1).toUpperCase();
    this.fillTime(element.querySelector("time"), message.created_at);
    const note = element.querySelector(".note");
    note.textContent = status === "pending" ? this.t("message.sending") : NOTES[status] ? this.t(NOTES[status]) : "";
  }

  fillTime(time, iso) {
    const moment = iso ? new Date(iso) : null;
    if (!moment || Number.isNaN(moment.getTime())) {
      time.textContent = "";
      return;
    }
    time.dateTime = moment.toISOString();
    const today = new Date().toDateString() === moment.toDateString();
    time.textContent = (today ? this.clock : this.dated).format(moment);
  }

  authorName(author) {
    if (author.kind === "customer") return this.t("author.you");
    if (author.kind === "bot") return this.t("author.bot");
    if (author.kind === "agent") return author.name || this.t("author.agent");
    return "";
  }

  /** The element a message with `seq` goes before: the first with a larger seq, or the first pending one. */
  successor(seq) {
    for (const element of this.root.children) {
      if (!element.dataset.seq || Number(element.dataset.seq) > seq) return element;
    }
    return null;
  }

  /** Consecutive messages by the same author within a few minutes share one name and avatar. */
  regroupAround(element) {
    for (const current of [element.previousElementSibling, element, element.nextElementSibling]) {
      if (!current) continue;
      const previous = current.previousElementSibling;
      const next = current.nextElementSibling;
      current.classList.toggle("cont", Boolean(previous) && sameGroup(previous, current));
      current.classList.toggle("has-next", Boolean(next) && sameGroup(current, next));
    }
  }
}

function sameGroup(a, b) {
  if (a.dataset.author !== b.dataset.author || a.dataset.author === "system") return false;
  if ((a.dataset.agent ?? "") !== (b.dataset.agent ?? "")) return false;
  const [ta, tb] = [a, b].map((e) => Date.parse(e.querySelector("time")?.dateTime ?? ""));
  return !(ta && tb) || Math.abs(tb - ta) < GROUP_GAP_MS;
}
