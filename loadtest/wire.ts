/**
 * One virtual user's connection, in the two wires the harness speaks: chat protocol v1
 * over `ws` (our relay, a cluster, bare uWS, any running relay) and Socket.IO events over
 * socket.io-client (websocket transport only). Both report the same events, so the
 * virtual-user logic and the accounting do not care which target they load.
 */
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, type ClientFrame, type MessageFrame, type ServerFrame } from '../protocol/index.js';
import { WireKind } from './types.js';

export interface WireEvents {
  /** Connected and identified (v1: `welcome`; Socket.IO: `connect`). */
  onReady(): void;
  /** A join was confirmed; `head` is the conversation's head at that moment. */
  onJoined(conv: string, head: number): void;
  onMessage(conv: string, seq: number, id: string, text: string | undefined): void;
  onAck(id: string, seq: number): void;
  /** The target refused a frame; `id` names the message when it was a send. */
  onError(code: string, id: string | undefined): void;
  /** v1 only: the relay dropped frames for this client; rejoin from what is held. */
  onResync(conv: string): void;
  /** The connection is gone (closed by either side, or never opened). */
  onClose(reason: string): void;
}

export interface Identity {
  user: string;
  name: string;
  /** A JWT for relays with a secret; open mode (user + name in hello) without. */
  token?: string;
}

export interface WireClient {
  /** `after` undefined = a first join that replays nothing (tail 0); else replay seqs above it. */
  join(conv: string, after: number | undefined): void;
  send(conv: string, id: string, text: string): void;
  /** Polite close. */
  close(): void;
  /** Abrupt drop, as a network failure would (for reconnect storms). */
  kill(): void;
}

export function connectWire(kind: WireKind, url: string, identity: Identity, events: WireEvents): WireClient {
  return kind === WireKind.socketio ? connectSocketIo(url, identity, events) : connectV1(url, identity, events);
}

function connectV1(url: string, identity: Identity, events: WireEvents): WireClient {
  // The relay's frames are JSON it produced itself; validating their UTF-8 only costs generator CPU.
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 20_000, skipUTF8Validation: true });
  let closed = false;
  const finish = (reason: string) => {
    if (closed) return;
    closed = true;
    events.onClose(reason);
  };
  const sendFrame = (frame: ClientFrame) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };
  ws.on('open', () => {
    sendFrame(
      identity.token
        ? { type: 'hello', v: PROTOCOL_VERSION, token: identity.token }
        : { type: 'hello', v: PROTOCOL_VERSION, user: identity.user, name: identity.name },
    );
  });
  ws.on('message', (data: Buffer) => {
    // Parsed without the schema: the receive path is the generator's hot loop, and the
    // fields used are checked by the accounting anyway.
    const frame = JSON.parse(data.toString()) as ServerFrame;
    switch (frame.type) {
      case 'msg':
        events.onMessage(frame.conv, frame.seq, frame.id, frame.text);
        return;
      case 'ack':
        events.onAck(frame.id, frame.seq);
        return;
      case 'welcome':
        events.onReady();
        return;
      case 'joined':
        events.onJoined(frame.conv, frame.head);
        return;
      case 'resync':
        events.onResync(frame.conv);
        return;
      case 'error':
        events.onError(frame.code, frame.id);
        return;
      default:
        return;
    }
  });
  ws.on('error', (error) => finish(`error: ${error.message}`));
  ws.on('close', (code) => finish(`close ${code}`));
  return {
    join(conv, after) {
      sendFrame(after === undefined ? { type: 'join', conv, tail: 0 } : { type: 'join', conv, after });
    },
    send(conv, id, text) {
      sendFrame({ type: 'send', conv, id, text });
    },
    close() {
      ws.close(1000);
    },
    kill() {
      ws.terminate();
      finish('killed');
    },
  };
}

interface SocketIoAck {
  seq?: number;
  head?: number;
  error?: string;
}

function connectSocketIo(url: string, identity: Identity, events: WireEvents): WireClient {
  const socket: Socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 20_000,
    auth: { user: identity.user, name: identity.name },
  });
  let closed = false;
  const finish = (reason: string) => {
    if (closed) return;
    closed = true;
    events.onClose(reason);
  };
  socket.on('connect', () => events.onReady());
  socket.on('msg', (message: MessageFrame) => events.onMessage(message.conv, message.seq, message.id, message.text));
  socket.on('connect_error', (error: Error) => finish(`error: ${error.message}`));
  socket.on('disconnect', (reason: string) => finish(reason));
  return {
    join(conv, after) {
      const request = after === undefined ? { conv, tail: 0 } : { conv, after };
      socket.emit('join', request, (reply: SocketIoAck) => events.onJoined(conv, reply.head ?? 0));
    },
    send(conv, id, text) {
      socket.emit('send', { conv, id, text }, (reply: SocketIoAck) => {
        if (reply.error !== undefined || reply.seq === undefined) events.onError(reply.error ?? 'bad_ack', id);
        else events.onAck(id, reply.seq);
      });
    },
    close() {
      socket.disconnect();
    },
    kill() {
      socket.disconnect();
      finish('killed');
    },
  };
}
