// A WebSocket-over-HTTP chat backend as a Node.js application writes one for Pushpin: Express
// with serve-grip's middleware. OPEN is accepted and the connection subscribed to the room;
// each TEXT is published to the room with @fanoutio/grip's publisher, through gripway's
// publish API. Every request's Grip-Sig is checked with @fanoutio/grip's validateSig.

import express from 'express';
import { ServeGrip } from '@fanoutio/serve-grip';
import { validateSig, WebSocketMessageFormat } from '@fanoutio/grip';

export const ROOM = 'room';

/**
 * Listens on 127.0.0.1:`port`. `controlUri`: gripway's publish API; `sigKey`: the key
 * gripway signs with. Returns { requests, close }; `requests` records, per request, its
 * connection id, its events' types and whether its Grip-Sig verified.
 */
export async function startChatBackend({ port, controlUri, sigKey }) {
  const serveGrip = new ServeGrip({ grip: { control_uri: controlUri }, gripProxyRequired: true });
  const publisher = serveGrip.getPublisher();
  const requests = [];
  const app = express();
  app.use(serveGrip);

  app.post('/chat', async (req, res) => {
    const ws = req.grip.wsContext;
    if (ws == null) {
      res.status(400).end('Not a WebSocket-over-HTTP request.\n');
      return;
    }
    const record = {
      connectionId: ws.id,
      opening: ws.isOpening(),
      signed: await validateSig(req.headers['grip-sig'] ?? '', sigKey),
      texts: [],
    };
    requests.push(record);
    if (ws.isOpening()) {
      ws.accept();
      ws.subscribe(ROOM);
      // Sent after the subscription: once a client reads it, it is in the room.
      ws.send('ready');
    }
    while (ws.canRecv()) {
      const message = ws.recv();
      if (message == null) {
        ws.close();
        break;
      }
      record.texts.push(message);
      await publisher.publishFormats(ROOM, new WebSocketMessageFormat(message));
    }
    res.end();
  });

  const server = await new Promise((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
  });
  return {
    requests,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}
