/**
 * Bare uWebSockets.js: protocol v1's hello/join/send with an in-memory seq per
 * conversation and `app.publish` for fan-out: no validation, no store, no rate limit. It
 * is the ceiling of our stack, i.e. what the relay would do if storing cost nothing.
 */
import type { AckFrame, JoinedFrame, WelcomeFrame } from '../../protocol/index.js';
import { PROTOCOL_VERSION } from '../../protocol/index.js';
import { isLoopback, LoopDelay } from '../../relay/http/loop-delay.js';
import { loadUws } from '../../relay/uws.js';
import { announceListening, listenPort, MemoryRooms } from './rooms.js';

interface Conn {
  user: { id: string; name: string } | null;
  joined: Set<string>;
}

interface Frame {
  type?: unknown;
  user?: unknown;
  name?: unknown;
  conv?: unknown;
  id?: unknown;
  text?: unknown;
  after?: unknown;
  tail?: unknown;
  ref?: string | number;
}

const { uws, native } = loadUws(false);
if (!native) throw new Error('uWebSockets.js native binary missing');
const rooms = new MemoryRooms();
const app = uws.App();
const decoder = new TextDecoder();
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

app.ws<Conn>('/ws', {
  compression: uws.DISABLED,
  maxPayloadLength: 64 * 1024,
  idleTimeout: 60,
  // As the relay: 1 MiB queued per client; beyond it frames are dropped (and show as lost).
  maxBackpressure: 1024 * 1024,
  closeOnBackpressureLimit: 0,
  upgrade: (res, req, context) => {
    res.upgrade<Conn>(
      { user: null, joined: new Set() },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  },
  message: (ws, data) => {
    let frame: Frame;
    try {
      frame = JSON.parse(decoder.decode(data)) as Frame;
    } catch {
      return;
    }
    const conn = ws.getUserData();
    if (frame.type === 'hello' && typeof frame.user === 'string') {
      conn.user = { id: frame.user, name: typeof frame.name === 'string' ? frame.name : frame.user };
      const welcome: WelcomeFrame = { type: 'welcome', v: PROTOCOL_VERSION, user: conn.user, ref: frame.ref };
      ws.send(JSON.stringify(welcome));
      return;
    }
    if (!conn.user || typeof frame.conv !== 'string') return;
    const conv = frame.conv;
    if (frame.type === 'join') {
      ws.subscribe(conv);
      conn.joined.add(conv);
      const { head, messages } = rooms.replay(conv, num(frame.after), num(frame.tail));
      const joined: JoinedFrame = { type: 'joined', conv, epoch: 'memory', head, members: [], typing: [], ref: frame.ref };
      ws.cork(() => {
        ws.send(JSON.stringify(joined));
        for (const message of messages) ws.send(JSON.stringify(message));
      });
    } else if (frame.type === 'send' && typeof frame.id === 'string' && conn.joined.has(conv)) {
      const text = typeof frame.text === 'string' ? frame.text : undefined;
      const outcome = rooms.append(conv, frame.id, conn.user, text, Date.now());
      const seq = outcome.stored ? outcome.message.seq : outcome.seq;
      const ts = outcome.stored ? outcome.message.ts : outcome.ts;
      const ack: AckFrame = { type: 'ack', conv, id: frame.id, seq, ts, ref: frame.ref };
      ws.send(JSON.stringify(ack));
      if (outcome.stored) app.publish(conv, JSON.stringify(outcome.message), false);
    }
  },
});

// GET /stats as on the relay: the harness reads the event-loop delay of the load phase.
const loopDelay = new LoopDelay();
app.get('/stats', (res, req) => {
  const reset = /(^|&)reset(=|&|$)/.test(req.getQuery() ?? '') && isLoopback(Buffer.from(res.getRemoteAddressAsText()).toString('latin1'));
  res.writeHeader('Content-Type', 'application/json').end(JSON.stringify({ event_loop_delay: loopDelay.snapshot(reset) }));
});

const { host, port } = listenPort();
app.listen(host, port, (socket) => {
  if (!socket) throw new Error(`cannot listen on ${host}:${port}`);
  announceListening(uws.us_socket_local_port(socket as never));
});
process.on('SIGTERM', () => process.exit(0));
