// Unit tests of the browser client's ordering core (tm/static/tm/live.js), run with
// `node --test tests/js/` (make test runs them).
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { SeqTracker, backoff } = require("../../tm/static/tm/live.js");

const ev = (seq) => ({ type: "message.created", seq, data: { id: seq } });

/* A Follower for `room` "r", with handlers that do nothing unless `options` says. */
function follower(options) {
  const { Follower } = require("../../tm/static/tm/live.js");
  return new Follower({
    pushUrls: ["http://a.example"], room: "r", after: 0,
    follow: { ticket: "t", expires_in: 600 },
    onEvent: () => {}, onOther: () => {}, onStatus: () => {},
    fill: () => Promise.resolve(options.after || 0),
    checkSeq: () => Promise.resolve(options.after || 0),
    ...options,
  });
}

/* Runs `run(browser)` with a fake WebSocket and EventSource (each one made is in
   browser.sockets, its URL in browser.opened) and, with `manualTimers`, a setTimeout
   that only queues (browser.timers, run them by hand); puts the real ones back after. */
async function withBrowser(run, manualTimers) {
  const browser = { opened: [], sockets: [], timers: [] };
  const fake = function (url) {
    browser.opened.push(url);
    browser.sockets.push(this);
    this.close = () => {};
  };
  const realSetTimeout = global.setTimeout;
  global.WebSocket = fake;
  global.EventSource = fake;
  if (manualTimers) {
    global.setTimeout = (fn) => { browser.timers.push(fn); return browser.timers.length; };
  }
  try {
    await run(browser);
  } finally {
    delete global.WebSocket;
    delete global.EventSource;
    global.setTimeout = realSetTimeout;
  }
}

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

test("during a fill even the next event is held, and applied after the history", () => {
  // The history answer can predate events pushed while it was on its way (a message
  // and its deletion): applied after them, it would show the deleted message again.
  const t = new SeqTracker(4);
  t.filling = true;
  assert.strictEqual(t.offer(ev(5)), "hold");
  assert.strictEqual(t.offer(ev(6)), "hold");
  // The history reached 5: 5 is not applied twice, 6 follows it.
  assert.deepStrictEqual(t.filled(5).map((e) => e.seq), [6]);
  assert.strictEqual(t.filling, false);
  assert.strictEqual(t.offer(ev(7)), "apply");
});

test("the Follower marks its tracker as filling until the history is applied", async () => {
  const { Follower } = require("../../tm/static/tm/live.js");
  const applied = [];
  let answer;
  const follower = new Follower({
    pushUrls: ["http://push.example"], room: "r", after: 4,
    onEvent: (e) => applied.push(e.seq), onOther: () => {}, onStatus: () => {},
    fill: () => new Promise((resolve) => { answer = resolve; }),
    checkSeq: () => Promise.resolve(4),
  });
  const filling = follower.fill();
  follower.receive(JSON.stringify(ev(5)));
  follower.receive(JSON.stringify(ev(6)));
  assert.deepStrictEqual(applied, []);
  answer(4); // the history read found nothing new: 5 and 6 apply now, in order
  await filling;
  assert.deepStrictEqual(applied, [5, 6]);
  follower.receive(JSON.stringify(ev(7)));
  assert.deepStrictEqual(applied, [5, 6, 7]);
});

test("back-off doubles, is capped, and has jitter", () => {
  assert.strictEqual(backoff(0, () => 1), 500);
  assert.strictEqual(backoff(0, () => 0), 250);
  assert.strictEqual(backoff(3, () => 1), 4000);
  assert.strictEqual(backoff(20, () => 1), 30000);
});

test("after five minutes on SSE the next reconnect tries WebSocket again", () => {
  const { Follower } = require("../../tm/static/tm/live.js");
  global.WebSocket = function () {};
  try {
    const follower = new Follower({
      pushUrls: ["http://push.example"], room: "r", after: 0,
      follow: { ticket: "t", expires_in: 600 },
      onEvent: () => {}, onOther: () => {}, onStatus: () => {},
      fill: () => Promise.resolve(0), checkSeq: () => Promise.resolve(0),
    });
    const used = [];
    follower.connectWebSocket = () => used.push("ws");
    follower.connectSse = () => used.push("sse");
    follower.useSse = true;
    follower.sseSince = Date.now() - 60 * 1000;
    follower.connect();
    follower.sseSince = Date.now() - 6 * 60 * 1000;
    follower.connect();
    assert.deepStrictEqual(used, ["sse", "ws"]);
  } finally {
    delete global.WebSocket;
  }
});

test("the push URL carries the follow ticket and after", () => {
  const { Follower } = require("../../tm/static/tm/live.js");
  const f = new Follower({ pushUrls: ["http://push"], room: "bio", after: 7,
                           follow: { ticket: "ft1.bio.1.student.9.a b", expires_in: 600 } });
  assert.strictEqual(f.query(), "?ticket=ft1.bio.1.student.9.a%20b&after=7");
});

test("a ticket is renewed before it runs out, and after a failed open once not new", async () => {
  const { TicketHolder } = require("../../tm/static/tm/live.js");
  let now = 1000000;
  let renewals = 0;
  const holder = new TicketHolder({ ticket: "first", expires_in: 600 }, () => {
    renewals += 1;
    return Promise.resolve({ ticket: "fresh-" + renewals, expires_in: 600 });
  }, () => now);
  assert.strictEqual(await holder.get(), "first");
  holder.failed(); // a node down: a brand-new ticket is kept
  assert.strictEqual(await holder.get(), "first");
  now += 31 * 1000; // not new any more: maybe it is what the node refused
  assert.strictEqual(await holder.get(), "fresh-1");
  now += 539 * 1000; // 60 s before the end of its 600
  assert.ok(holder.fresh());
  now += 2 * 1000;
  assert.ok(!holder.fresh());
  assert.strictEqual(await holder.get(), "fresh-2");
  const none = new TicketHolder(null, null);
  assert.ok(!none.fresh());
  await assert.rejects(none.get());
});

test("a follower without a fresh ticket gets one before it connects", () => withBrowser(async (browser) => {
  const f = follower({ after: 2, follow: null,
                       renewTicket: () => Promise.resolve({ ticket: "t1", expires_in: 600 }) });
  f.connect();
  assert.deepStrictEqual(browser.opened, []); // waits for the ticket
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepStrictEqual(browser.opened, ["ws://a.example/ws/r?ticket=t1&after=2"]);
  f.stop();
}));

test("a room that is gone stops the follower and tells the page", () => withBrowser(async (browser) => {
  let gone = 0;
  const f = follower({ onGone: () => { gone += 1; } });
  f.connect();
  browser.sockets[0].onopen();
  browser.sockets[0].onmessage({ data: JSON.stringify({ type: "gone", room: "r" }) });
  assert.strictEqual(gone, 1);
  assert.ok(f.stopped);
  // A renewal that finds the room gone (410) does the same.
  const later = follower({
    follow: null, onGone: () => { gone += 1; },
    renewTicket: () => Promise.reject(Object.assign(new Error("410"), { gone: true })),
  });
  later.connect();
  await new Promise((resolve) => setImmediate(resolve));
  assert.strictEqual(gone, 2);
  assert.strictEqual(browser.sockets.length, 1);
}));

test("a node that cannot be reached or is shutting down is left for the next one", () => withBrowser((browser) => {
  const f = follower({ pushUrls: ["http://a.example/", "http://b.example", "http://c.example"],
                       after: 3 });
  f.urlIndex = 0;
  f.base = f.urls[0];
  f.connect();
  const { sockets, timers } = browser;
  sockets[0].onclose(); // never opened: a is down
  timers.shift()();
  sockets[1].onopen();
  sockets[1].onmessage({ data: JSON.stringify({ type: "reconnect", delay_ms: 10 }) });
  timers.shift()();
  sockets[2].onopen();
  sockets[2].onclose(); // was open: a dropped connection, same node again
  timers.shift()();
  assert.deepStrictEqual(browser.opened, [
    "ws://a.example/ws/r?ticket=t&after=3", "ws://b.example/ws/r?ticket=t&after=3",
    "ws://c.example/ws/r?ticket=t&after=3", "ws://c.example/ws/r?ticket=t&after=3"]);
}, true));

test("two WebSocket opens that fail in a row move the follower to SSE", () => withBrowser((browser) => {
  const f = follower({ pushUrls: ["http://push.example"], after: 2 });
  f.connect();
  browser.sockets[0].onclose(); // blocked by a proxy: never opened
  browser.timers.shift()();
  browser.sockets[1].onclose(); // again
  browser.timers.shift()();
  assert.deepStrictEqual(browser.opened, [
    "ws://push.example/ws/r?ticket=t&after=2", "ws://push.example/ws/r?ticket=t&after=2",
    "http://push.example/sse/r?ticket=t&after=2"]);
}, true));

test("ticketFrom asks tm with the page's credentials and says when the room is gone", async () => {
  const { ticketFrom } = require("../../tm/static/tm/live.js");
  const calls = [];
  const answers = [
    { ok: true, status: 200, json: () => Promise.resolve({ ticket: "t", expires_in: 600 }) },
    { ok: false, status: 410 },
    { ok: false, status: 403 },
  ];
  global.fetch = (url, options) => { calls.push([url, options]); return Promise.resolve(answers.shift()); };
  try {
    const renew = ticketFrom("/api/v1/rooms/r/ticket", () => ({ Authorization: "Bearer b" }));
    assert.deepStrictEqual(await renew(), { ticket: "t", expires_in: 600 });
    assert.strictEqual(calls[0][1].method, "POST");
    assert.strictEqual(calls[0][1].headers.Authorization, "Bearer b");
    await assert.rejects(renew(), (error) => error.gone === true);
    await assert.rejects(renew(), (error) => error.gone === false);
  } finally {
    delete global.fetch;
  }
});
