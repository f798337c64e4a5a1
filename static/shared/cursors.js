// @ts-check
/**
 * Cursors "S.I" (docs/protocol.md section 2): the seq of the last message a client holds and,
 * for a bot reply, the index of its last delta. The widget and the desk resume from them.
 */

/** @typedef {{seq: number, index: number}} Cursor */

// At most ten digits each, as the server writes them; anything else is not a cursor.
const CURSOR = /^(\d{1,10})\.(\d{1,10})$/;

/**
 * Read a cursor "S.I" into numbers; anything malformed is the start, "0.0".
 * @param {unknown} text
 * @returns {Cursor}
 */
export function parseCursor(text) {
  const match = CURSOR.exec(typeof text === "string" ? text : "");
  return match ? { seq: Number(match[1]), index: Number(match[2]) } : { seq: 0, index: 0 };
}

/**
 * Write a cursor back as "S.I".
 * @param {Cursor} cursor
 * @returns {string}
 */
export function formatCursor(cursor) {
  return `${cursor.seq}.${cursor.index}`;
}

/**
 * Order two cursors: negative when `a` is before `b`, zero when equal, positive when after.
 * @param {Cursor} a
 * @param {Cursor} b
 * @returns {number}
 */
export function compareCursors(a, b) {
  return a.seq - b.seq || a.index - b.index;
}

/**
 * True when cursor `mine` is before cursor `theirs`: the client misses something the server has.
 * @param {Cursor} mine
 * @param {Cursor} theirs
 * @returns {boolean}
 */
export function isBehind(mine, theirs) {
  return compareCursors(mine, theirs) < 0;
}
