// @ts-check
/** The smallest event emitter: `on` returns an unsubscribe function. */

/**
 * @template {Record<string, any>} Events  payload type by event name
 */
export class Emitter {
  constructor() {
    /** @type {Map<keyof Events, Set<(payload: any) => void>>} */
    this.listeners = new Map();
  }

  /**
   * Call `fn` with every `type` event's payload; returns the function that stops it.
   * @template {keyof Events} K
   * @param {K} type
   * @param {(payload: Events[K]) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    let listeners = this.listeners.get(type);
    if (!listeners) {
      listeners = new Set();
      this.listeners.set(type, listeners);
    }
    listeners.add(fn);
    return () => this.off(type, fn);
  }

  /**
   * Stop calling `fn` for `type`.
   * @template {keyof Events} K
   * @param {K} type
   * @param {(payload: Events[K]) => void} fn
   */
  off(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  /**
   * Call every listener of `type`, in the order they were added.
   * @template {keyof Events} K
   * @param {K} type
   * @param {Events[K]} payload
   */
  emit(type, payload) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) {
      try {
        fn(payload);
      } catch (err) {
        // A broken listener must not break the connection's own bookkeeping.
        console.error(`parley: a "${String(type)}" listener threw`, err);
      }
    }
  }
}
