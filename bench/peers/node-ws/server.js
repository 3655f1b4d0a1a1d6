// node-ws peer: a Node.js `ws` server broadcasting the same snapshot bytes to every client.
// GET/POST /trigger broadcasts; every client gets the snapshot on connect. Same WebSocket settings
// as `expstream serve`: no per-message deflate, 64 KiB max payload, ping every 20 s.
// usage: node server.js --port P --payload FILE
'use strict';
const fs = require('fs');
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port'));
const payload = fs.readFileSync(opt('--payload')); // a Buffer: sent as a text frame, never re-encoded

const server = http.createServer((req, res) => {
  if (!req.url.startsWith('/trigger')) {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
    return;
  }
  req.resume();
  req.on('end', () => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(payload, { binary: false });
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
  });
});

const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws) => {
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  ws.on('error', () => {});
  ws.send(payload, { binary: false });
});

// Keepalive like the Python servers: ping every 20 s, drop a client that did not answer the last.
setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, 20000).unref();

server.listen({ host, port, backlog: 4096 }, () => {
  process.stderr.write(`node-ws ready on ${host}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
