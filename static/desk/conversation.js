/**
 * The middle pane: one conversation's header and actions, its transcript (streaming bot
 * replies included), and the composer with private notes and the `/` canned-response picker.
 * It renders incrementally: a delta touches only its message's `.body`.
 */

import { newClientId } from "../shared/ids.js";
import { renderMarkdown } from "../widget/markdown.js";
import {
  FILE_TEXT, UploadTray, dragHasFiles, filesKey, pastedFiles, renderFiles, trayChip,
} from "./attachments.js";
import { LOCALE, t } from "./i18n.js";
import { avatar, clock, dayLabel, duration, el, longTime, visitorAvatar, visitorName } from "./util.js";

const STATUS_LABEL = {
  stopped: t("message.stopped"), interrupted: t("message.interrupted"), failed: t("message.failed"), streaming: "",
};
const PRESENCE_WORDS = { online: t("presence.online"), away: t("presence.away"), offline: t("presence.offline") };
const names = new Intl.ListFormat(LOCALE, { type: "conjunction" });
const STICK_PX = 80; // closer than this to the bottom: new messages keep the view pinned there
const TYPING_IDLE_MS = 4000;
const TYPING_REFRESH_MS = 3000;
const THEIR_TYPING_MS = 8000; // a typing hint with no refresh fades after this long
// Refusals a retry with the same client_id can get past; any other leaves the message unsent for good.
const RETRYABLE = new Set(["unavailable", "internal", "rate_limited"]);

const $ = (id) => document.getElementById(id);

export class ConversationView {
  constructor({ me, meName, sites, socket, labels, api, onAction, loadCanned, loadAgents, onStaleLinks }) {
    this.me = me;
    this.meName = meName;
    this.sites = sites;
    this.socket = socket;
    this.onAction = onAction; // (type, extra) -> sends the frame, tells the agent when offline
    this.loadCanned = loadCanned;
    this.loadAgents = loadAgents;
    this.labels = labels; // the LabelEditor of the header
    this.onStaleLinks = onStaleLinks ?? (() => {}); // a file link stopped working: fetch fresh ones
    this.tray = new UploadTray({ api, onChange: (conversation, item) => this.renderTray(conversation, item) });
    this.transcript = null;
    this.row = null;
    this.items = new Map(); // seq -> element
    this.pending = new Map(); // client_id -> {conversation, seq, el}
    this.noteMode = false;
    this.typing = { active: false, sentAt: 0, idle: null };
    this.theirTyping = new Map(); // who -> {name, timer}
    this.picker = { open: false, items: [], at: 0, start: 0 };

    this.root = $("conversation");
    this.log = $("desk-transcript");
    this.composer = $("desk-composer");
    this.bindActions();
    this.bindComposer();
    this.bindFiles();
  }

  get id() {
    return this.transcript?.id ?? null;
  }

  // ---- showing a conversation ----------------------------------------------------

  /** Show a conversation: its row (header) and transcript (possibly still empty until `subscribed`). */
  show(transcript, row) {
    if (this.id !== transcript.id) {
      this.stopTyping();
      this.clearTheirTyping();
      this.closePicker();
      this.closeMenu();
    }
    const switched = this.id !== transcript.id;
    this.transcript = transcript;
    this.row = row ?? transcript.conversation;
    if (switched) {
      this.closeLightbox();
      this.renderTray(transcript.id);
      this.note("");
    }
    $("conv-empty").hidden = true;
    this.root.hidden = false;
    this.renderHeader();
    this.renderAll();
  }

  clear() {
    this.transcript = null;
    this.row = null;
    this.root.hidden = true;
    $("conv-empty").hidden = false;
  }

  /** The conversation's state changed (a `conversation.updated`). */
  update(row) {
    this.row = { ...(this.row ?? {}), ...row };
    this.renderHeader();
    this.renderSeen();
    this.renderRating();
  }

  // ---- header and actions -----------------------------------------------------------

  renderHeader() {
    const row = this.row;
    if (!row) return;
    const name = visitorName(row.visitor);
    $("conv-avatar").replaceChildren(visitorAvatar(row.visitor ?? { id: row.id }, "avatar-md"));
    $("conv-name").textContent = name;
    const site = this.sites.get(row.site);
    $("conv-sub").replaceChildren(
      ...[el("span", { class: "conv-number", id: "conv-number", title: t("conv.number_title", { id: row.id }) },
        t("conv.number", { id: row.id })),
        row.visitor?.email && row.visitor.email !== name ? row.visitor.email : null, this.sites.size > 1 ? site?.name : null]
        .filter(Boolean).flatMap((part, i) => (i ? [el("span", { class: "dot" }, "·"), part] : [part])));
    const chip = $("conv-chip");
    const open = row.status === "open";
    if (!open) {
      chip.className = "chip chip-resolved";
      chip.textContent = t("chip.resolved");
    } else if (row.owner === "bot") {
      chip.className = "chip chip-bot";
      chip.textContent = t("chip.bot_answering");
    } else if (row.owner === "queue") {
      chip.className = "chip chip-queue";
      chip.textContent = t("chip.waiting", { time: duration(row.queued_at) });
    } else {
      const mine = row.assignee?.id === this.me;
      chip.className = `chip chip-agent${mine ? " is-me" : ""}`;
      chip.textContent = mine ? t("chip.assigned_to_you") : t("chip.with", { name: row.assignee?.name ?? t("chip.an_agent") });
    }
    $("take-over").hidden = !open || row.owner === "agent";
    $("hand-back").hidden = !open || row.owner === "bot" || !site?.bot_enabled;
    $("assign-group").hidden = !open;
    // Already mine: "Assign to me" has nothing to do; the menu (to a colleague, or back to the queue) stays.
    const mine = row.assignee?.id === this.me && row.owner === "agent";
    $("assign-me").hidden = mine;
    $("assign-group").classList.toggle("is-mine", mine);
    $("resolve").hidden = !open;
    $("reopen").hidden = open;
    this.labels?.show(row);
    this.renderStop();
    const banner = $("conv-banner");
    if (open && row.owner === "bot") {
      banner.hidden = false;
      banner.className = "banner banner-bot";
      banner.textContent = t("conv.banner_bot");
    } else if (open && row.owner === "queue") {
      banner.hidden = false;
      banner.className = "banner banner-queue";
      banner.textContent = t("conv.banner_queue");
    } else {
      banner.hidden = true;
    }
  }

  renderStop() {
    $("stop-bot").hidden = !this.transcript?.activeReply();
  }

  bindActions() {
    const act = (type, extra = {}) => () => this.id && this.onAction(type, { conversation: this.id, ...extra });
    $("take-over").addEventListener("click", act("bot.pause"));
    $("hand-back").addEventListener("click", act("bot.resume"));
    $("resolve").addEventListener("click", act("conversation.resolve"));
    $("reopen").addEventListener("click", act("conversation.reopen"));
    $("assign-me").addEventListener("click", () => this.id && this.onAction("conversation.assign",
      { conversation: this.id, agent: this.me }));
    $("stop-bot").addEventListener("click", () => this.stopBot());
    $("assign-menu-open").addEventListener("click", (event) => {
      event.stopPropagation();
      if ($("assign-menu").hidden) this.openMenu();
      else this.closeMenu();
    });
    document.addEventListener("click", (event) => {
      if (!event.target.closest("#assign-group")) this.closeMenu();
      if (!event.target.closest("#composer-form")) this.closePicker();
    });
  }

  /** Shortcut and button entry points. */
  takeOver() { if (!$("take-over").hidden) $("take-over").click(); }
  handBack() { if (!$("hand-back").hidden) $("hand-back").click(); }
  resolve() { if (!$("resolve").hidden) $("resolve").click(); }
  reopen() { if (!$("reopen").hidden) $("reopen").click(); }
  assignToMe() { if (!$("assign-group").hidden && !$("assign-me").hidden) $("assign-me").click(); }

  stopBot() {
    const reply = this.transcript?.activeReply();
    if (reply) this.onAction("reply.stop", { reply_id: reply.id });
  }

  async openMenu() {
    const menu = $("assign-menu");
    menu.hidden = false;
    $("assign-menu-open").setAttribute("aria-expanded", "true");
    menu.replaceChildren(el("div", { class: "menu-note" }, t("assign.loading")));
    let agents = [];
    try {
      agents = await this.loadAgents(this.row?.site);
    } catch {
      menu.replaceChildren(el("div", { class: "menu-note" }, t("assign.failed")));
      return;
    }
    if (menu.hidden) return;
    const assign = (agent) => () => {
      this.closeMenu();
      this.onAction("conversation.assign", { conversation: this.id, agent });
    };
    menu.replaceChildren(
      el("div", { class: "menu-title" }, t("assign.title")),
      ...agents.map((a) => el("button", {
        type: "button", role: "menuitem", class: `menu-item${this.row?.assignee?.id === a.id ? " is-current" : ""}`,
        onclick: assign(a.id), dataset: { agentId: a.id },
      }, avatar(a.name, `agent-${a.id}`, "avatar-xs"),
      el("span", { class: "menu-name" }, a.me ? t("assign.you", { name: a.name }) : a.name),
      el("span", { class: `presence-pill is-${a.status}` }, PRESENCE_WORDS[a.status] ?? a.status),
      el("span", { class: "menu-load", title: t("assign.load") },
        a.max_concurrent == null ? String(a.load) : `${a.load}/${a.max_concurrent}`))),
      el("div", { class: "menu-sep" }),
      el("button", { type: "button", role: "menuitem", class: "menu-item", onclick: assign(null) },
        el("span", { class: "menu-name" }, t("assign.unassign"))),
    );
  }

  closeMenu() {
    $("assign-menu").hidden = true;
    $("assign-menu-open").setAttribute("aria-expanded", "false");
  }

  // ---- transcript ------------------------------------------------------------------

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICK_PX;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** Rebuild the whole transcript (on switching conversations and after a replay). */
  renderAll() {
    this.items.clear();
    const nodes = [];
    let lastDay = null;
    for (const entry of this.transcript.sorted()) {
      const day = entry.created_at ? new Date(entry.created_at).toDateString() : lastDay;
      if (day && day !== lastDay) {
        nodes.push(el("div", { class: "day-sep" }, el("span", {}, dayLabel(entry.created_at))));
        lastDay = day;
      }
      const node = this.build(entry);
      this.items.set(entry.seq, node);
      nodes.push(node);
    }
    for (const pending of this.pending.values()) {
      if (pending.conversation === this.id && !this.transcript.messages.has(pending.seq)) nodes.push(pending.el);
    }
    if (!nodes.length && this.transcript.started) {
      nodes.push(el("div", { class: "transcript-empty" }, t("conv.no_messages")));
    }
    this.log.replaceChildren(...nodes);
    this.renderRating();
    this.renderSeen();
    this.renderStop();
    this.scrollToBottom();
  }

  /**
   * The customer's rating as a system-style line: not a message (it has no seq), drawn from the
   * conversation object, after the last message written before the rating (the end, unless the
   * customer wrote again after rating).
   */
  renderRating() {
    const rating = this.row?.rating;
    const held = this.log.querySelector(".rating-line");
    const key = rating ? JSON.stringify([this.id, rating.score, rating.comment ?? "", rating.rated_at]) : "";
    if (held?.dataset.key === key && held.isConnected) return;
    held?.remove();
    if (!rating || !this.transcript?.started) return;
    const ratedAt = rating.rated_at ? Date.parse(rating.rated_at) : Infinity;
    const later = this.transcript.sorted().find((m) => m.created_at && Date.parse(m.created_at) > ratedAt);
    const before = (later && this.items.get(later.seq)) ?? this.log.querySelector(".msg.is-pending");
    const line = el("div", {
      class: "msg msg-system rating-line", id: "transcript-rating", dataset: { key, score: rating.score },
      title: rating.rated_at ? longTime(rating.rated_at) : null,
    }, el("div", { class: "body" }, ratedText(rating)));
    this.log.insertBefore(line, before ?? null);
  }

  /** One message changed or arrived. */
  renderEntry(entry) {
    const stick = this.nearBottom();
    const existing = this.items.get(entry.seq);
    if (existing) {
      // A delta: touch only this message (this runs for every coalesced slice of a streaming reply).
      const statusChanged = existing.dataset.status !== entry.status;
      this.patch(existing, entry);
      if (statusChanged) this.renderStop();
      if (stick) this.scrollToBottom();
      return;
    }
    this.log.querySelector(".transcript-empty")?.remove();
    const node = this.build(entry);
    const seqs = [...this.items.keys()];
    const laterSeq = Math.min(...seqs.filter((seq) => seq > entry.seq));
    const previousSeq = Math.max(...seqs.filter((seq) => seq < entry.seq));
    this.items.set(entry.seq, node);
    const before = this.items.get(laterSeq) ?? this.log.querySelector(".msg.is-pending");
    const prevDay = this.transcript.messages.get(previousSeq)?.created_at;
    if (entry.created_at && (!prevDay || new Date(prevDay).toDateString() !== new Date(entry.created_at).toDateString())) {
      this.log.insertBefore(el("div", { class: "day-sep" }, el("span", {}, dayLabel(entry.created_at))), before ?? null);
    }
    this.log.insertBefore(node, before ?? null);
    for (const [clientId, pending] of this.pending) {
      if (pending.seq === entry.seq) {
        pending.el.remove();
        this.pending.delete(clientId);
      }
    }
    this.renderSeen();
    this.renderStop();
    if (stick) this.scrollToBottom();
  }

  build(entry) {
    const kind = entry.author?.kind ?? "system";
    const attrs = { class: `msg msg-${kind}${entry.internal ? " msg-note" : ""}`,
      dataset: { seq: entry.seq, author: kind, status: entry.status } };
    if (entry.internal) attrs.dataset.internal = "true";
    if (kind === "system") {
      // A change of hands is said in the desk's language; the stored body is in the site's.
      const notice = entry.notice?.kind
        ? t(`notice.${entry.notice.kind}`, { name: entry.notice.name ?? "", email: entry.notice.email ?? "" })
        : "";
      return el("div", attrs, el("div", { class: "body" }, notice && !notice.startsWith("notice.") ? notice : entry.body));
    }
    const who = kind === "customer" ? visitorName(this.row?.visitor)
      : kind === "bot" ? t("message.bot") // the widget's name for it, in the desk's language
        : (entry.author?.id === this.me ? t("message.you") : entry.author?.name || t("message.agent"));
    let face;
    if (kind === "bot") face = el("span", { class: "avatar avatar-sm avatar-bot", "aria-hidden": "true" }, botIcon());
    else if (kind === "customer") face = visitorAvatar(this.row?.visitor, "avatar-sm");
    else face = avatar(entry.author?.name || "Agent", `agent-${entry.author?.id}`, "avatar-sm");
    const node = el("div", attrs,
      face,
      el("div", { class: "bubble" },
        entry.internal ? el("div", { class: "note-label" }, lockIcon(), t("message.note_label")) : null,
        el("div", { class: `body${kind === "bot" ? " md" : ""}` }),
        el("div", { class: "msg-files-slot" }),
        el("div", { class: "msg-meta" },
          el("span", { class: "who" }, who),
          el("time", { datetime: entry.created_at ?? "" }, clock(entry.created_at)),
          el("span", { class: "msg-state" }),
          kind === "bot" ? el("span", { class: "msg-verdict" }) : null,
          kind !== "customer" && !entry.internal ? el("span", { class: "seen", title: t("message.not_seen") }) : null)));
    this.patch(node, entry);
    return node;
  }

  patch(node, entry) {
    node.dataset.status = entry.status;
    const body = node.querySelector(".body");
    if (body.raw !== entry.body) {
      body.raw = entry.body;
      // The bot writes Markdown: show it exactly as the customer's widget renders it (same safe renderer).
      if (entry.author?.kind === "bot") {
        body.replaceChildren(renderMarkdown(entry.body, document, { partial: entry.status !== "complete" }));
      } else {
        body.textContent = entry.body;
      }
    }
    const slot = node.querySelector(".msg-files-slot");
    const key = filesKey(entry.attachments);
    if (slot && slot.dataset.key !== key) {
      // Links expire: a replay brings fresh ones, and they replace what was drawn.
      slot.dataset.key = key;
      slot.replaceChildren(...[this.files(entry.attachments)].filter(Boolean));
      node.classList.toggle("has-files", Boolean(entry.attachments?.length));
    }
    body.classList.toggle("is-empty", !entry.body && Boolean(entry.attachments?.length));
    const state = node.querySelector(".msg-state");
    if (state) {
      let label = STATUS_LABEL[entry.status] ?? "";
      if (entry.status === "streaming") label = t("message.typing");
      state.textContent = label;
      state.title = entry.reason ?? "";
      state.className = `msg-state${label ? ` is-${entry.status}` : ""}`;
    }
    const verdict = node.querySelector(".msg-verdict");
    if (verdict) {
      // What the bot's answer did for the customer: their 👍 / 👎, or that it had no answer.
      const parts = [];
      if (entry.outcome === "unanswered") parts.push(t("message.unanswered"));
      if (entry.feedback === true) parts.push(t("message.helpful"));
      if (entry.feedback === false) parts.push(t("message.unhelpful"));
      verdict.textContent = parts.join(" · ");
      verdict.className = `msg-verdict${entry.feedback === false ? " is-down" : ""}`;
    }
  }

  /** "Seen" marks: every public agent or bot message up to the customer's read receipt. */
  renderSeen() {
    if (!this.transcript) return;
    const readSeq = Math.max(this.transcript.customerReadSeq, this.row?.customer_read_seq ?? 0);
    let lastSeen = null;
    for (const [seq, node] of this.items) {
      const mark = node.querySelector(".seen");
      if (!mark) continue;
      const seen = seq <= readSeq;
      node.classList.toggle("is-seen", seen);
      mark.textContent = seen ? "✓✓" : "✓";
      mark.title = seen ? t("message.seen_by_customer") : t("message.delivered");
      if (seen && (!lastSeen || seq > lastSeen[0])) lastSeen = [seq, node];
    }
    for (const node of this.log.querySelectorAll(".seen-label")) node.remove();
    if (lastSeen) lastSeen[1].querySelector(".msg-meta").append(el("span", { class: "seen-label" }, t("message.seen")));
  }

  // ---- typing hints ---------------------------------------------------------------

  /** Someone else is typing in this conversation (the customer, or another agent). */
  showTyping(event) {
    const who = event.author?.kind === "customer" ? "customer" : `agent-${event.author?.id}`;
    const held = this.theirTyping.get(who);
    clearTimeout(held?.timer);
    if (!event.active) {
      this.theirTyping.delete(who);
    } else {
      const name = event.author?.kind === "customer" ? visitorName(this.row?.visitor) : event.author?.name || t("typing.an_agent");
      this.theirTyping.set(who, { name, timer: setTimeout(() => this.showTyping({ ...event, active: false }), THEIR_TYPING_MS) });
    }
    const typists = [...this.theirTyping.values()].map((held) => held.name);
    const line = $("typing-line");
    line.replaceChildren(...(typists.length
      ? [el("span", { class: "typing-dots", "aria-hidden": "true" }, el("i"), el("i"), el("i")),
        t(typists.length > 1 ? "typing.many" : "typing.one", { names: names.format(typists) })]
      : []));
    line.classList.toggle("is-on", typists.length > 0);
  }

  /** A message of theirs arrived: their typing hint has done its job (the customer, or another agent). */
  doneTyping(author) {
    if (author?.kind !== "customer" && author?.kind !== "agent") return;
    const who = author.kind === "customer" ? "customer" : `agent-${author.id}`;
    if (this.theirTyping.has(who)) this.showTyping({ author, active: false });
  }

  clearTheirTyping() {
    for (const held of this.theirTyping.values()) clearTimeout(held.timer);
    this.theirTyping.clear();
    $("typing-line").replaceChildren();
    $("typing-line").classList.remove("is-on");
  }

  sendTyping(active) {
    if (!this.id) return;
    const now = Date.now();
    if (active === this.typing.active && (!active || now - this.typing.sentAt < TYPING_REFRESH_MS)) return;
    this.typing.active = active;
    this.typing.sentAt = now;
    this.socket.send({ type: "typing", conversation: this.id, active, internal: this.noteMode });
  }

  stopTyping() {
    clearTimeout(this.typing.idle);
    if (this.typing.active) this.sendTyping(false);
  }

  // ---- composer --------------------------------------------------------------------

  setNoteMode(on) {
    if (on !== this.noteMode) this.stopTyping();
    this.noteMode = on;
    $("note-toggle").setAttribute("aria-pressed", on ? "true" : "false");
    $("note-toggle").classList.toggle("is-active", on);
    $("reply-mode").classList.toggle("is-active", !on);
    $("composer-form").classList.toggle("is-note", on);
    $("send").textContent = on ? t("composer.add_note") : t("composer.send");
    this.composer.placeholder = on ? t("composer.note_placeholder") : t("composer.reply_placeholder");
  }

  focusComposer(note = false) {
    this.setNoteMode(note);
    this.composer.focus();
  }

  bindComposer() {
    $("note-toggle").addEventListener("click", () => {
      this.setNoteMode(!this.noteMode);
      this.composer.focus();
    });
    $("reply-mode").addEventListener("click", () => {
      this.setNoteMode(false);
      this.composer.focus();
    });
    $("composer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.composer.addEventListener("keydown", (event) => this.onComposerKey(event));
    this.composer.addEventListener("input", () => {
      this.updatePicker();
      const active = this.composer.value.trim().length > 0;
      this.sendTyping(active);
      clearTimeout(this.typing.idle);
      if (active) this.typing.idle = setTimeout(() => this.sendTyping(false), TYPING_IDLE_MS);
    });
    this.composer.addEventListener("blur", () => this.stopTyping());
  }

  onComposerKey(event) {
    if (this.picker.open) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const n = this.picker.items.length;
        this.picker.at = (this.picker.at + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
        this.renderPicker();
        return;
      }
      if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
        event.preventDefault();
        this.insertCanned(this.picker.items[this.picker.at]);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        this.closePicker();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.send();
    } else if (event.key === "Escape") {
      this.composer.blur();
    }
  }

  send() {
    const body = this.composer.value.trim();
    if (!this.id) return;
    const conversation = this.id;
    const files = this.tray.status(conversation);
    if (files.waiting) {
      this.note(FILE_TEXT.stillUploading);
      return;
    }
    if (files.failed) {
      this.note(FILE_TEXT.fixFailed);
      return;
    }
    if (!body && !files.ready.length) return;
    const items = this.tray.take(conversation);
    const attachments = items.map((i) => i.attachment);
    const clientId = newClientId();
    const frame = { type: "message.send", conversation, client_id: clientId, body, internal: this.noteMode };
    if (attachments.length) frame.attachments = attachments.map((a) => a.id);
    this.socket.sendMessage(frame);
    const node = el("div", {
      class: `msg msg-agent is-pending${this.noteMode ? " msg-note" : ""}`, dataset: { clientId },
    }, avatar(this.meName, `agent-${this.me}`, "avatar-sm"),
    el("div", { class: "bubble" },
      this.noteMode ? el("div", { class: "note-label" }, lockIcon(), t("message.note")) : null,
      el("div", { class: `body${body ? "" : " is-empty"}` }, body),
      this.files(attachments),
      el("div", { class: "msg-meta" }, el("span", { class: "who" }, t("message.you")),
        el("span", { class: "msg-state" }, this.socket.live ? t("message.sending") : t("message.waiting")))));
    this.pending.set(clientId, { conversation, seq: null, el: node, frame, items });
    this.log.querySelector(".transcript-empty")?.remove();
    this.log.append(node);
    this.scrollToBottom();
    this.composer.value = "";
    this.note("");
    this.closePicker();
    this.stopTyping();
    if (this.noteMode) this.setNoteMode(false); // a note is a one-off: the next message goes to the customer
  }

  /** The server stored a message we sent: drop its placeholder once the real one is shown. */
  acked(frame) {
    const pending = this.pending.get(frame.client_id);
    if (!pending) return;
    pending.seq = frame.seq;
    pending.el.classList.remove("is-failed");
    if (pending.conversation === this.id && this.transcript?.messages.has(frame.seq)) {
      pending.el.remove();
      this.pending.delete(frame.client_id);
    }
  }

  /**
   * The server refused a message we sent. A passing trouble (the database, a rate limit) offers Retry,
   * which sends the very same frame, client_id included, so it is stored once however often it goes.
   * Otherwise the message stays unsent and its files go back to the tray, to be sent again or removed.
   */
  refused(frame) {
    const pending = this.pending.get(frame.ref);
    if (!pending) return false;
    pending.el.classList.add("is-failed");
    const state = pending.el.querySelector(".msg-state");
    if (state) state.textContent = t("message.not_sent", { detail: frame.detail });
    pending.el.querySelector(".msg-retry")?.remove();
    if (RETRYABLE.has(frame.code)) {
      pending.el.querySelector(".msg-meta")?.append(el("button", {
        type: "button", class: "msg-retry", onclick: (event) => {
          event.currentTarget.remove();
          pending.el.classList.remove("is-failed");
          if (state) state.textContent = this.socket.live ? t("message.sending") : t("message.waiting");
          this.socket.sendMessage(pending.frame);
        },
      }, t("message.retry")));
      return true;
    }
    this.pending.delete(frame.ref);
    if (pending.items?.length) this.tray.restore(pending.conversation, pending.items);
    return true;
  }

  // ---- files ------------------------------------------------------------------------------

  /** A message's files, drawn (images open in the lightbox; a broken thumbnail asks for fresh links). */
  files(attachments) {
    return renderFiles(attachments, {
      onOpen: (file) => this.openLightbox(file),
      onBroken: () => this.id && this.onStaleLinks(this.id),
    });
  }

  bindFiles() {
    const input = $("attach-input");
    $("attach-button").addEventListener("click", () => {
      if (this.id) input.click();
    });
    input.addEventListener("change", () => {
      this.attach([...input.files]);
      input.value = ""; // the same file may be picked again
      this.composer.focus();
    });
    this.composer.addEventListener("paste", (event) => {
      const files = pastedFiles(event);
      if (!files.length) return;
      // A screenshot carries no text: keep the paste's text (if any) and attach its files too.
      if (!event.clipboardData?.getData("text/plain")) event.preventDefault();
      this.attach(files);
    });
    const zone = $("drop-zone");
    let depth = 0;
    this.root.addEventListener("dragenter", (event) => {
      if (!dragHasFiles(event) || !this.id) return;
      event.preventDefault();
      depth += 1;
      zone.hidden = false;
    });
    this.root.addEventListener("dragover", (event) => {
      if (!dragHasFiles(event) || !this.id) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    this.root.addEventListener("dragleave", (event) => {
      if (!dragHasFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (!depth) zone.hidden = true;
    });
    this.root.addEventListener("drop", (event) => {
      depth = 0;
      zone.hidden = true;
      if (!dragHasFiles(event) || !this.id) return;
      event.preventDefault();
      this.attach([...(event.dataTransfer?.files ?? [])]);
      this.composer.focus();
    });
    // Dropped next to the desk (not on a conversation), a file must not replace the page.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (event) => {
        if (dragHasFiles(event) && !event.defaultPrevented) event.preventDefault();
      });
    }
    $("lightbox-close").addEventListener("click", () => this.closeLightbox());
    $("file-lightbox").addEventListener("click", (event) => {
      if (event.target === event.currentTarget) this.closeLightbox(); // the backdrop
    });
  }

  attach(files) {
    if (!this.id || !files.length) return;
    this.note("");
    this.tray.add(this.id, files);
  }

  /** Redraw the tray (or just one upload's progress) when it belongs to the open conversation. */
  renderTray(conversation, item = null) {
    if (conversation !== this.id) return;
    const box = $("attachment-tray");
    const held = item && box.querySelector(`[data-key="${item.key}"]`);
    if (held && item.state === "uploading" && held.dataset.state === "uploading") {
      held.querySelector(".tray-progress")?.setAttribute("value", String(item.progress));
      const status = held.querySelector(".tray-status");
      if (status) status.textContent = FILE_TEXT.uploading(item.progress);
      return;
    }
    const focused = document.activeElement?.closest?.("#attachment-tray [data-key]")?.dataset.key;
    const focusedButton = document.activeElement?.classList?.contains("tray-retry") ? ".tray-retry"
      : document.activeElement?.classList?.contains("tray-remove") ? ".tray-remove" : null;
    const items = this.tray.list(conversation);
    const stick = this.nearBottom(); // the tray takes room from the transcript: keep its end in view
    box.replaceChildren(...items.map((i) => trayChip(i, {
      onRemove: (gone) => this.removeUpload(gone),
      onRetry: (again) => this.tray.retry(again),
    })));
    box.hidden = items.length === 0;
    box.setAttribute("aria-busy", items.some((i) => i.state === "uploading") ? "true" : "false");
    if (stick) this.scrollToBottom();
    if (focused) {
      const chip = box.querySelector(`[data-key="${focused}"]`);
      (focusedButton && chip?.querySelector(focusedButton)) ? chip.querySelector(focusedButton).focus() : chip?.focus();
    }
  }

  /** Remove an upload from the tray; focus moves to the next chip, else back to the composer. */
  removeUpload(item) {
    const chips = [...$("attachment-tray").querySelectorAll("[data-key]")];
    const at = chips.findIndex((c) => c.dataset.key === item.key);
    const hadFocus = chips[at]?.contains(document.activeElement);
    this.tray.remove(item);
    if (!hadFocus) return;
    const rest = [...$("attachment-tray").querySelectorAll("[data-key]")];
    (rest[Math.min(at, rest.length - 1)] ?? this.composer).focus();
  }

  /** A short line next to Send: why a send waits. */
  note(text) {
    $("composer-note").textContent = text;
  }

  openLightbox(file) {
    const box = $("file-lightbox");
    $("lightbox-title").textContent = file.name ?? "";
    const img = $("lightbox-image");
    img.alt = file.name ?? "";
    if (file.width && file.height) {
      img.width = file.width;
      img.height = file.height;
    }
    img.src = file.url;
    $("lightbox-open").href = file.url;
    if (!box.open) box.showModal();
  }

  closeLightbox() {
    const box = $("file-lightbox");
    if (box.open) box.close();
  }

  // ---- canned responses ---------------------------------------------------------------

  /** The "/word" being typed right before the caret, if any. */
  slashQuery() {
    const caret = this.composer.selectionStart;
    const before = this.composer.value.slice(0, caret);
    const match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { query: match[2].toLowerCase(), start: caret - match[2].length - 1 } : null;
  }

  async updatePicker() {
    const slash = this.slashQuery();
    if (!slash) return this.closePicker();
    const site = this.row?.site;
    const canned = (await this.loadCanned()).filter((c) => c.site == null || c.site === site);
    const again = this.slashQuery(); // the agent may have typed on while canned responses loaded
    if (!again) return this.closePicker();
    const q = again.query;
    const items = canned
      .filter((c) => c.shortcut.toLowerCase().includes(q) || c.text.toLowerCase().includes(q))
      .sort((a, b) => Number(!a.shortcut.startsWith(q)) - Number(!b.shortcut.startsWith(q)));
    this.picker = { open: true, items, at: 0, start: again.start };
    this.renderPicker();
    return undefined;
  }

  renderPicker() {
    const box = $("canned-picker");
    if (!this.picker.open) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    if (!this.picker.items.length) {
      box.replaceChildren(el("div", { class: "canned-empty" }, t("canned.none")));
      return;
    }
    box.replaceChildren(el("div", { class: "canned-title" }, t("canned.title")),
      ...this.picker.items.map((c, i) => el("div", {
        class: `canned-item${i === this.picker.at ? " is-active" : ""}`, role: "option",
        "aria-selected": i === this.picker.at ? "true" : "false", dataset: { shortcut: c.shortcut },
        onmousedown: (event) => {
          event.preventDefault(); // keep the composer focused
          this.insertCanned(c);
        },
      }, el("span", { class: "canned-key" }, `/${c.shortcut}`), el("span", { class: "canned-text" }, c.text))));
    box.querySelector(".is-active")?.scrollIntoView({ block: "nearest" });
  }

  insertCanned(canned) {
    if (!canned) return this.closePicker();
    const value = this.composer.value;
    const caret = this.composer.selectionStart;
    const start = this.picker.start;
    this.composer.value = value.slice(0, start) + canned.text + value.slice(caret);
    const at = start + canned.text.length;
    this.composer.setSelectionRange(at, at);
    this.closePicker();
    this.composer.focus();
    return undefined;
  }

  closePicker() {
    this.picker = { open: false, items: [], at: 0, start: 0 };
    $("canned-picker").hidden = true;
  }
}

/** "Rated 4/5 — “Quick and kind”". */
function ratedText(rating) {
  const comment = (rating.comment ?? "").trim();
  return comment ? t("conv.rated_comment", { score: rating.score, comment }) : t("conv.rated", { score: rating.score });
}

function botIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  for (const d of ["M7 9h10a3 3 0 0 1 3 3v4a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3v-4a3 3 0 0 1 3-3z", "M12 5v4", "M9 14h.01M15 14h.01"]) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

function lockIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon-inline");
  const rect = document.createElementNS(ns, "rect");
  for (const [k, v] of Object.entries({ x: 5, y: 10, width: 14, height: 10, rx: 2 })) rect.setAttribute(k, v);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", "M8 10V7a4 4 0 0 1 8 0v3");
  svg.append(rect, path);
  return svg;
}
