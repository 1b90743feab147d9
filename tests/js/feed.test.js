// Unit tests of the page's copy of a room (tm/static/tm/feed.js), run with
// `node --test tests/js/` (make test runs them). The end-to-end tests run the same file
// against the real services (testkit/pages.py); these pin its rules one by one.
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const { RoomFeed } = require("../../tm/static/tm/feed.js");

/* A view that writes down what it was told, in order. */
function recorder() {
  const calls = [];
  const view = {};
  for (const name of ["add", "remove", "room", "pending", "presence", "status", "gone"]) {
    view[name] = (arg) => calls.push([name, arg]);
  }
  return { view, calls };
}

/* fetch answering from `answers` (path after the room's URL -> [status, body]). */
function fakeFetch(answers, asked) {
  return async (url, init) => {
    const path = url.replace("http://tm.example/api/v1/rooms/bio", "");
    asked.push([init.method, path, init.headers]);
    if (!(path in answers)) throw new TypeError("Failed to fetch");
    const [status, body] = answers[path];
    return { status, json: async () => body };
  };
}

function withFetch(answers, run) {
  const asked = [];
  global.fetch = fakeFetch(answers, asked);
  return run(asked).finally(() => { delete global.fetch; });
}

const page = { api: "http://tm.example/api/v1/rooms/bio", room: "bio", seq: 3 };
const message = (id, seq) => ({ id, seq, nickname: "ann", text: "m" + id, html: "m" + id });

test("the history is read page by page, deletions first, then the room", () => {
  return withFetch({
    "/messages?after=3&limit=2": [200, { messages: [message(1, 4), message(2, 5)],
                                         deleted: [9], seq: 5, has_more: true }],
    "/messages?after=5&limit=2": [200, { messages: [message(3, 7)], deleted: [1], seq: 7,
                                         has_more: false }],
    "": [200, { topic: "cells", state: "open", seq: 7 }],
  }, async (asked) => {
    const { view, calls } = recorder();
    const feed = new RoomFeed(page, view, () => ({ Authorization: "Bearer tok" }));
    feed.pageSize = 2;
    assert.strictEqual(await feed.catchUp(), 7);
    assert.strictEqual(feed.seq, 7);
    await new Promise((resolve) => setImmediate(resolve)); // the room read, not awaited
    assert.deepStrictEqual(calls.map((c) => c[0]), ["remove", "add", "remove", "add", "room"]);
    assert.deepStrictEqual(calls[1][1].map((m) => m.id), [1, 2]);
    assert.deepStrictEqual(calls[2][1], [1]);
    assert.deepStrictEqual(calls[4][1].topic, "cells");
    assert.strictEqual(asked[0][2].Authorization, "Bearer tok");
  });
});

test("nothing new: the room is not read again", () => {
  return withFetch({
    "/messages?after=3&limit=500": [200, { messages: [], deleted: [], seq: 3, has_more: false }],
  }, async (asked) => {
    const { view, calls } = recorder();
    assert.strictEqual(await new RoomFeed(page, view).catchUp(), 3);
    assert.deepStrictEqual(calls, []);
    assert.strictEqual(asked.length, 1);
  });
});

test("a room that has ended (410) is gone; other failures reject", () => {
  return withFetch({
    "/messages?after=3&limit=500": [410, { error: { code: "room_ended" } }],
    "/messages?after=0&limit=500": [500, null],
  }, async () => {
    const { view, calls } = recorder();
    const feed = new RoomFeed(page, view);
    assert.strictEqual(await feed.readHistory(3), 3);
    assert.deepStrictEqual(calls, [["gone", undefined]]);
    await assert.rejects(feed.load(), /history 500/);
  });
});

test("a room read older than the room's last event is not applied", () => {
  const { view, calls } = recorder();
  const feed = new RoomFeed(page, view);
  feed.applyEvent({ type: "room.updated", seq: 8, data: { topic: "new", state: "open" } });
  feed.applyRoom({ topic: "old", state: "open" }, 6); // an answer written before seq 8
  feed.applyRoom({ topic: "same", state: "paused" }, 8);
  assert.deepStrictEqual(calls.map((c) => c[1].topic), ["new", "same"]);
});

test("pushed events reach the view; a skip only advances the seq", () => {
  const { view, calls } = recorder();
  const feed = new RoomFeed(page, view);
  feed.applyEvent({ type: "message.created", seq: 4,
                    data: { id: 1, nickname: "ann", text: "hi", html: "hi", by_teacher: "yes" } });
  feed.applyEvent({ type: "message.pending", seq: 5, data: { id: 2, text: "held" } });
  feed.applyEvent({ type: "skip", seq: 6 });
  feed.applyEvent({ type: "message.deleted", seq: 7, data: { id: 1 } });
  assert.deepStrictEqual(calls, [
    ["add", [{ id: 1, nickname: "ann", text: "hi", html: "hi", seq: 4, by_teacher: false }]],
    ["pending", { id: 2, text: "held" }],
    ["remove", [1]],
  ]);
});

test("a share link's key goes with every read", () => {
  return withFetch({
    "/messages?after=0&limit=500&key=k%2F1": [200, { messages: [], deleted: [], seq: 2,
                                                     has_more: false }],
    "?key=k%2F1": [200, { topic: "", state: "open", seq: 2 }],
  }, async (asked) => {
    const feed = new RoomFeed({ ...page, key: "k/1" }, recorder().view);
    assert.strictEqual(await feed.load(), 2);
    assert.strictEqual(await feed.refreshRoom(), 2);
    assert.deepStrictEqual(asked.map((a) => a[1]),
                           ["/messages?after=0&limit=500&key=k%2F1", "?key=k%2F1", "?key=k%2F1"]);
  });
});
