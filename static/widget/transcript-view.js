/**
 * The transcript as DOM: one element per message, keyed by seq, in seq order, with the
 * DOM contract other code and tests rely on — `data-seq`, `data-author`, `data-status`,
 * the text in `.body`. Bot replies are rendered from Markdown; everything a person wrote
 * is set as textContent. Messages still in the outbox follow, without a seq.
 *
 * A bot answer carries a 👍 / 👎 row (`.feedback`, buttons with `data-helpful`), and the latest
 * bot message its quick replies (`.quick`, buttons with `data-quick`) until someone writes
 * after it. The buttons only render; the frame listens for their clicks.
 */

import { sparkleIcon, thumbIcon } from "./icons.js";
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
    this.replies = new WeakMap(); // bot message element -> {outcome, meta, feedback}
    this.quickShown = new WeakMap(); // bot message element -> the quick replies it shows, as a key
    this.handoffOpen = false; // whether "Talk to a person" may be offered (the bot owns the conversation)
    this.withFiles = new Map(); // element -> its files
    this.files = null; // attachments.js's renderer, once loaded
    this.needFiles = null;
    this.clock = new Intl.DateTimeFormat(locale, { hour: "numeric", minute: "2-digit" });
    this.dated = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  }

  /** Forget every message (a new conversation, or another visitor). */
  clear() {
    this.bySeq.clear();
    this.withFiles.clear();
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
    this.refreshQuick();
    if (stick) this.scrollToEnd();
  }

  /** Whether a quick reply may offer a person: not when one already owns the conversation, or was asked. */
  setHandoffOpen(open) {
    if (this.handoffOpen === open) return;
    const stick = this.nearBottom();
    this.handoffOpen = open;
    this.refreshQuick();
    if (stick) this.scrollToEnd();
  }

  /** Show the outbox: messages typed but not yet stored, in order, after every stored one. */
  setPending(entries) {
    const stick = this.nearBottom();
    const wanted = new Set(entries.map((entry) => entry.client_id));
    for (const [clientId, element] of this.pending) {
      if (!wanted.has(clientId)) {
        element.remove();
        this.withFiles.delete(element);
        this.pending.delete(clientId);
      }
    }
    for (const entry of entries) {
      if (this.pending.has(entry.client_id)) continue;
      const element = this.create("customer");
      element.dataset.clientId = entry.client_id;
      element.classList.add("pending");
      this.fill(element, { author: { kind: "customer" }, body: entry.body, status: "pending", created_at: entry.created_at, attachments: entry.files });
      this.root.appendChild(element);
      this.pending.set(entry.client_id, element);
      this.regroupAround(element);
    }
    this.refreshQuick();
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
    // A system line with a notice is said in the widget's language; the body is in the site's.
    const notice = kind === "system" ? message.notice : null;
    const said = notice?.kind ? this.t(`notice.${notice.kind}`, { name: notice.name ?? "", email: notice.email ?? "" }) : "";
    const text = said && !said.startsWith("notice.") ? said : (message.body ?? ""); // a kind we do not know: the body
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
    note.textContent = status === "pending" ? this.t("message.sending") : this.noteFor(status, message);
    if (kind === "bot") this.fillReply(element, message, status);
    this.fillFiles(element, message.attachments);
  }

  /** The line under a message that did not end normally; a reply a person cut short says so. */
  noteFor(status, message) {
    if (status === "stopped" && message.stopped_by === "agent") return this.t("message.taken_over");
    return NOTES[status] ? this.t(NOTES[status]) : "";
  }

  /** A message's files, under its body. */
  fillFiles(element, files) {
    const list = Array.isArray(files) ? files.filter((f) => f && typeof f === "object") : [];
    element.classList.toggle("has-files", list.length > 0);
    if (!list.length) {
      this.withFiles.delete(element);
      element.querySelector(".files")?.remove();
      return;
    }
    this.withFiles.set(element, list);
    if (this.files) this.files.fill(element.querySelector(".bubble"), list);
    else this.needFiles?.();
  }


  setFileRenderer(renderer) {
    this.files = renderer;
    const stick = this.nearBottom();
    for (const [element, list] of this.withFiles) this.fillFiles(element, list);
    if (stick) this.scrollToEnd();
  }

  // ---- what the bot offers: feedback and quick replies ---------------------------------

  fillReply(element, message, status) {
    const reply = { outcome: message.outcome ?? "", meta: message.meta ?? {}, feedback: message.feedback ?? null };
    this.replies.set(element, reply);
    if (reply.outcome) element.dataset.outcome = reply.outcome;
    else delete element.dataset.outcome;
    let row = element.querySelector(".feedback");
    if (status !== "complete" || reply.outcome !== "answered") {
      row?.remove();
      return;
    }
    if (!row) {
      row = this.feedbackRow(element.dataset.seq);
      element.querySelector(".stack").insertBefore(row, element.querySelector(".quick"));
    }
    // Updated in place, so a thumb keeps the keyboard focus after it is pressed.
    const chosen = reply.feedback === null ? "" : String(reply.feedback);
    row.dataset.chosen = chosen;
    row.querySelector(".feedback-text").textContent = this.t(chosen ? "feedback.thanks" : "feedback.ask");
    for (const button of row.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.helpful === chosen));
    }
  }

  feedbackRow(seq) {
    const row = this.el("div", "feedback");
    row.setAttribute("role", "group");
    const text = this.el("span", "feedback-text");
    text.id = `feedback-${seq}`;
    row.setAttribute("aria-labelledby", text.id);
    row.append(text, this.thumb(true, "feedback.yes"), this.thumb(false, "feedback.no"));
    return row;
  }

  thumb(helpful, label) {
    const button = this.el("button", "thumb");
    button.type = "button";
    button.dataset.helpful = String(helpful);
    button.setAttribute("aria-label", this.t(label));
    button.title = this.t(label);
    button.setAttribute("aria-pressed", "false");
    button.appendChild(thumbIcon(this.doc));
    return button;
  }

  /** Quick replies belong to the latest bot message, until the customer (or a person) writes after it. */
  refreshQuick() {
    let latest = null;
    for (let node = this.root.lastElementChild; node && !latest; node = node.previousElementSibling) {
      if (node.dataset.author === "customer" || node.dataset.author === "agent") break;
      if (node.dataset.author === "bot" && node.dataset.seq) latest = node;
    }
    for (const element of this.bySeq.values()) {
      if (element.dataset.author === "bot") this.fillQuick(element, element === latest ? this.quickFor(element) : []);
    }
  }

  /** The quick replies of one bot message: its topic options, then "Rephrase", then "Talk to a person". */
  quickFor(element) {
    const reply = this.replies.get(element);
    if (!reply || element.dataset.status !== "complete") return [];
    const items = [];
    const options = Array.isArray(reply.meta.options) ? reply.meta.options : [];
    for (const option of options) {
      if (typeof option === "string" && option.trim()) items.push({ kind: "option", label: option.trim() });
    }
    const actions = Array.isArray(reply.meta.actions) ? reply.meta.actions : [];
    if (actions.includes("rephrase")) items.push({ kind: "rephrase", label: this.t("quick.rephrase") });
    // A 👎 offers a person too, as the bot does when it could not help.
    if (this.handoffOpen && (actions.includes("human") || reply.feedback === false)) {
      items.push({ kind: "human", label: this.t("quick.human") });
    }
    return items;
  }

  fillQuick(element, items) {
    const key = JSON.stringify(items);
    if ((this.quickShown.get(element) ?? "[]") === key) return;
    this.quickShown.set(element, key);
    element.querySelector(".quick")?.remove();
    if (!items.length) return;
    const group = this.el("div", "quick");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", this.t("quick.label"));
    for (const item of items) {
      const button = this.el("button", `quick-reply quick-${item.kind}`);
      button.type = "button";
      button.dataset.quick = item.kind;
      button.textContent = item.label;
      group.appendChild(button);
    }
    element.querySelector(".stack").appendChild(group);
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
