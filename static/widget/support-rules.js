/**
 * When the widget's support tools have something to show: the end of a resolved conversation and its
 * rating, and the "Get notified by email" bubble. Always loaded and small; the cards themselves
 * (support.js) load only once one is due, so opening the widget costs no more than before.
 */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** True for an address worth sending (the server validates it again). */
export function validEmail(text) {
  const value = String(text ?? "").trim();
  return value.length <= 254 && EMAIL.test(value);
}

/** Someone can answer now: within business hours and an agent online. */
export function teamAvailable(availability) {
  return Boolean(availability?.open && availability?.agents_online);
}

/** The conversation's stored rating as {score, comment}, or null. */
export function ratingOf(conversation) {
  const rating = conversation?.rating;
  if (!rating || !Number.isInteger(rating.score) || rating.score < 1 || rating.score > 5) return null;
  return { score: rating.score, comment: typeof rating.comment === "string" ? rating.comment : "" };
}

/**
 * What the transcript says about an email address: a handoff happened (a bot reply with
 * `meta.handoff`, or a system line — the server writes those only for handoffs), a person answered,
 * the bot dealt with an address in text (a reply with outcome `contact`: read, refused or skipped).
 */
export function emptyFacts() {
  return { handoff: false, agentAnswered: false, contactInText: false };
}

/** Fold one finished message into the facts; true when they changed. */
export function noteFacts(facts, message) {
  const kind = message?.author?.kind;
  const before = `${facts.handoff}${facts.agentAnswered}${facts.contactInText}`;
  if (kind === "agent") facts.agentAnswered = true;
  if (kind === "system" || (kind === "bot" && message.meta?.handoff === true)) facts.handoff = true;
  if (kind === "bot" && message.outcome === "contact") facts.contactInText = true;
  return before !== `${facts.handoff}${facts.agentAnswered}${facts.contactInText}`;
}

/**
 * Whether the server asks for an address in text already: a handoff while nobody can answer makes the
 * bot (or the handoff's system line) ask for one and read the next message for it (protocol §3.1).
 * The bubble on top would ask twice.
 */
export function askedInText(facts, availability) {
  return facts.contactInText || (facts.handoff && !teamAvailable(availability));
}

/**
 * Which email bubble to offer, or "": "away" when nobody could answer the first message, "queue" while
 * a handoff waits for a person; never without a conversation, with an address known, after Skip, once
 * resolved, or when the server asks in text.
 */
export function contactOffer({ conversation, visitor, availability, facts, offeredAway, skipped }) {
  if (!conversation || visitor?.email || skipped || conversation.status === "resolved") return "";
  if (askedInText(facts, availability)) return "";
  if (offeredAway) return "away";
  return conversation.owner === "queue" && !facts.agentAnswered ? "queue" : "";
}

/** What the support tools know of the conversation, the visitor and the team, as the frame tells it. */
export class SupportState {
  /** @param {{get: (name: string) => string | null, set: (name: string, value: string) => void}} store */
  constructor(store) {
    this.store = store;
    this.conversation = null;
    this.visitor = null;
    this.availability = null;
    this.facts = emptyFacts();
    this.offeredAway = false; // the first message went out while nobody could answer, before its conversation was known
  }

  /** Take new values (conversation, visitor, availability); true when the conversation is another one. */
  update(changes) {
    const before = this.conversation?.id ?? null;
    Object.assign(this, changes);
    const now = this.conversation?.id ?? null;
    if (!("conversation" in changes) || now === before) return false;
    this.facts = emptyFacts();
    // The first message of a visitor without a conversation: the offer belongs to the conversation it started.
    if (this.offeredAway && now != null) {
      if (before == null) this.store.set(`contact-offer:${now}`, "1");
      this.offeredAway = false;
    }
    return true;
  }

  /** Forget the visitor and its conversation. */
  reset() {
    this.update({ conversation: null, visitor: null });
    this.offeredAway = false;
  }

  /** A finished message of the current conversation; true when it changes what is offered. */
  noteMessage(message) {
    return message?.status !== "streaming" && noteFacts(this.facts, message);
  }

  /** The customer sends a message: the first one while nobody can answer earns the bubble. True when it does. */
  noteSend({ first }) {
    if (!first || teamAvailable(this.availability)) return false;
    const id = this.conversation?.id;
    if (id != null) this.store.set(`contact-offer:${id}`, "1");
    else this.offeredAway = true;
    return true;
  }

  /** Skip: no bubble again for this conversation, also after a reload. */
  skipContact() {
    const id = this.conversation?.id;
    if (id != null) this.store.set(`contact-skip:${id}`, "1");
    this.offeredAway = false;
  }

  /** The bubble due now: "away", "queue" or "". */
  contactOffer() {
    const id = this.conversation?.id;
    return contactOffer({
      conversation: this.conversation,
      visitor: this.visitor,
      availability: this.availability,
      facts: this.facts,
      offeredAway: this.offeredAway || (id != null && this.store.get(`contact-offer:${id}`) === "1"),
      skipped: id != null && this.store.get(`contact-skip:${id}`) === "1",
    });
  }

  get resolved() {
    return this.conversation?.status === "resolved";
  }

  /** Whether a card is due, so the cards' module must be there. */
  due() {
    return this.resolved || Boolean(this.contactOffer());
  }
}
