// gripway with the published Node.js libraries: three `ws` clients chat through gripway and
// an Express + serve-grip WebSocket-over-HTTP backend that publishes with @fanoutio/grip.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { freePort, startGripway } from './gripway.js';
import { startChatBackend } from './chat-backend.js';

const TIMEOUT_MS = 5_000;
const SIG_KEY = 'node-chat-secret';

/** A `ws` client whose messages queue up for `next()`, which rejects after TIMEOUT_MS. */
async function client(url) {
  const ws = new WebSocket(url, { handshakeTimeout: TIMEOUT_MS });
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const message = isBinary ? data : data.toString();
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.next = () => {
    if (queue.length > 0) return Promise.resolve(queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message in time')), TIMEOUT_MS);
      waiters.push((message) => { clearTimeout(timer); resolve(message); });
    });
  };
  return ws;
}

let gripway;
let backend;

before(async () => {
  // gripway routes to a port the backend takes once it knows gripway's publish API.
  const backendPort = await freePort();
  gripway = await startGripway(
    [`* 127.0.0.1:${backendPort},over_http`],
    `[proxy]\nsig_key=${SIG_KEY}\n`,
  );
  backend = await startChatBackend({
    port: backendPort,
    controlUri: gripway.controlUri,
    sigKey: SIG_KEY,
  });
});

after(async () => {
  await gripway?.stop();
  await backend?.close();
});

test('a chat message reaches all three clients', { timeout: 20_000 }, async () => {
  const url = `ws://127.0.0.1:${gripway.port}/chat`;
  const clients = await Promise.all([client(url), client(url), client(url)]);
  try {
    for (const ws of clients) assert.equal(await ws.next(), 'ready');
    clients[0].send('hello, room');
    for (const ws of clients) assert.equal(await ws.next(), 'hello, room');
    clients[2].send('hello back');
    for (const ws of clients) assert.equal(await ws.next(), 'hello back');
  } finally {
    for (const ws of clients) ws.close(1000, 'done');
  }
  const opens = backend.requests.filter((r) => r.opening);
  assert.equal(new Set(opens.map((r) => r.connectionId)).size, 3);
  assert.ok(backend.requests.every((r) => r.signed), 'every request carries a valid Grip-Sig');
});
