// Tests of static/shared/ (the modules both the widget and the desk import): `node --test tests/js/`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { backoffDelay } from "../../static/shared/backoff.js";
import { compareCursors, formatCursor, isBehind, parseCursor } from "../../static/shared/cursors.js";
import { TRACKED, TRACKED_TYPES, isTracked } from "../../static/shared/events.js";
import { newClientId } from "../../static/shared/ids.js";

describe("cursors", () => {
  test("parseCursor reads S.I; anything malformed is the start", () => {
    assert.deepEqual(parseCursor("12.3"), { seq: 12, index: 3 });
    assert.deepEqual(parseCursor("0.0"), { seq: 0, index: 0 });
    assert.deepEqual(parseCursor("9999999999.0"), { seq: 9999999999, index: 0 });
    for (const junk of ["", "1", "1.", ".1", "1.2.3", "-1.0", "1.-2", " 1.2", "1.2 ", "a.b", "1e3.0", "12345678901.0", null, undefined, 7, {}]) {
      assert.deepEqual(parseCursor(junk), { seq: 0, index: 0 }, String(junk));
    }
  });

  test("formatCursor writes back what parseCursor reads", () => {
    for (const text of ["0.0", "7.0", "12.3", "4000000000.41"]) assert.equal(formatCursor(parseCursor(text)), text);
  });

  test("cursors order by seq, then by index", () => {
    const ordered = ["0.0", "1.0", "1.1", "1.10", "2.0", "10.0"].map(parseCursor);
    for (let i = 0; i < ordered.length; i += 1) {
      for (let j = 0; j < ordered.length; j += 1) {
        assert.equal(Math.sign(compareCursors(ordered[i], ordered[j])), Math.sign(i - j), `${i} vs ${j}`);
        assert.equal(isBehind(ordered[i], ordered[j]), i < j, `${i} behind ${j}`);
      }
    }
  });

  test("numbers compare as numbers, not as text", () => {
    assert.equal(isBehind(parseCursor("9.0"), parseCursor("10.0")), true);
    assert.equal(isBehind(parseCursor("3.9"), parseCursor("3.10")), true);
  });
});

describe("backoff", () => {
  test("full jitter: exponential ceilings, capped, scaled by the random roll", () => {
    const half = { base: 500, max: 30000, random: () => 0.5 };
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 40].map((a) => backoffDelay(a, half)),
      [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
    assert.equal(backoffDelay(3, { base: 500, max: 30000, random: () => 0 }), 0);
    assert.equal(backoffDelay(3, { base: 500, max: 30000, random: () => 0.999 }), 3996);
  });

  test("equal jitter stays within [ceiling / 2, ceiling)", () => {
    const at = (roll, attempt) => backoffDelay(attempt, { base: 500, max: 15000, random: () => roll, jitter: "equal" });
    assert.deepEqual([0, 1, 2, 5, 6, 50].map((a) => at(0, a)), [250, 500, 1000, 7500, 7500, 7500]);
    assert.deepEqual([0, 1, 2, 5, 6, 50].map((a) => at(0.999, a)), [499, 999, 1999, 14992, 14992, 14992]);
  });

  test("defaults: 500 ms base, 30 s cap, full jitter; delays are whole milliseconds", () => {
    assert.equal(backoffDelay(0, { random: () => 0.5 }), 250);
    assert.equal(backoffDelay(100, { random: () => 0.5 }), 15000);
    for (let attempt = 0; attempt < 40; attempt += 1) {
      const delay = backoffDelay(attempt);
      assert.ok(Number.isInteger(delay) && delay >= 0 && delay < 30000, `${attempt}: ${delay}`);
    }
  });

  test("huge attempt counts stay finite", () => {
    assert.equal(backoffDelay(Number.MAX_SAFE_INTEGER, { base: 500, max: 15000, random: () => 0.5 }), 7500);
  });
});

describe("tracked events", () => {
  test("the transcript's event types, once each", () => {
    assert.deepEqual([...TRACKED_TYPES].sort(), ["message.new", "reply.delta", "reply.end", "reply.snapshot", "reply.start"]);
    assert.equal(TRACKED.size, TRACKED_TYPES.length);
    assert.ok(Object.isFrozen(TRACKED_TYPES));
  });

  test("isTracked accepts exactly those types", () => {
    for (const type of TRACKED_TYPES) assert.equal(isTracked(type), true, type);
    for (const type of ["welcome", "replay", "pong", "typing", "read", "message.ack", "reply.feedback", "conversation.updated",
      "error", "MESSAGE.NEW", "", undefined, null, 1]) {
      assert.equal(isTracked(type), false, String(type));
    }
  });
});

describe("client ids", () => {
  const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  test("crypto.randomUUID is used when there is one", () => {
    assert.equal(newClientId({ randomUUID: () => "from-crypto" }), "from-crypto");
    assert.match(newClientId(), UUID4);
  });

  test("without randomUUID: v4 UUIDs from getRandomValues, or from Math.random without crypto", () => {
    assert.equal(newClientId({ getRandomValues: (b) => b.fill(0xab) }), "abababab-abab-4bab-abab-abababababab");
    assert.equal(newClientId({ getRandomValues: (b) => b.fill(0) }), "00000000-0000-4000-8000-000000000000");
    const ids = new Set(Array.from({ length: 50 }, () => newClientId(null)));
    for (const id of ids) assert.match(id, UUID4);
    assert.equal(ids.size, 50);
  });
});
