// @ts-check
/** Named one-shot timers on an injectable clock: starting a name again replaces its timer. */

/** @typedef {(fn: () => void, ms: number) => unknown} SetTimer */
/** @typedef {(id: any) => void} ClearTimer */

export class Timers {
  /**
   * @param {SetTimer} setTimer
   * @param {ClearTimer} clearTimer
   */
  constructor(setTimer, clearTimer) {
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    /** @type {Map<string, unknown>} name -> the clock's timer id */
    this.pending = new Map();
  }

  /**
   * Run `fn` once after `ms`, replacing any timer of the same name.
   * @param {string} name
   * @param {number} ms
   * @param {() => void} fn
   */
  start(name, ms, fn) {
    this.clear(name);
    this.pending.set(name, this.setTimer(() => {
      this.pending.delete(name);
      fn();
    }, ms));
  }

  /**
   * Cancel the timer of that name, if one is pending.
   * @param {string} name
   */
  clear(name) {
    if (!this.pending.has(name)) return;
    this.clearTimer(this.pending.get(name));
    this.pending.delete(name);
  }

  /**
   * True while the timer of that name has neither run nor been cleared.
   * @param {string} name
   * @returns {boolean}
   */
  has(name) {
    return this.pending.has(name);
  }
}
