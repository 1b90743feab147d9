/* One browser page, for the end-to-end tests: the pages' own scripts (live.js and
 * feed.js, as tm serves them) run here in a realm of their own, as in a browser tab,
 * following one room through the real push nodes and tm's API. testkit/pages.py starts
 * one process per page, steers it over stdin and reads what it shows from stdout.
 *
 * The realm has what those scripts use of a browser: fetch, WebSocket and EventSource
 * (undici's, which follow the same standards as browsers'), timers, Date, window and
 * document with their events. No page logic is written here: the view below records
 * what feed.js tells it to show, as room.js draws it.
 *
 * What differs from a browser, for test speed and control, and how:
 * - The page's clock runs SPEED times as fast as the wall's (its timers and Date.now):
 *   live.js's 30 s seq check comes every second, its back-off starts at 17 ms and
 *   stops growing at 1 s, a node's reconnect delay of 0.5-5 s takes 17-167 ms. Tickets
 *   last 10 minutes of tm's (real) time and 20 s of the page's, so the page renews
 *   them sooner than a browser would: harmless, and exercised.
 * - The page starts at the first push node of its list (live.js picks one at random):
 *   a test places each page on a node by the order of the list it gives.
 * - A page may follow without the periodic seq check (`periodic_check: false`): a
 *   test that proves delivery by push alone must not let a check fill the gap.
 * - A page may have a slow network (`answer_delay_ms`: every GET answer from tm
 *   arrives that much later), or none at all for a while (`cut_off`: every connection
 *   drops and none opens until `restore`, which the page hears as the browser's
 *   `online` event).
 *
 * Protocol. argv[2]: JSON {tm_url, push_urls, room, transport ("ws" | "sse": a browser
 * without WebSocket), auth (a bearer token, or null), periodic_check, history_limit,
 * answer_delay_ms, speed}. stdin: one command a line: "cut_off", "restore", "stop".
 * stdout: one JSON object a line: {"started": true} once the page shows the room and
 * follows it, {"error": "..."} if it could not, {"page": snapshot} whenever what it
 * shows or does changes (see snapshot() below), and {"done": command} once a command
 * has taken effect (a cut-off page hears nothing sent after that line).
 */
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const vm = require("node:vm");
const undici = require("undici");

const config = JSON.parse(process.argv[2]);
const SPEED = config.speed;
const STATIC = path.resolve(__dirname, "../../tm/static/tm");
const REPORT_MS = 10; // the host looks for changes this often (the page's turns end between)

// -- the network: every connection the page opens, so that it can be cut off ---------
const network = { up: true, sockets: new Set() };
const connect = undici.buildConnector({});
undici.setGlobalDispatcher(new undici.Agent({
  connect(options, callback) {
    if (!network.up) {
      setImmediate(callback, new Error("the network is down"), null);
      return;
    }
    connect(options, (error, socket) => {
      if (socket) {
        network.sockets.add(socket);
        socket.once("close", () => network.sockets.delete(socket));
      }
      callback(error, socket);
    });
  },
}));

function cutOff() {
  network.up = false;
  for (const socket of network.sockets) socket.destroy();
}

function restore() {
  network.up = true;
  realm.window.dispatchEvent(new Event("online"));
}

// -- what the page shows and does: the view feed.js draws through, and counts -------
const shown = {
  messages: new Map(), // id -> [id, seq, text]
  pending: new Map(), // held posts (a moderator's page): id -> text
  topic: null,
  state: null,
  presence: null,
  status: null,
  gone: false,
  ticketRole: null,
};
const stats = {};
const fresh = { received: [], applied: [], seen: [] }; // since the last snapshot sent
let heard = 0; // messages and opens: a page that has settled hears nothing new
let started = false;
let follower = null;

function count(name) { stats[name] = (stats[name] || 0) + 1; }

function seen(text) { if (typeof text === "string") fresh.seen.push(text); }

const view = {
  add(messages) {
    for (const message of messages) {
      seen(message.text);
      shown.pending.delete(message.id); // approved: out of the queue (moderate.js)
      if (!shown.messages.has(message.id)) { // room.js: shown once
        shown.messages.set(message.id, [message.id, message.seq, message.text]);
      }
    }
    reportSoon();
  },
  remove(ids) {
    for (const id of ids) {
      shown.messages.delete(id);
      shown.pending.delete(id);
    }
    reportSoon();
  },
  room(room) {
    shown.topic = room.topic;
    shown.state = room.state;
    reportSoon();
  },
  pending(message) {
    seen(message.text);
    shown.pending.set(message.id, message.text);
    reportSoon();
  },
  presence(n) { shown.presence = n; reportSoon(); },
  status(state) { shown.status = state; },
  gone() { shown.gone = true; reportSoon(); },
};

// -- the browser's network APIs, watched ---------------------------------------------
const streams = new Set(); // WebSockets and EventSources not yet closed

function watch(stream) {
  streams.add(stream);
  stream.addEventListener("open", () => { count("connects"); heard += 1; reportSoon(); });
  // Added before live.js sets onmessage, so it sees each message first.
  stream.addEventListener("message", (message) => {
    heard += 1;
    let event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    if (event.type === "resync") count("resyncs");
    else if (event.type === "gone") count("gone");
    else if (event.type === "reconnect") count("reconnect_messages");
    if (typeof event.seq === "number") fresh.received.push(event);
    reportSoon();
  });
}

class PageWebSocket extends undici.WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    watch(this);
    this.addEventListener("close", () => streams.delete(this));
  }
}

class PageEventSource extends undici.EventSource {
  constructor(url, init) {
    super(url, init);
    watch(this);
  }

  close() {
    streams.delete(this);
    super.close();
  }
}

const GET_STATUSES_WITHOUT_BODY = new Set([101, 204, 205, 304]);

async function pageFetch(url, init) {
  const method = ((init && init.method) || "GET").toUpperCase();
  const where = new URL(url).pathname;
  if (method === "GET" && where.endsWith("/messages")) count("history_reads");
  if (method === "POST" && where.endsWith("/ticket")) count("tickets");
  const response = await undici.fetch(url, init);
  if (method === "POST" && where.endsWith("/ticket") && response.ok) {
    response.clone().json().then((ticket) => { shown.ticketRole = ticket.role; }, () => {});
  }
  if (method !== "GET" || !config.answer_delay_ms) return response;
  // A slow network: the whole answer arrives late.
  const body = await response.arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, config.answer_delay_ms));
  return new undici.Response(GET_STATUSES_WITHOUT_BODY.has(response.status) ? null : body,
                             { status: response.status, headers: response.headers });
}

// -- the page's realm ----------------------------------------------------------------
function pageRealm() {
  const epoch = Date.now();
  class PageDate extends Date {
    static now() { return epoch + (Date.now() - epoch) * SPEED; }
  }
  const scaled = (timer) => (fn, ms, ...args) => timer(fn, Math.max(0, ms || 0) / SPEED, ...args);
  const windowEvents = new EventTarget();
  const document = new EventTarget();
  document.hidden = false;
  const math = Object.create(Math);
  math.random = Math.random;
  const sandbox = {
    console,
    fetch: pageFetch,
    EventSource: PageEventSource,
    Date: PageDate,
    Math: math,
    setTimeout: scaled(setTimeout),
    setInterval: scaled(setInterval),
    clearTimeout,
    clearInterval,
    document,
    addEventListener: windowEvents.addEventListener.bind(windowEvents),
    removeEventListener: windowEvents.removeEventListener.bind(windowEvents),
    dispatchEvent: windowEvents.dispatchEvent.bind(windowEvents),
  };
  // A browser without WebSocket (or a proxy that blocks it): live.js uses SSE.
  if (config.transport === "ws") sandbox.WebSocket = PageWebSocket;
  sandbox.window = sandbox;
  const context = vm.createContext(sandbox);
  for (const script of ["live.js", "feed.js"]) { // as the templates load them
    const file = path.join(STATIC, script);
    vm.runInContext(fs.readFileSync(file, "utf8"), context, { filename: file });
  }
  return { window: sandbox, math };
}

const realm = pageRealm();

function credentials() {
  return config.auth ? { "Authorization": "Bearer " + config.auth } : {};
}

async function open() {
  const page = {
    api: config.tm_url.replace(/\/+$/, "") + "/api/v1/rooms/" + encodeURIComponent(config.room),
    room: config.room,
    seq: 0,
    push_urls: config.push_urls,
    follow: null,
    key: null,
  };
  const feed = new realm.window.TMFeed.RoomFeed(page, view, credentials);
  feed.pageSize = config.history_limit;
  const applyEvent = feed.applyEvent;
  feed.applyEvent = function (event) { // the pushed events applied, in order
    fresh.applied.push(event.seq);
    return applyEvent.call(this, event);
  };
  // The embed's way in: the whole history first, then follow with a ticket from tm.
  await feed.load();
  realm.math.random = () => 0; // start at the first node of the list
  try {
    follower = feed.follow(null);
  } finally {
    realm.math.random = Math.random;
  }
  if (!config.periodic_check) clearInterval(follower.checkTimer);
  const tracker = follower.tracker;
  const offer = tracker.offer;
  tracker.offer = function (event) {
    const verdict = offer.call(this, event);
    count(verdict);
    return verdict;
  };
}

// -- reporting -------------------------------------------------------------------------
function snapshot() {
  return {
    messages: [...shown.messages.values()].sort((a, b) => a[1] - b[1]),
    pending: Object.fromEntries(shown.pending),
    topic: shown.topic,
    state: shown.state,
    presence: shown.presence,
    gone: shown.gone,
    connected: [...streams].some((stream) => stream.readyState === 1),
    push_url: follower ? follower.base : null,
    ticket: follower ? follower.tickets.ticket : null,
    ticket_role: shown.ticketRole,
    last: follower ? follower.tracker.last : 0,
    held: follower ? follower.tracker.held.map((event) => event.seq) : [],
    filling: Boolean(follower && follower.filling),
    heard,
    stats,
  };
}

let lastSent = "";
let reportPending = false;

function report() {
  reportPending = false;
  const now = JSON.stringify(snapshot());
  const news = fresh.received.length || fresh.applied.length || fresh.seen.length;
  if (now === lastSent && !news) return;
  lastSent = now;
  const line = { page: JSON.parse(now), ...fresh };
  fresh.received = [];
  fresh.applied = [];
  fresh.seen = [];
  process.stdout.write(JSON.stringify(line) + "\n");
}

function reportSoon() {
  if (reportPending) return;
  reportPending = true;
  setImmediate(report);
}

setInterval(report, REPORT_MS);

readline.createInterface({ input: process.stdin }).on("line", (command) => {
  if (command === "cut_off") cutOff();
  else if (command === "restore") restore();
  else if (command === "stop") { stop(); return; }
  // Done, and what the page shows now sent first: the test goes on from here.
  report();
  process.stdout.write(JSON.stringify({ done: command }) + "\n");
});
process.stdin.on("end", stop);

function stop() {
  if (follower) follower.stop();
  report();
  cutOff();
  process.exit(0);
}

open().then(() => {
  started = true;
  report();
  process.stdout.write(JSON.stringify({ started }) + "\n");
}, (error) => {
  process.stdout.write(JSON.stringify({ error: String(error && error.stack || error) }) + "\n");
  process.exit(1);
});
