/**
 * The chat UI inside the widget iframe: starts the visitor session, drives the Connection,
 * and keeps the header, transcript, composer, typing, "Seen", unread count and connection
 * status in step with it. Talks to the host page's loader only through HostBridge.
 */

import { backoffDelay } from "../shared/backoff.js";
import { HostBridge } from "./bridge.js";
import { Connection } from "./connection.js";
import { intlLocale, pickLanguage, translator } from "./i18n.js";
import { sparkleIcon } from "./icons.js";
import { SessionError, frameStorage, sessionRevoke, sessionStart, socketUrl } from "./session.js";
import { SupportState } from "./support-rules.js";
import { TranscriptView } from "./transcript-view.js";

const INIT_WAIT_MS = 3000; // an embedded frame waits this long for the loader's identity before starting anonymously
const TYPING_IDLE_MS = 4000; // the customer counts as typing until this long after the last keystroke
const AGENT_TYPING_TTL_MS = 8000; // hide an agent's typing if its "stopped" never arrives
const NOTICE_MS = 6000;
// While the chat is open and in view, whether the team is around is asked again this often (a closed or
// hidden widget asks nothing: thousands of idle pages would otherwise poll).
const STATUS_REFRESH_MS = 20000;
// Equal jitter: a retry never comes much sooner than planned, while a crowd is still spread out.
const SESSION_RETRY = { base: 500, max: 15000, jitter: "equal" };
// A revocation that cannot get through now is kept in storage and tried again on the next boot.
const REVOKE_ATTEMPTS = 4;
// Storage keys of ours that the loader does not use too (a same-origin host page shares the `parley:<site>:` prefix).
const RESET_KEY = "visitor-reset"; // written on reset: a `storage` event tells this browser's other frames
const REVOKE_KEY = "revoke"; // a token a reset has yet to revoke
const MAX_BODY = 4000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("parley-config").textContent);
const language = pickLanguage(config.site_language, navigator.language);
const t = translator(language);
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class WidgetApp {
  constructor() {
    this.store = frameStorage(`parley:${config.key}`);
    this.bridge = new HostBridge(config.parent_origin);
    this.view = new TranscriptView({ root: $("transcript"), scroller: $("scroll"), t, locale: intlLocale(language) });
    this.connection = null;
    this.visitor = null;
    this.identity = null;
    this.token = this.store.get("token") || "";
    this.open = !this.bridge.active; // a frame opened on its own is always showing
    this.availability = { open: config.open, agents_online: config.agents_online, at: Date.now() };
    this.conversation = null;
    this.readSeq = 0;
    this.agentReadSeq = 0;
    this.unread = -1;
    this.streaming = new Map(); // reply id -> has text yet
    this.agentTyping = null;
    this.typingActive = false;
    this.timers = {};
    this.announcedConversation = false;
    this.identifyLater = false;
    this.handoffAsked = false; // until the conversation's owner changes, don't offer a person twice
    this.work = Promise.resolve(); // session changes (boot, identify, reset) run one at a time, in order
    // The support tools: what they know is always kept; their cards (support.js) load once one is due.
    this.supportState = new SupportState(this.store);
    this.supportState.update({ availability: this.availability });
    this.supportView = null;
    this.supportLoading = null;
    this.tray = null; // attachments.js's, loaded once a file is attached or shown
    this.filesLoading = null;
    this.view.needFiles = () => this.loadFiles().catch((error) => console.error("parley:", error));
  }

  /** Run `fn` after the session changes queued before it; a failure is logged and does not stop the queue. */
  enqueue(fn) {
    this.work = this.work.then(fn).catch((error) => console.error("parley:", error));
    return this.work;
  }

  async boot() {
    translateStatic();
    this.bindUi();
    this.renderPresence();
    let init = null;
    if (this.bridge.active) {
      init = await this.waitForInit();
      this.identity = validIdentity(init?.identity);
      this.setOpen(Boolean(init?.open), Boolean(init?.focus));
    } else {
      this.setOpen(true, true);
    }
    // Another tab of this browser reset the visitor (its frame shares this storage): follow it.
    window.addEventListener("storage", (event) => {
      if (event.key === this.store.key(RESET_KEY)) this.enqueue(() => this.restartAnonymous());
    });
    await this.enqueue(async () => {
      // Parley.reset() was called while no frame was there to hear it (or a page left before it finished).
      if (init?.reset) this.forgetVisitor();
      await this.revokePending();
      if (await this.startSession()) this.startConnection();
      if (init?.reset) this.bridge.post("reset");
    });
    if (this.identifyLater && this.connection) await this.startSession();
    document.body.dataset.ready = "true";
  }

  waitForInit() {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), INIT_WAIT_MS);
      this.bridge.on("init", (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      this.bridge.on("visibility", (data) => this.setOpen(Boolean(data.open), Boolean(data.focus)));
      this.bridge.on("identify", (data) => this.enqueue(() => this.identify(data)));
      this.bridge.on("reset", () => this.enqueue(() => this.reset()));
      this.bridge.post("ready", {
        lang: language, title: document.title, labels: { open: t("launcher.open"), close: t("launcher.close") },
      });
    });
  }

  // ---- session --------------------------------------------------------------------

  /** Start or refresh the visitor; retried with backoff while the network is down. */
  async startSession({ contact = null } = {}) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const answer = await sessionStart({
          url: `/api/widget/${encodeURIComponent(config.key)}/session`,
          token: this.token, pageUrl: config.page_url, identity: this.identity, contact,
        });
        this.adoptSession(answer);
        return true;
      } catch (error) {
        if (error instanceof SessionError && error.code === "identity_rejected" && this.identity) {
          console.warn("parley: identify() was refused (user hash does not match); continuing anonymously");
          this.identity = null;
          continue;
        }
        if (error instanceof SessionError && error.status < 500 && error.status !== 429) {
          if (contact) throw error;
          this.showStatus("closed", error.code === "origin_not_allowed" ? "forbidden" : null);
          return false;
        }
        // Offline at boot with a stored token: the connection retries on its own.
        if (this.token && !this.connection) return true;
        this.showStatus(navigator.onLine === false ? "offline" : "reconnecting");
        await delay(backoffDelay(attempt, SESSION_RETRY));
      }
    }
  }

  adoptSession(answer) {
    const visitorId = String(answer.visitor?.id ?? "");
    const switched = visitorId !== (this.store.get("visitor") ?? "");
    if (switched) this.forgetConversation();
    this.store.set("visitor", visitorId);
    this.token = answer.visitor_token;
    this.store.set("token", this.token);
    this.visitor = answer.visitor;
    this.supportChanged({ visitor: this.visitor });
    if (answer.availability) this.setAvailability(answer.availability);
    if (this.connection) {
      if (switched) this.restartConnection();
      else this.connection.setToken(this.token);
    }
    this.renderPrechat();
  }

  /** Drop what this frame stored about the previous visitor's conversation. */
  forgetConversation() {
    for (const name of ["conn:state", "conn:outbox"]) this.store.remove(name);
  }

  /** The host page named (or forgot) its signed-in user: a session for that identity, maybe another visitor. */
  async identify(data) {
    this.identity = validIdentity(data);
    if (this.connection) await this.startSession();
    else this.identifyLater = true; // boot's session may already be under way with the old identity
  }

  async reauthenticate() {
    this.token = "";
    this.store.remove("token");
    await this.startSession();
  }

  /**
   * Parley.reset(): the host page's user logged out. Every token of this visitor is revoked (other
   * tabs and devices, open sockets and streams included), the frame forgets it, and an anonymous
   * visitor starts; an account's history needs the identity hash again.
   */
  async reset() {
    this.identity = null;
    this.identifyLater = false;
    this.forgetVisitor();
    await this.revokePending();
    if (await this.startSession()) this.startConnection();
    this.bridge.post("reset");
  }

  /** Forget the visitor here and in storage: its token is kept only to be revoked; the other tabs follow. */
  forgetVisitor() {
    if (this.token) this.store.set(REVOKE_KEY, this.token);
    this.dropVisitor();
    for (const name of ["token", "visitor"]) this.store.remove(name);
    this.forgetConversation();
    this.store.set(RESET_KEY, String(Date.now())); // last: the other frames follow once the token is gone
  }

  /**
   * Another tab reset the visitor and revokes its tokens: start again as whoever that tab stored next,
   * without the identity this page gave us (the page may not know yet that its user logged out).
   */
  async restartAnonymous() {
    this.identity = null;
    this.identifyLater = false;
    this.dropVisitor();
    this.token = this.store.get("token") || "";
    if (await this.startSession()) this.startConnection();
  }

  /** Let go of the visitor in this frame: its token, connection and what is on screen. */
  dropVisitor() {
    this.token = "";
    this.visitor = null;
    if (this.connection) {
      this.connection.close();
      this.connection = null;
    }
    this.view.clear();
    this.streaming.clear();
    this.conversation = null;
    this.readSeq = 0;
    this.agentReadSeq = 0;
    this.announcedConversation = false;
    this.handoffAsked = false;
    this.supportState.reset();
    this.supportChanged({}, true);
    this.refreshUnread(); // nothing left unread: the host page's badge goes
  }

  /** Revoke the token a reset left behind; kept for the next boot while the server cannot be reached. */
  async revokePending() {
    const token = this.store.get(REVOKE_KEY);
    if (!token) return;
    for (let attempt = 0; attempt < REVOKE_ATTEMPTS; attempt += 1) {
      try {
        await sessionRevoke({ url: `/api/widget/${encodeURIComponent(config.key)}/session/revoke`, token });
        break; // revoked now, or it was dead already
      } catch (error) {
        if (error instanceof SessionError && error.status < 500 && error.status !== 429) break; // would never pass
        if (attempt + 1 === REVOKE_ATTEMPTS) return;
        await delay(backoffDelay(attempt, SESSION_RETRY));
      }
    }
    this.store.remove(REVOKE_KEY);
  }

  // ---- the connection ----------------------------------------------------------------

  startConnection() {
    const connection = new Connection({
      url: socketUrl(), token: this.token, sseBase: location.origin, storage: this.store.raw,
      storageKey: `parley:${config.key}:conn`, maxBody: MAX_BODY,
    });
    this.connection = connection;
    const mine = (fn) => (payload) => {
      if (this.connection === connection) fn(payload);
    };
    connection.on("state", mine((event) => this.showStatus(event.state, event.reason)));
    connection.on("conversation", mine((event) => this.onConversation(event.conversation, event.switched)));
    connection.on("message", mine((event) => this.onMessage(event.message)));
    connection.on("outbox", mine((event) => this.view.setPending(event.pending)));
    connection.on("typing", mine((event) => this.onTyping(event)));
    connection.on("read", mine((event) => this.onRead(event)));
    connection.on("error", mine((event) => this.onError(event)));
    connection.on("auth", mine(() => this.reauthenticate()));
    connection.on("welcome", mine((event) => this.onVisitor(event.visitor)));
    connection.on("visitor", mine((event) => {
      this.onVisitor(event.visitor);
      this.supportView?.contactSaved(this.visitor);
    }));
    connection.on("transcript", mine((event) => this.onTranscriptQueued(event)));
    if (connection.conversation) this.onConversation(connection.conversation, false);
    for (const message of connection.transcript()) this.onMessage(message);
    this.view.setPending(connection.pending());
    connection.connect();
  }

  restartConnection() {
    this.connection.close();
    this.connection = null;
    this.view.clear();
    this.streaming.clear();
    this.conversation = null;
    this.supportState.reset();
    this.supportChanged({}, true);
    this.startConnection();
  }

  onConversation(conversation, switched) {
    if (switched) {
      this.view.clear();
      this.streaming.clear();
      this.readSeq = 0;
      this.agentReadSeq = 0;
    }
    const ownerChanged = conversation?.owner !== this.conversation?.owner;
    if (ownerChanged || switched) this.handoffAsked = false;
    this.conversation = conversation;
    this.supportChanged({ conversation });
    if (ownerChanged && conversation && !switched) this.refreshAvailability(); // an agent may have come online
    if (conversation) $("transcript").dataset.conversation = String(conversation.id);
    else delete $("transcript").dataset.conversation;
    if (!conversation) {
      this.renderControls();
      this.renderPresence();
      return;
    }
    const stored = Number(this.store.get(`read:${conversation.id}`)) || 0;
    this.readSeq = Math.max(this.readSeq, stored, conversation.customer_read_seq ?? 0);
    this.agentReadSeq = Math.max(this.agentReadSeq, conversation.agent_read_seq ?? 0);
    this.view.setSeen(this.agentReadSeq);
    if (!this.announcedConversation) {
      this.announcedConversation = true;
      this.bridge.post("conversation", { active: true });
    }
    this.renderControls();
    this.renderPresence();
    this.refreshUnread();
  }

  onMessage(message) {
    this.view.upsert(message);
    if (this.supportState.noteMessage(message)) this.supportChanged();
    if (message.author?.kind === "bot") {
      if (message.status === "streaming") this.streaming.set(message.id, Boolean(message.body));
      else this.streaming.delete(message.id);
      this.renderControls();
      this.renderTyping();
    }
    if (message.author?.kind === "agent") this.setAgentTyping(null);
    if (message.author?.kind === "customer") this.view.setSeen(this.agentReadSeq);
    this.refreshUnread();
  }

  onTyping({ author, active }) {
    if (author?.kind !== "agent") return;
    this.setAgentTyping(active ? author.name || t("typing.someone") : null);
  }

  setAgentTyping(name) {
    clearTimeout(this.timers.agentTyping);
    this.agentTyping = name;
    if (name) this.timers.agentTyping = setTimeout(() => this.setAgentTyping(null), AGENT_TYPING_TTL_MS);
    this.renderTyping();
  }

  onRead({ by, seq }) {
    if (by !== "agent" || !Number.isInteger(seq)) return;
    this.agentReadSeq = Math.max(this.agentReadSeq, seq);
    this.view.setSeen(this.agentReadSeq);
  }

  onError({ code, detail, ref, retrying, files }) {
    if (this.supportView?.refused({ code, ref })) {
      if (ref === "rating.submit" && code === "not_resolved") this.connection?.requestResume(); // our view of it is stale
    } else if (code === "unsupported" && ref === "handoff.request") {
      this.postHandoff();
    } else if (ref === "reply.feedback") {
      this.notice(t("feedback.failed"));
    } else if (code === "too_long" && !files) {
      this.notice(t("error.too_long", { max: MAX_BODY }));
    } else if (code === "rate_limited") {
      this.notice(t("error.rate_limited"));
    } else if (code === "forbidden") {
      this.showStatus("closed", "forbidden");
    } else if (ref && ref !== "hello" && ref !== "resume" && !retrying && code !== "empty") {
      this.notice(t("message.not_sent", { reason: detail || code }));
    }
  }

  /** Over SSE there is no socket frame for a handoff: the same request goes over HTTP. */
  async postHandoff() {
    try {
      const response = await fetch("/api/widget/handoff", {
        method: "POST", headers: { Authorization: `Bearer ${this.token}`, Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    } catch {
      this.handoffAsked = false; // it did not go through: offer it again
      this.renderControls();
      this.notice(t("error.generic"));
    }
  }

  /** The visitor as the server last described it (welcome, contact.saved). */
  onVisitor(visitor) {
    if (!visitor || typeof visitor !== "object") return;
    this.visitor = { ...(this.visitor ?? {}), ...visitor };
    this.supportChanged({ visitor: this.visitor });
  }

  /** The transcript is queued; an address given for it is now the visitor's, if it had none. */
  onTranscriptQueued({ conversation, email }) {
    if (email && this.visitor && !this.visitor.email) this.onVisitor({ email, email_confirmed: false });
    this.supportView?.transcriptQueued({ conversation, email });
  }

  // ---- support tools: the end and rating, the email bubble, the transcript by email ----------

  /**
   * Tell the support tools what changed; the cards follow, loading their module when one is due.
   * @param {object} [changes]  new conversation, visitor or availability
   * @param {boolean} [switched]  forget what the cards were doing (another visitor)
   */
  supportChanged(changes = {}, switched = false) {
    const other = this.supportState.update(changes) || switched;
    if (this.supportView) {
      if (other) this.supportView.switched();
      this.supportView.render();
    } else if (this.supportState.due()) {
      this.loadSupport().catch((error) => console.error("parley:", error));
    }
  }

  /** attachments.js, loaded once: the composer's tray, the transcript's files. */
  loadFiles() {
    this.filesLoading ??= import("./attachments.js").then(({ setUp }) => (this.tray = setUp({
      t, root: $("tray"), view: this.view, token: () => this.token, notice: (text) => this.notice(text),
      reauthenticate: () => this.enqueue(() => this.reauthenticate()), refreshLinks: (ms) => this.connection?.refreshLinks(ms),
    }))).catch((error) => {
      this.filesLoading = null;
      throw error;
    });
    return this.filesLoading;
  }

  /** Paperclip, paste and drop on the panel: files upload at once. */
  bindFiles() {
    const input = $("attach-input");
    const panel = document.querySelector(".widget");
    const attach = (list) => {
      const files = [...(list ?? [])]; // now: the input's list empties when it is reset
      if (files.length && $("prechat").hidden) this.loadFiles().then((tray) => tray.add(files), () => this.notice(t("error.generic")));
    };
    $("attach").onclick = () => input.click();
    input.onchange = () => {
      attach(input.files);
      input.value = "";
    };
    document.addEventListener("paste", (event) => {
      const data = event.clipboardData;
      if (data?.files.length && !data.types.includes("text/plain")) event.preventDefault();
      attach(data?.files);
    });
    panel.dataset.drop = t("files.drop");
    for (const type of ["dragenter", "dragover", "dragleave", "drop"]) {
      panel.addEventListener(type, (event) => {
        if (!event.dataTransfer?.types.includes("Files")) return;
        event.preventDefault();
        if (type === "dragenter") this.loadFiles().catch(() => {}); // its stylesheet draws the drop zone
        if (type !== "dragleave" || !panel.contains(event.relatedTarget)) document.body.toggleAttribute("data-dropping", type === "dragenter" || type === "dragover");
        if (type === "drop") attach(event.dataTransfer.files);
      });
    }
  }

  /** The cards' module, loaded once (it is not needed to open the widget, only when a card is due). */
  loadSupport() {
    this.supportLoading ??= import("./support.js").then(({ SupportView }) => {
      this.supportView = new SupportView({
        state: this.supportState, root: $("support"), t,
        actions: {
          rate: (id, score, comment) => Boolean(this.connection?.rate(id, score, comment)),
          setContact: (email) => Boolean(this.connection?.setContact(email)),
          emailTranscript: (id, email) => Boolean(this.connection?.emailTranscript(id, email)),
          notice: (text) => this.notice(text),
          focusComposer: () => this.focusInput(),
          nearBottom: () => this.view.nearBottom(),
          scrollToEnd: () => this.view.scrollToEnd(),
        },
      });
      this.supportView.render();
      return this.supportView;
    }).catch((error) => {
      this.supportLoading = null; // a network hiccup: the next change tries again
      throw error;
    });
    return this.supportLoading;
  }

  // ---- unread and read receipts ----------------------------------------------------

  get visible() {
    return this.open && document.visibilityState === "visible";
  }

  /**
   * Everything the bot or an agent wrote after what the customer has seen. While the frame
   * shows, what is there counts as seen — except a reply still streaming: if the customer
   * closes the widget before it ends, it is unread.
   */
  refreshUnread() {
    const messages = this.view.messages();
    let seen = 0;
    for (const element of messages) {
      if (element.dataset.status === "streaming") break;
      seen = Number(element.dataset.seq);
    }
    if (this.visible && seen > this.readSeq && this.conversation) {
      this.readSeq = seen;
      this.store.set(`read:${this.conversation.id}`, String(seen));
      this.connection?.markRead(seen);
    }
    const unread = messages.filter((element) => {
      const author = element.dataset.author;
      const finished = element.dataset.status !== "streaming";
      return (author === "bot" || author === "agent") && finished && Number(element.dataset.seq) > this.readSeq;
    }).length;
    if (unread !== this.unread) {
      this.unread = unread;
      this.bridge.post("unread", { count: unread });
    }
  }

  setOpen(open, focus) {
    this.open = open;
    document.body.dataset.open = String(open);
    if (!open) return;
    this.connection?.refreshLinks();
    this.view.scrollToEnd();
    this.refreshUnread();
    this.refreshAvailabilityIfOld();
    if (focus) this.focusInput();
  }

  focusInput() {
    const target = $("prechat").hidden ? $("composer") : $("prechat-name");
    target.focus({ preventScroll: true });
  }

  // ---- availability and header ------------------------------------------------------

  refreshAvailabilityIfOld() {
    if (Date.now() - this.availability.at >= STATUS_REFRESH_MS) void this.refreshAvailability();
  }

  async refreshAvailability() {
    try {
      const response = await fetch(`/api/widget/${encodeURIComponent(config.key)}/status`, { cache: "no-store" });
      if (response.ok) this.setAvailability(await response.json());
    } catch {
      /* keep the last answer */
    }
  }

  setAvailability({ open, agents_online: agentsOnline }) {
    this.availability = { open: Boolean(open), agents_online: Boolean(agentsOnline), at: Date.now() };
    this.renderPresence();
    this.supportChanged({ availability: this.availability });
  }

  renderPresence() {
    const { open, agents_online: online } = this.availability;
    // Once resolved nobody is on the line any more: the header speaks for the team again.
    const owner = this.conversation?.status === "resolved" ? null : this.conversation?.owner;
    let text;
    if (owner === "agent" && this.conversation.assignee?.name) text = t("presence.agent", { name: this.conversation.assignee.name });
    else if (owner === "queue") text = online && open ? t("presence.queue") : t("presence.away");
    else if (!open) text = t("presence.away");
    else if (online) text = t("presence.online");
    else text = config.bot_enabled ? t("presence.bot") : t("presence.later");
    $("presence-text").textContent = text;
    $("presence").dataset.available = String((open && online) || owner === "agent");
    $("away").hidden = open && !(owner === "queue" && !online);
  }

  // ---- controls ---------------------------------------------------------------------

  renderControls() {
    $("stop").hidden = this.streaming.size === 0;
    const owner = this.conversation?.owner ?? (config.bot_enabled ? "bot" : "queue");
    const canHandoff = config.bot_enabled && owner === "bot" && this.conversation?.status !== "resolved" && !this.handoffAsked;
    $("handoff").hidden = !canHandoff;
    this.view.setHandoffOpen(canHandoff);
  }

  renderTyping() {
    const typing = $("typing");
    const botThinking = [...this.streaming.values()].some((hasText) => !hasText);
    const stick = this.view.nearBottom();
    typing.replaceChildren();
    if (this.agentTyping) {
      typing.dataset.kind = "agent";
      const avatar = element("span", "typing-avatar", this.agentTyping.slice(0, 1).toUpperCase());
      avatar.setAttribute("aria-hidden", "true");
      typing.append(avatar, element("span", "typing-text", t("typing.agent", { name: this.agentTyping })), dots());
    } else if (botThinking) {
      typing.dataset.kind = "bot";
      typing.append(sparkleIcon(document, "typing-sparkle"), element("span", "typing-text", t("typing.bot", { name: t("author.bot") })));
    } else {
      delete typing.dataset.kind;
    }
    typing.hidden = !typing.dataset.kind;
    if (stick) this.view.scrollToEnd();
  }

  renderPrechat() {
    const needed = Boolean(config.ask_contact && this.visitor && !this.visitor.email);
    $("prechat").hidden = !needed;
    $("composer-form").hidden = needed;
    $("actions").hidden = needed;
  }

  showStatus(state, reason = null) {
    const status = $("status");
    status.dataset.state = state;
    const texts = {
      idle: "status.connecting", connecting: "status.connecting", reconnecting: "status.reconnecting",
      offline: "status.offline", closed: reason === "forbidden" ? "status.forbidden" : "status.closed",
    };
    status.textContent = texts[state] ? t(texts[state]) : "";
  }

  notice(text) {
    const box = $("notice");
    box.textContent = text;
    box.hidden = false;
    clearTimeout(this.timers.notice);
    this.timers.notice = setTimeout(() => {
      box.hidden = true;
    }, NOTICE_MS);
  }

  // ---- the composer and buttons ----------------------------------------------------

  bindUi() {
    const composer = $("composer");
    $("composer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    composer.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate is not a send.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.send();
      }
    });
    composer.addEventListener("input", () => {
      this.autosize();
      this.noteTyping(Boolean(composer.value.trim()));
    });
    $("stop").addEventListener("click", () => {
      for (const replyId of this.streaming.keys()) this.connection?.stop(replyId);
      composer.focus();
    });
    $("handoff").addEventListener("click", () => this.askForPerson());
    $("transcript").addEventListener("click", (event) => {
      const button = event.target.closest?.("button");
      if (button && $("transcript").contains(button)) this.onTranscriptButton(button);
    });
    $("prechat").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitPrechat();
    });
    this.bindMenu();
    $("close").hidden = !this.bridge.active;
    $("close").addEventListener("click", () => this.bridge.post("close"));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.bridge.active && !event.defaultPrevented) {
        event.preventDefault();
        this.bridge.post("close");
      }
    });
    document.addEventListener("visibilitychange", () => {
      this.refreshUnread();
      if (document.visibilityState === "visible") this.connection?.refreshLinks(); // links kept a while may have expired
      if (document.visibilityState === "visible" && this.bridge.active) this.refreshAvailabilityIfOld();
    });
    setInterval(() => {
      if (document.visibilityState === "visible" && this.bridge.active) this.refreshAvailabilityIfOld();
    }, STATUS_REFRESH_MS);
    this.bindFiles();
  }

  // ---- the menu ---------------------------------------------------------------------

  /** The header's menu button: a menu of actions, keyboard usable as the ARIA menu button pattern says. */
  bindMenu() {
    const button = $("menu-button");
    const menu = $("menu");
    const items = () => [...menu.querySelectorAll("[role=menuitem]")];
    button.addEventListener("click", () => (menu.hidden ? this.openMenu(0) : this.closeMenu(true)));
    button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.openMenu(event.key === "ArrowUp" ? -1 : 0);
      }
    });
    menu.addEventListener("keydown", (event) => {
      const list = items();
      const at = list.indexOf(document.activeElement);
      const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 };
      if (event.key in moves) {
        event.preventDefault();
        list[(moves[event.key] + list.length) % list.length].focus();
      } else if (event.key === "Escape") {
        event.preventDefault(); // closes the menu, not the widget
        this.closeMenu(true);
      } else if (event.key === "Tab") {
        this.closeMenu(false);
      }
    });
    menu.addEventListener("focusout", (event) => {
      if (!menu.hidden && !menu.contains(event.relatedTarget) && event.relatedTarget !== button) this.closeMenu(false);
    });
    document.addEventListener("pointerdown", (event) => {
      if (!menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) this.closeMenu(false);
    });
    $("menu-transcript").addEventListener("click", () => {
      this.closeMenu(false);
      this.loadSupport().then((view) => view.requestTranscript(), () => this.notice(t("transcript.failed")));
    });
  }

  /** @param {number} index  the item to focus; -1 the last */
  openMenu(index) {
    const menu = $("menu");
    $("menu-transcript").setAttribute("aria-disabled", String(!this.conversation));
    menu.hidden = false;
    $("menu-button").setAttribute("aria-expanded", "true");
    const list = [...menu.querySelectorAll("[role=menuitem]")];
    list.at(index)?.focus();
  }

  closeMenu(returnFocus) {
    $("menu").hidden = true;
    $("menu-button").setAttribute("aria-expanded", "false");
    if (returnFocus) $("menu-button").focus();
  }

  send() {
    const composer = $("composer");
    const tray = this.tray;
    if (tray && !tray.beforeSend(() => this.send())) return; // uploads still under way: it goes when they are done
    if (!this.sendText(composer.value, tray?.files() ?? [])) return;
    tray?.clear();
    composer.value = "";
    this.autosize();
    this.noteTyping(false);
  }

  /** Send a customer message; false when there is nothing to send or it is refused locally (the error says why). */
  sendText(text, files = []) {
    if ((!text.trim() && !files.length) || !this.connection) return false;
    const first = !this.connection.pending().length && !this.connection.transcript().some((m) => m.author?.kind === "customer");
    if (this.connection.send(text, files) == null) return false;
    if (this.supportState.noteSend({ first })) this.supportChanged();
    this.view.scrollToEnd();
    return true;
  }

  /** A 👍 / 👎 or a quick reply under a bot message. */
  onTranscriptButton(button) {
    if (button.dataset.helpful) {
      const replyId = Number(button.closest(".msg")?.dataset.id);
      if (Number.isInteger(replyId)) this.connection?.feedback(replyId, button.dataset.helpful === "true");
    } else if (button.dataset.quick === "human") {
      this.askForPerson();
    } else if (button.dataset.quick === "rephrase") {
      $("composer").focus();
    } else if (button.dataset.quick === "option") {
      this.sendText(button.textContent);
      $("composer").focus();
    }
  }

  /** "Talk to a person", from the footer or a quick reply: the same handoff.request either way. */
  askForPerson() {
    this.connection?.requestHuman();
    this.handoffAsked = true;
    this.renderControls();
    $("composer").focus();
  }

  noteTyping(active) {
    clearTimeout(this.timers.typing);
    if (active) this.timers.typing = setTimeout(() => this.noteTyping(false), TYPING_IDLE_MS);
    if (active !== this.typingActive || active) {
      this.typingActive = active;
      this.connection?.typing(active); // the server throttles repeats
    }
  }

  autosize() {
    const composer = $("composer");
    composer.style.height = "auto";
    composer.style.height = `${Math.min(composer.scrollHeight, 140)}px`;
  }

  async submitPrechat() {
    const name = $("prechat-name").value.trim();
    const email = $("prechat-email").value.trim();
    const error = $("prechat-error");
    if (!EMAIL.test(email)) {
      error.hidden = false;
      $("prechat-email").setAttribute("aria-invalid", "true");
      $("prechat-email").focus();
      return;
    }
    error.hidden = true;
    $("prechat-email").removeAttribute("aria-invalid");
    try {
      await this.startSession({ contact: { name, email } });
      this.focusInput();
    } catch {
      error.hidden = false;
    }
  }
}

/** Fill the template's run-time strings (data-i18n: text, data-i18n-label: aria-label and title) in our language. */
function translateStatic() {
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    node.title = t(node.dataset.i18nLabel);
  }
}

function validIdentity(data) {
  if (!data || typeof data !== "object") return null;
  const pick = (value) => (typeof value === "string" || typeof value === "number" ? String(value) : "");
  const identity = { userId: pick(data.userId), hash: pick(data.hash), name: pick(data.name), email: pick(data.email) };
  return identity.userId || identity.name || identity.email ? identity : null;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function dots() {
  const wrap = element("span", "dots");
  wrap.setAttribute("aria-hidden", "true");
  wrap.append(element("i", ""), element("i", ""), element("i", ""));
  return wrap;
}

new WidgetApp().boot();
