// @ts-check
/** What the widget's link and the server agree on (docs/protocol.md sections 3 and 7). */

/**
 * A frame as the server sends it: parsed JSON, checked field by field where it is used.
 * @typedef {Record<string, any>} Frame
 */

/** Close codes the server uses (protocol section 7) and one of our own. */
export const CLOSE = Object.freeze({
  // Daphne may only send 1000 or 3000-4999, so the server says 4009/4012 for the standard
  // 1009 (too big) and 1012 (restarting); any code but auth/forbidden means "reconnect".
  TOO_LARGE: 4009,
  RESTARTING: 4012,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  HELLO_TIMEOUT: 4408,
  RATE_LIMITED: 4429, // over a connection cap: reconnecting later (with backoff) is right
  HEARTBEAT: 4000, // ours: no frame within two heartbeats
});

/** Send errors worth retrying with the same client_id; any other send error drops the message. */
export const RETRYABLE = new Set(["rate_limited", "unavailable", "internal"]);

/**
 * A refusal's `retry_after` (seconds) in milliseconds; 0 when it has none or it is not a positive number.
 * @param {unknown} seconds
 * @returns {number}
 */
export function retryAfterMs(seconds) {
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 3600) * 1000 : 0;
}

/**
 * A frame from its JSON text, or null: the server only sends JSON objects, and a garbled
 * frame is better ignored than fatal.
 * @param {string} text
 * @returns {Frame | null}
 */
export function parseFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null;
  }
  return frame && typeof frame === "object" ? frame : null;
}
