// @ts-check
/**
 * Event types shared by the widget and the desk. The server keeps the same list in
 * chat/realtime/dedupe.py (tests/test_tracked_events.py checks that they agree).
 */

/**
 * Frames that belong to a transcript: deduplicated, gap-checked and replayed from a cursor.
 */
export const TRACKED_TYPES = Object.freeze(/** @type {const} */ ([
  "message.new",
  "reply.start",
  "reply.delta",
  "reply.snapshot",
  "reply.end",
]));

/** @typedef {typeof TRACKED_TYPES[number]} TrackedType */

/** @type {ReadonlySet<string>} */
export const TRACKED = new Set(TRACKED_TYPES);

/**
 * True when a frame of this type belongs to the transcript.
 * @param {unknown} type
 * @returns {type is TrackedType}
 */
export function isTracked(type) {
  return typeof type === "string" && TRACKED.has(type);
}
