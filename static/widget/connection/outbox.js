// @ts-check
/**
 * The customer's messages not yet acknowledged, oldest first. Each keeps its client_id across
 * retries and reloads, so the server stores it once however often it goes out.
 */

/**
 * @typedef {object} OutboxEntry
 * @property {string} client_id
 * @property {string} body
 * @property {string} [created_at]
 * @property {number[]} [attachments]  its files' ids
 * @property {FileNote[]} [files]
 */

/** @typedef {{id: number, name: string, type: string, size: number}} FileNote */

/**
 * @param {unknown} value
 * @returns {value is number[]}
 */
export function validIds(value) {
  return Array.isArray(value) && value.every((id) => Number.isInteger(id) && id > 0);
}

export class Outbox {
  constructor() {
    /** @type {OutboxEntry[]} oldest first */
    this.entries = [];
    /** @type {Set<string>} client_ids sent on the current link and not yet answered */
    this.inFlight = new Set();
    /** Failed sends in a row: the backoff attempt of the next retry. */
    this.attempt = 0;
  }

  /**
   * Take back entries saved earlier; the malformed ones are dropped.
   * @param {unknown[]} entries
   */
  restore(entries) {
    this.entries = /** @type {OutboxEntry[]} */ (entries.filter((e) => {
      const entry = /** @type {any} */ (e);
      return entry && typeof entry.client_id === "string" && typeof entry.body === "string"
        && (entry.attachments === undefined || validIds(entry.attachments));
    }));
  }

  /**
   * Queue a message behind the others.
   * @param {OutboxEntry} entry
   */
  add(entry) {
    this.entries.push(entry);
  }

  /**
   * The queued message with that client_id, or undefined.
   * @param {unknown} clientId
   */
  find(clientId) {
    return this.entries.find((e) => e.client_id === clientId);
  }

  /**
   * True while the message is queued (not yet acknowledged or dropped).
   * @param {OutboxEntry} entry
   */
  includes(entry) {
    return this.entries.includes(entry);
  }

  /**
   * The server stored it: unqueue it. False when it was not queued (the answer to a retry we already had).
   * @param {unknown} clientId
   * @returns {boolean}
   */
  acknowledge(clientId) {
    const at = this.entries.findIndex((e) => e.client_id === clientId);
    if (at < 0) return false;
    this.entries.splice(at, 1);
    this.inFlight.delete(/** @type {string} */ (clientId));
    this.attempt = 0;
    return true;
  }

  /**
   * The server refused it for good: forget it.
   * @param {OutboxEntry} entry
   */
  drop(entry) {
    this.entries = this.entries.filter((e) => e !== entry);
  }

  /** Copies of the queued messages, oldest first. */
  pending() {
    return this.entries.map((e) => ({ ...e, ...(e.attachments ? { attachments: [...e.attachments] } : {}) }));
  }

  /**
   * The oldest message not sent on the current link, or undefined.
   * @returns {OutboxEntry | undefined}
   */
  nextUnsent() {
    return this.entries.find((e) => !this.inFlight.has(e.client_id));
  }
}
