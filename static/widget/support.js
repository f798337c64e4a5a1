/**
 * The cards of the widget's support tools, under the transcript (docs/protocol.md, support tools): the
 * end of a resolved conversation with its 1–5 rating card, the "Get notified by email" bubble, and
 * "Email me this conversation". Loaded by the frame only once one is due (support-rules.js decides).
 * What the frame knows comes in a SupportState; this view keeps only what the customer is doing on a
 * card (the face picked, what is on its way), and calls back `rate`, `setContact` and `emailTranscript`.
 * Every text is set as textContent.
 */

import { ratingOf, validEmail } from "./support-rules.js";

const SCORES = [1, 2, 3, 4, 5];
const MAX_EMAIL = 254;
const MAX_COMMENT = 1000;
const SVG = "http://www.w3.org/2000/svg";
// Five faces, 1 (a frown) to 5 (a wide smile): one mouth each, the same eyes and outline.
const MOUTHS = {
  1: "M8 17.2c1.1-1.7 2.4-2.5 4-2.5s2.9.8 4 2.5",
  2: "M8.6 16.4c1-.9 2.1-1.3 3.4-1.3s2.4.4 3.4 1.3",
  3: "M8.6 15.6h6.8",
  4: "M8.4 14.2c1 1.5 2.2 2.2 3.6 2.2s2.6-.7 3.6-2.2",
  5: "M7.6 13.4h8.8c0 2.7-1.9 4.6-4.4 4.6s-4.4-1.9-4.4-4.6z",
};

/** A face for rating `score` (1–5), decorative: the button around it carries the name. */
export function faceIcon(doc, score) {
  const make = (tag, attributes) => {
    const node = doc.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  };
  const svg = make("svg", { viewBox: "0 0 24 24", "aria-hidden": "true", class: `face-icon face-${score}` });
  svg.appendChild(make("circle", { cx: "12", cy: "12", r: "9.5" }));
  for (const cx of ["9", "15"]) svg.appendChild(make("circle", { cx, cy: "9.8", r: "1.15", class: "face-eye" }));
  svg.appendChild(make("path", { d: MOUTHS[score] ?? MOUTHS[3], class: score === 5 ? "face-mouth face-mouth-open" : "face-mouth" }));
  return svg;
}

export class SupportView {
  /**
   * @param {object} options
   * @param {import("./support-rules.js").SupportState} options.state  what the frame knows
   * @param {HTMLElement} options.root  the container under the transcript
   * @param {(key: string, params?: object) => string} options.t
   * @param {{rate: Function, setContact: Function, emailTranscript: Function, notice: Function,
   *   focusComposer?: Function, nearBottom?: Function, scrollToEnd?: Function}} options.actions
   */
  constructor({ state, root, t, actions, doc = globalThis.document }) {
    this.state = state;
    this.root = root;
    this.t = t;
    this.actions = actions;
    this.doc = doc;
    this.ended = this.el("div", "ended");
    this.ended.hidden = true;
    this.ratingCard = null;
    this.contactCard = null;
    this.transcriptCard = null;
    this.switched();
    root.append(this.ended);
    root.addEventListener("click", (event) => this.onClick(event));
    root.addEventListener("submit", (event) => this.onSubmit(event));
    root.addEventListener("keydown", (event) => this.onKeydown(event));
  }

  /** Another conversation (or none): what was under way on the cards is over. */
  switched() {
    this.rating = { choice: 0, sending: false }; // the face picked on the card, and whether it went out
    this.contact = { sending: false, savedEmail: "" };
    this.transcript = null; // {step: "ask" | "sending" | "sent", email, typed: whether the customer typed it here}
    this.dropCard("ratingCard");
    this.dropCard("contactCard");
    this.dropCard("transcriptCard");
  }

  /** The server stored the visitor's address (contact.saved). */
  contactSaved(visitor) {
    this.contact.sending = false;
    if (this.contactCard && visitor?.email) this.contact.savedEmail = visitor.email;
    this.render(true);
  }

  /** The transcript is on its way (transcript.queued). */
  transcriptQueued({ conversation, email }) {
    if (conversation !== this.state.conversation?.id) return;
    this.transcript = { step: "sent", email };
    this.render(true);
  }

  /** A refusal of one of our frames; true when it was ours. */
  refused({ code, ref }) {
    if (ref === "rating.submit") {
      this.rating.sending = false;
      if (code === "not_resolved" || code === "not_found") {
        this.actions.notice(this.t(code === "not_resolved" ? "rating.not_resolved" : "rating.not_found"));
        this.dropCard("ratingCard"); // redrawn from the conversation's state, if it is resolved still
      } else {
        this.showError(this.ratingCard, this.t("rating.failed"));
      }
    } else if (ref === "contact.set") {
      this.contact.sending = false;
      this.showError(this.contactCard, this.t(code === "bad_request" ? "contact.invalid" : "contact.failed"));
    } else if (ref === "transcript.email") {
      if (code === "bad_request" && this.transcript) {
        // No address known to the server after all, or an unusable one: ask, with the reason only for one typed.
        const typed = this.transcript.typed;
        this.transcript = { step: "ask", email: "" };
        this.render(true);
        if (typed) this.showError(this.transcriptCard, this.t("contact.invalid"));
        else this.prefill(this.transcriptCard, this.state.visitor?.email ?? "");
      } else {
        this.transcript = null;
        this.actions.notice(this.t(code === "not_found" ? "transcript.empty" : "transcript.failed"));
      }
    } else {
      return false;
    }
    this.render();
    return true;
  }

  /** "Email me this conversation" from the menu. */
  requestTranscript() {
    const conversation = this.state.conversation;
    if (!conversation) {
      this.actions.notice(this.t("transcript.empty"));
      return;
    }
    const email = this.state.visitor?.email ?? "";
    if (email) {
      this.transcript = { step: "sending", email };
      if (!this.actions.emailTranscript(conversation.id)) this.transcript = null;
    } else {
      this.transcript = { step: "ask", email: "" };
    }
    this.render(true);
    this.focusIn(this.transcriptCard);
  }

  // ---- drawing --------------------------------------------------------------------------

  /** Draw what the state calls for; `focus` moves the focus to a card that changed while it was in it. */
  render(focus = false) {
    const stick = this.actions.nearBottom?.() ?? false;
    this.renderEnded();
    this.renderContact(focus);
    this.renderTranscript(focus);
    if (stick) this.actions.scrollToEnd?.();
  }

  renderEnded() {
    const conversation = this.state.conversation;
    const resolved = conversation?.status === "resolved";
    this.ended.hidden = !resolved;
    if (!resolved) {
      this.rating = { choice: 0, sending: false };
      this.dropCard("ratingCard");
      return;
    }
    if (!this.ended.firstChild) {
      const line = this.el("p", "ended-line");
      line.setAttribute("role", "status");
      line.append(this.el("span", "", this.t("ended.line")));
      this.ended.append(line);
    }
    const stored = ratingOf(conversation);
    const key = stored ? `done:${stored.score}:${stored.comment}` : "ask";
    if (this.ratingCard?.dataset.key === key) {
      if (!stored) this.fillRatingAsk();
      return;
    }
    const hadFocus = this.ratingCard?.contains(this.doc.activeElement);
    this.dropCard("ratingCard");
    this.ratingCard = stored ? this.ratingDone(stored) : this.ratingAsk();
    this.ratingCard.dataset.key = key;
    this.ended.append(this.ratingCard);
    if (stored) this.rating = { choice: stored.score, sending: false };
    else this.fillRatingAsk();
    if (hadFocus) this.focusIn(this.ratingCard);
  }

  ratingAsk() {
    const card = this.card("rating-card", "rating-title", this.t("rating.title"));
    card.dataset.state = "ask";
    const form = this.el("form", "card-form");
    form.noValidate = true;
    form.dataset.form = "rating";
    const faces = this.el("div", "faces");
    faces.setAttribute("role", "group");
    faces.setAttribute("aria-labelledby", "rating-title");
    for (const score of SCORES) {
      const button = this.el("button", "face");
      button.type = "button";
      button.dataset.score = String(score);
      button.setAttribute("aria-label", this.t(`rating.${score}`));
      button.title = this.t(`rating.${score}`);
      button.setAttribute("aria-pressed", "false");
      button.append(faceIcon(this.doc, score));
      faces.append(button);
    }
    const label = this.el("label", "card-label", this.t("rating.comment"));
    label.htmlFor = "rating-comment";
    const comment = this.el("textarea", "card-input rating-comment-input");
    comment.id = "rating-comment";
    comment.rows = 2;
    comment.maxLength = MAX_COMMENT;
    comment.placeholder = this.t("rating.comment_placeholder");
    const error = this.error("rating-error");
    const send = this.el("button", "card-primary", this.t("rating.send"));
    send.type = "submit";
    send.dataset.role = "send";
    form.append(faces, label, comment, error, send);
    card.append(form);
    return card;
  }

  /** The picked face and the Send button of the rating card, in place (the focus stays where it is). */
  fillRatingAsk() {
    const card = this.ratingCard;
    if (!card) return;
    for (const button of card.querySelectorAll(".face")) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.score) === this.rating.choice));
      button.disabled = this.rating.sending;
    }
    card.dataset.chosen = String(this.rating.choice || "");
    const send = card.querySelector("[data-role=send]");
    send.disabled = this.rating.sending;
    send.textContent = this.t(this.rating.sending ? "rating.sending" : "rating.send");
    card.querySelector("textarea").readOnly = this.rating.sending;
    card.setAttribute("aria-busy", String(this.rating.sending));
  }

  ratingDone({ score, comment }) {
    const card = this.el("section", "card rating-card");
    card.dataset.state = "done";
    card.dataset.score = String(score);
    const row = this.el("div", "rating-done");
    const face = this.el("span", "face face-chosen");
    face.append(faceIcon(this.doc, score));
    const text = this.el("div", "rating-done-text");
    const thanks = this.el("p", "card-title", this.t("rating.thanks"));
    thanks.setAttribute("role", "status");
    thanks.tabIndex = -1;
    text.append(thanks, this.el("p", "card-text", this.t("rating.given", { label: this.t(`rating.${score}`) })));
    row.append(face, text);
    card.append(row);
    if (comment) card.append(this.el("blockquote", "rating-comment", comment));
    return card;
  }

  renderContact(focus) {
    const state = this.state;
    const saved = this.contact.savedEmail;
    const offer = saved ? "saved" : state.contactOffer();
    const confirmed = Boolean(state.visitor?.email_confirmed);
    const key = offer === "saved" ? `saved:${saved}:${confirmed}` : offer;
    const card = this.contactCard;
    if ((card?.dataset.key ?? "") === key) {
      if (card && offer !== "saved") this.fillBusy(card, this.contact.sending, "contact.save", "contact.saving");
      return;
    }
    // A half-typed address is not taken away because an agent just answered.
    if (!key && card?.dataset.key !== "saved" && card?.querySelector("input")?.value) return;
    const hadFocus = card?.contains(this.doc.activeElement);
    this.dropCard("contactCard");
    if (!key) return;
    if (offer === "saved") {
      this.contactCard = this.confirmation("contact-card", this.t(confirmed ? "contact.saved_confirmed" : "contact.saved", { email: saved }));
    } else {
      this.contactCard = this.card("contact-card", "contact-title", this.t("contact.title"));
      this.contactCard.append(this.el("p", "card-text", this.t(offer === "queue" ? "contact.text_queue" : "contact.text")));
      this.contactCard.append(this.emailForm("contact", "contact.email", "contact.save", "contact.skip"));
    }
    this.contactCard.dataset.key = key;
    this.root.append(this.contactCard);
    if (hadFocus || (focus && offer === "saved")) this.focusIn(this.contactCard);
  }

  renderTranscript(focus) {
    const step = this.transcript?.step ?? "";
    const email = this.transcript?.email ?? "";
    const key = step ? `${step}:${email}` : "";
    if ((this.transcriptCard?.dataset.key ?? "") === key) return;
    const hadFocus = this.transcriptCard?.contains(this.doc.activeElement);
    this.dropCard("transcriptCard");
    if (!key) return;
    if (step === "ask") {
      this.transcriptCard = this.card("transcript-card", "transcript-title", this.t("transcript.title"));
      this.transcriptCard.append(this.el("p", "card-text", this.t("transcript.text")));
      this.transcriptCard.append(this.emailForm("transcript", "transcript.email", "transcript.send", "transcript.cancel"));
    } else {
      const text = step === "sent" ? this.t("transcript.sent", { email })
        : email ? this.t("transcript.sending", { email }) : this.t("transcript.sending_own");
      this.transcriptCard = this.confirmation("transcript-card", text, step === "sent");
      this.transcriptCard.dataset.state = step;
    }
    this.transcriptCard.dataset.key = key;
    this.root.append(this.transcriptCard);
    if (hadFocus || focus) this.focusIn(this.transcriptCard);
  }

  /** An email field with its label, inline error, a primary button and a secondary one. */
  emailForm(name, labelKey, primaryKey, secondaryKey) {
    const form = this.el("form", "card-form");
    form.noValidate = true;
    form.dataset.form = name;
    const label = this.el("label", "visually-hidden", this.t(labelKey));
    label.htmlFor = `${name}-email`;
    const row = this.el("div", "card-row");
    const input = this.el("input", "card-input");
    input.id = `${name}-email`;
    input.type = "email";
    input.autocomplete = "email";
    input.maxLength = MAX_EMAIL;
    input.required = true;
    input.placeholder = this.t("contact.placeholder");
    input.setAttribute("aria-describedby", `${name}-error`);
    const primary = this.el("button", "card-primary", this.t(primaryKey));
    primary.type = "submit";
    primary.dataset.role = "send";
    row.append(input, primary);
    const secondary = this.el("button", "card-link", this.t(secondaryKey));
    secondary.type = "button";
    secondary.dataset.action = `${name}-dismiss`;
    form.append(label, row, this.error(`${name}-error`), secondary);
    return form;
  }

  card(className, titleId, title) {
    const card = this.el("section", `card ${className}`);
    card.setAttribute("aria-labelledby", titleId);
    const heading = this.el("p", "card-title", title);
    heading.id = titleId;
    card.append(heading);
    return card;
  }

  /** A card that only says something happened (saved, sent), with a way to dismiss it. */
  confirmation(className, text, dismissable = true) {
    const card = this.el("section", `card card-done ${className}`);
    card.dataset.state = "done";
    const line = this.el("p", "card-text", text);
    line.setAttribute("role", "status");
    line.tabIndex = -1;
    card.append(line);
    if (dismissable) {
      const close = this.el("button", "card-close");
      close.type = "button";
      close.dataset.action = "dismiss";
      close.setAttribute("aria-label", this.t("transcript.dismiss"));
      close.title = this.t("transcript.dismiss");
      close.textContent = "×";
      card.append(close);
    }
    return card;
  }

  error(id) {
    const error = this.el("p", "card-error");
    error.id = id;
    error.hidden = true;
    return error;
  }

  showError(card, text) {
    const error = card?.querySelector(".card-error");
    if (!error) {
      this.actions.notice(text);
      return;
    }
    this.setError(error, text);
    const input = card.querySelector("input");
    input?.setAttribute("aria-invalid", "true");
    input?.focus();
  }

  /** Show an error line under a field, keeping the transcript at its end if it was there. */
  setError(error, text) {
    const stick = this.actions.nearBottom?.() ?? false;
    error.textContent = text;
    error.hidden = false;
    if (stick) this.actions.scrollToEnd?.();
  }

  /** Put a known address in a card's field, ready to send. */
  prefill(card, email) {
    const input = card?.querySelector("input");
    if (input && email) input.value = email;
  }

  fillBusy(card, busy, idleKey, busyKey) {
    const send = card.querySelector("[data-role=send]");
    if (!send) return;
    send.disabled = busy;
    send.textContent = this.t(busy ? busyKey : idleKey);
    card.setAttribute("aria-busy", String(busy));
  }

  dropCard(name) {
    this[name]?.remove();
    this[name] = null;
  }

  focusIn(card) {
    if (!card) return;
    const target = card.querySelector("input, [role=status][tabindex], textarea, button");
    target?.focus({ preventScroll: false });
  }

  el(tag, className, text) {
    const element = this.doc.createElement(tag);
    if (className) element.className = className;
    if (text != null) element.textContent = text;
    return element;
  }

  // ---- what the customer does ------------------------------------------------------------

  onClick(event) {
    const button = event.target.closest?.("button");
    if (!button || !this.root.contains(button)) return;
    if (button.dataset.score && !this.rating.sending) {
      this.rating.choice = Number(button.dataset.score);
      this.ratingCard?.querySelector(".card-error")?.setAttribute("hidden", "");
      this.fillRatingAsk();
    } else if (button.dataset.action === "contact-dismiss") {
      this.state.skipContact();
      this.render();
      this.actions.focusComposer?.();
    } else if (button.dataset.action === "transcript-dismiss" || (button.dataset.action === "dismiss" && button.closest(".transcript-card"))) {
      this.transcript = null;
      this.render();
      this.actions.focusComposer?.();
    } else if (button.dataset.action === "dismiss") {
      this.contact.savedEmail = "";
      this.render();
      this.actions.focusComposer?.();
    }
  }

  /** Arrow keys move between the faces, as in a radio group; Enter or Space picks one. */
  onKeydown(event) {
    const face = event.target.closest?.(".face");
    if (!face || !["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"].includes(event.key)) return;
    const faces = [...face.parentElement.querySelectorAll("button.face")];
    const at = faces.indexOf(face);
    const next = { ArrowLeft: at - 1, ArrowUp: at - 1, ArrowRight: at + 1, ArrowDown: at + 1, Home: 0, End: faces.length - 1 }[event.key];
    event.preventDefault();
    faces[(next + faces.length) % faces.length].focus();
  }

  onSubmit(event) {
    const form = event.target;
    if (!form?.dataset?.form) return;
    event.preventDefault();
    if (form.dataset.form === "rating") this.submitRating(form);
    else this.submitEmail(form);
  }

  submitRating(form) {
    const conversation = this.state.conversation;
    if (!conversation || this.rating.sending) return;
    if (!this.rating.choice) {
      this.setError(form.querySelector(".card-error"), this.t("rating.required"));
      form.querySelector(".face").focus();
      return;
    }
    form.querySelector(".card-error").hidden = true;
    const comment = form.querySelector("textarea").value;
    this.rating.sending = this.actions.rate(conversation.id, this.rating.choice, comment);
    this.fillRatingAsk();
  }

  submitEmail(form) {
    const input = form.querySelector("input");
    const error = form.querySelector(".card-error");
    const email = input.value.trim();
    if (!validEmail(email)) {
      this.setError(error, this.t("contact.invalid"));
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    if (form.dataset.form === "contact") {
      if (this.contact.sending) return;
      this.contact.sending = this.actions.setContact(email);
      if (this.contactCard) this.fillBusy(this.contactCard, this.contact.sending, "contact.save", "contact.saving");
    } else {
      const conversation = this.state.conversation;
      if (!conversation) return;
      this.transcript = { step: "sending", email, typed: true };
      if (!this.actions.emailTranscript(conversation.id, email)) this.transcript = { step: "ask", email: "" };
      this.render(true);
    }
  }
}
