// @ts-check
/**
 * What the connection keeps across reloads: the transcript with its conversation and visitor,
 * and the outbox. Storage may be missing, full or forbidden; the connection works without it.
 */

/**
 * sessionStorage-like: get returns a string, or null when nothing is stored.
 * @typedef {{get: (key: string) => unknown, set: (key: string, value: string) => void}} StorageLike
 */

/**
 * The saved transcript, version 1.
 * @typedef {object} SavedState
 * @property {any} visitor
 * @property {({id: number} & Record<string, any>) | null} conversation
 * @property {unknown[]} messages  checked entry by entry by the transcript
 */

const STATE_VERSION = 1;

export class ConnectionStore {
  /**
   * @param {StorageLike | null} storage
   * @param {string} key  the prefix of our keys, `${key}:state` and `${key}:outbox`
   */
  constructor(storage, key) {
    this.storage = storage;
    this.key = key;
  }

  /**
   * Save the transcript and its cursor together, so a reload resumes where this page was.
   * @param {{visitor: any, conversation: any, messages: unknown[]}} state
   */
  saveState({ visitor, conversation, messages }) {
    this.save("state", { v: STATE_VERSION, visitor, conversation, messages });
  }

  /**
   * The saved transcript, or null when there is none we can read.
   * @returns {SavedState | null}
   */
  loadState() {
    const state = this.load("state");
    if (!state || state.v !== STATE_VERSION) return null;
    return {
      visitor: state.visitor ?? null,
      conversation: state.conversation && Number.isInteger(state.conversation.id) ? state.conversation : null,
      messages: Array.isArray(state.messages) ? state.messages : [],
    };
  }

  /** @param {unknown[]} entries */
  saveOutbox(entries) {
    this.save("outbox", entries);
  }

  /**
   * The saved outbox, or null when there is none we can read.
   * @returns {unknown[] | null}
   */
  loadOutbox() {
    const outbox = this.load("outbox");
    return Array.isArray(outbox) ? outbox : null;
  }

  /**
   * @param {string} name
   * @param {unknown} value
   */
  save(name, value) {
    if (!this.storage) return;
    try {
      this.storage.set(`${this.key}:${name}`, JSON.stringify(value));
    } catch {
      /* storage full or forbidden: the connection still works, it just won't survive a reload */
    }
  }

  /**
   * @param {string} name
   * @returns {any}
   */
  load(name) {
    if (!this.storage) return null;
    try {
      const raw = this.storage.get(`${this.key}:${name}`);
      return typeof raw === "string" ? JSON.parse(raw) : raw ?? null;
    } catch {
      return null;
    }
  }
}
