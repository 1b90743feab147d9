// Unit tests of the browser client's ordering core (tm/static/tm/live.js), run with
// `node --test tests/js/` (make test runs them).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { SeqTracker, backoff } = require("../../tm/static/tm/live.js");

const ev = (seq) => ({ type: "message.created", seq, data: { id: seq } });

test("applies consecutive events and ignores duplicates", () => {
  const t = new SeqTracker(4);
  assert.strictEqual(t.offer(ev(5)), "apply");
  assert.strictEqual(t.offer(ev(5)), "ignore");
  assert.strictEqual(t.offer(ev(3)), "ignore");
  assert.strictEqual(t.offer(ev(6)), "apply");
  assert.strictEqual(t.last, 6);
});

test("events without a seq are passed through", () => {
  const t = new SeqTracker(0);
  assert.strictEqual(t.offer({ type: "presence", count: 3 }), "other");
  assert.strictEqual(t.last, 0);
});

test("a gap holds later events until history fills it", () => {
  const t = new SeqTracker(1);
  assert.strictEqual(t.offer(ev(4)), "hold");
  assert.strictEqual(t.offer(ev(3)), "hold");
  assert.strictEqual(t.offer(ev(2)), "hold"); // still held: a fill is under way
  assert.ok(t.hasGap());
  // History reached seq 2: 3 and 4 follow in order, 2 is not applied twice.
  assert.deepStrictEqual(t.filled(2).map((e) => e.seq), [3, 4]);
  assert.strictEqual(t.last, 4);
  assert.ok(!t.hasGap());
});

test("a fill that reaches past held events drops them", () => {
  const t = new SeqTracker(1);
  t.offer(ev(3));
  t.offer(ev(5));
  assert.deepStrictEqual(t.filled(6), []);
  assert.strictEqual(t.last, 6);
  assert.ok(!t.hasGap());
});

test("a second gap after a fill stays held", () => {
  const t = new SeqTracker(1);
  t.offer(ev(3));
  t.offer(ev(7));
  t.offer(ev(7));
  assert.deepStrictEqual(t.filled(2).map((e) => e.seq), [3]);
  assert.ok(t.hasGap());
  assert.deepStrictEqual(t.held.map((e) => e.seq), [7]);
  assert.deepStrictEqual(t.filled(6).map((e) => e.seq), [7]);
});

test("back-off doubles, is capped, and has jitter", () => {
  assert.strictEqual(backoff(0, () => 1), 500);
  assert.strictEqual(backoff(0, () => 0), 250);
  assert.strictEqual(backoff(3, () => 1), 4000);
  assert.strictEqual(backoff(20, () => 1), 30000);
});
