// @ts-check
/**
 * Reconnect and retry delays: exponential, capped, with jitter, so a crowd of widgets and desks
 * reconnecting after a server restart is spread out instead of arriving at once.
 */

/**
 * "full": anywhere in [0, ceiling), the widest spread (reconnects).
 * "equal": in [ceiling / 2, ceiling), never much shorter than planned (session retries).
 * @typedef {"full" | "equal"} Jitter
 */

/**
 * @typedef {object} BackoffOptions
 * @property {number} [base] the ceiling of the first attempt, in ms
 * @property {number} [max] the largest ceiling, in ms
 * @property {() => number} [random] a number in [0, 1); injectable for tests
 * @property {Jitter} [jitter]
 */

// 2 ** 30 times any base is past any sensible cap; the exponent is bounded so it stays finite.
const MAX_DOUBLINGS = 30;

/**
 * Delay before attempt number `attempt` (0-based), in whole milliseconds.
 * @param {number} attempt
 * @param {BackoffOptions} [options]
 * @returns {number}
 */
export function backoffDelay(attempt, { base = 500, max = 30000, random = Math.random, jitter = "full" } = {}) {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, MAX_DOUBLINGS));
  const share = jitter === "equal" ? 0.5 + random() / 2 : random();
  return Math.floor(share * ceiling);
}
