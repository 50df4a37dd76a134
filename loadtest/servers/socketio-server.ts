/**
 * Socket.IO 4.8 doing the relay's job without the store: rooms for fan-out, an in-memory
 * seq per room (MemoryRooms) so ordering and loss are checked the same way. Run as its own
 * process so that its CPU and memory are measured like the relay's.
 *
 * Events: `join` {conv, after?, tail?} → ack {conv, head} then the replayed `msg`s;
 * `send` {conv, id, text} → ack {conv, id, seq, ts} and `msg` to the whole room.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { isLoopback, LoopDelay } from '../../relay/http/loop-delay.js';
import { announceListening, listenPort, MemoryRooms } from './rooms.js';

interface JoinRequest {
  conv: string;
  after?: number;
  tail?: number;
}
interface SendRequest {
  conv: string;
  id: string;
  text?: string;
}
type Reply = (answer: object) => void;

const rooms = new MemoryRooms();
const loopDelay = new LoopDelay();
// GET /stats as on the relay: the harness reads the event-loop delay of the load phase.
const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname !== '/stats') return;
  const reset = url.searchParams.has('reset') && isLoopback(req.socket.remoteAddress ?? '');
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ event_loop_delay: loopDelay.snapshot(reset) }));
});
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  // Same frame limit as the relay's protocol.
  maxHttpBufferSize: 64 * 1024,
});

io.on('connection', (socket) => {
  const auth = socket.handshake.auth as { user?: unknown; name?: unknown };
  const user = typeof auth.user === 'string' ? auth.user : socket.id;
  const from = { id: user, name: typeof auth.name === 'string' ? auth.name : user };
  const joined = new Set<string>();

  socket.on('join', (request: JoinRequest, reply: Reply) => {
    if (typeof reply !== 'function' || typeof request?.conv !== 'string') return;
    void socket.join(request.conv);
    joined.add(request.conv);
    const { head, messages } = rooms.replay(request.conv, request.after, request.tail);
    // The ack goes out before the replay, as the relay's `joined` does.
    reply({ conv: request.conv, head });
    for (const message of messages) socket.emit('msg', message);
  });

  socket.on('send', (request: SendRequest, reply: Reply) => {
    if (typeof reply !== 'function' || typeof request?.conv !== 'string' || typeof request.id !== 'string') return;
    if (!joined.has(request.conv)) return reply({ error: 'not_joined' });
    const outcome = rooms.append(request.conv, request.id, from, request.text, Date.now());
    if (!outcome.stored) return reply({ conv: request.conv, id: request.id, seq: outcome.seq, ts: outcome.ts });
    const { message } = outcome;
    reply({ conv: request.conv, id: request.id, seq: message.seq, ts: message.ts });
    io.to(request.conv).emit('msg', message);
  });
});

const { host, port } = listenPort();
http.listen(port, host, () => announceListening((http.address() as AddressInfo).port));
process.on('SIGTERM', () => {
  void io.close();
  process.exit(0);
});
