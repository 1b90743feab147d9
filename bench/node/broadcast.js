// A minimal Node.js broadcast server: the yardstick ekg_py is measured against
// (bench/fanout.py, bench/idle_memory.py). It does what an ekg node does on the hot
// path and nothing else:
//
//   GET  /ws/<room>                      WebSocket (ws, no compression); nothing is read
//   POST /internal/rooms/<room>/events   check the X-TM-Signature HMAC (same format as
//                                        tm/signing.py, 60 s window), parse the JSON,
//                                        encode it once, send it to every client of the
//                                        room -> 202
//   GET  /healthz                        {"ok": true, "rooms": n, "connections": n}
//
// Left out on purpose: ring buffers and replay, presence, moderators, per-client
// queue bounds, heartbeats. So per delivery it does no more work than ekg_py does.
//
//   TM_INTERNAL_SECRET=... node broadcast.js [--port 0] [--host 127.0.0.1] [--no-hmac]
//
// Prints "node-ws listening on HOST:PORT" once it accepts connections.
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
function option(name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}
const host = option('--host', '127.0.0.1');
const port = Number(option('--port', '0'));
const checkHmac = !args.includes('--no-hmac');
const secret = process.env.TM_INTERNAL_SECRET || '';
if (checkHmac && !secret) {
  console.error('node-ws: TM_INTERNAL_SECRET is not set (or pass --no-hmac)');
  process.exit(2);
}

const rooms = new Map(); // room -> Set of WebSocket
let connections = 0;

function verify(header, method, path, body) {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((item) => item.split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 60 || !parts.v1) return false;
  const mac = crypto.createHmac('sha256', secret)
    .update(`${t}.${method}.${path}.`).update(body).digest('hex');
  const given = Buffer.from(parts.v1);
  const wanted = Buffer.from(mac);
  return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

function answer(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

const server = http.createServer((req, res) => {
  const match = /^\/internal\/rooms\/([^/]+)\/events$/.exec(req.url);
  if (req.method === 'POST' && match) {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (checkHmac && !verify(req.headers['x-tm-signature'], 'POST', req.url, body)) {
        answer(res, 401, { error: { code: 'bad_signature', message: 'bad signature' } });
        return;
      }
      let event;
      try {
        event = JSON.parse(body);
      } catch (error) {
        answer(res, 400, { error: { code: 'bad_event', message: String(error) } });
        return;
      }
      // Encoded once, like ekg's Encoded; the same bytes go to every client.
      const data = Buffer.from(JSON.stringify(event));
      const clients = rooms.get(match[1]);
      if (clients) {
        for (const ws of clients) ws.send(data, { binary: false });
      }
      answer(res, 202, { ok: true });
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/healthz') {
    answer(res, 200, { ok: true, rooms: rooms.size, connections });
    return;
  }
  answer(res, 404, { error: { code: 'not_found', message: 'not found' } });
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 });
server.on('upgrade', (req, socket, head) => {
  const match = /^\/ws\/([A-Za-z0-9][A-Za-z0-9._-]{0,99})(\?.*)?$/.exec(req.url);
  if (!match) {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const room = match[1];
    let clients = rooms.get(room);
    if (!clients) rooms.set(room, (clients = new Set()));
    clients.add(ws);
    connections += 1;
    ws.on('error', () => {});
    ws.on('close', () => {
      connections -= 1;
      clients.delete(ws);
      if (clients.size === 0) rooms.delete(room);
    });
  });
});

server.listen({ host, port, backlog: 2048 }, () => {
  const address = server.address();
  console.log(`node-ws listening on ${address.address}:${address.port}`);
});

function stop() {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
