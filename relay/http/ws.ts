/**
 * The /ws route: upgrades, and hands every frame, drain and close to the hub. Chat rules live
 * in the hub; this file only copies what it needs out of uWS objects while they are alive.
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { CloseCode, Limits } from '../../protocol/index.js';
import { SendResult, type Hub, type Session, type WebSocketLike } from '../hub/index.js';
import type { Uws } from '../uws.js';
import { clientAddress, type TrustedProxies } from './client-address.js';
import type { Cors } from './cors.js';
import { refuseAmbiguousFraming } from './framing.js';

interface SocketData {
  session?: Session;
  originRejected: boolean;
  /** The client's address, taken at the upgrade (see client-address.ts). */
  ip: string;
  /** Set by the close handler: the socket is gone, and must not be touched again. */
  closed?: boolean;
}

/**
 * uWS drops a connection whose frame exceeds maxPayloadLength without a close frame, so
 * it is set above the protocol's 64 KiB: the hub then answers `too_large` and closes with
 * 1009 itself. Only frames over this hard limit get the abrupt treatment.
 */
const HARD_FRAME_LIMIT = 16 * Limits.maxFrameBytes;
/**
 * A close frame queued behind data the client never reads never arrives: after this long
 * the socket is cut (the client sees 1006) so that its queued bytes are freed.
 */
const CLOSE_GRACE_MS = 2000;

export interface WebSocketRouteOptions {
  uws: Uws;
  hub: Hub;
  cors: Cors;
  trustedProxies: TrustedProxies;
}

export function registerWebSocket(app: TemplatedApp, { uws, hub, cors, trustedProxies }: WebSocketRouteOptions): void {
  app.ws<SocketData>('/ws', {
    compression: uws.DISABLED,
    maxPayloadLength: HARD_FRAME_LIMIT,
    idleTimeout: 60,
    sendPingsAutomatically: true,
    // The hub stops queueing events at sendQueueBytes and closes a client that stays there;
    // uWS refuses (DROPPED) anything beyond twice that, which the hub answers by closing the
    // connection, so a reply is never lost silently and the queue is bounded in bytes.
    maxBackpressure: 2 * hub.limits.sendQueueBytes,
    closeOnBackpressureLimit: 0,
    upgrade: (res, req, context) => {
      if (refuseAmbiguousFraming(res, req, cors)) return;
      const origin = req.getHeader('origin');
      const ip = clientAddress(res, req, trustedProxies);
      res.upgrade<SocketData>(
        { originRejected: !cors.allows(origin), ip },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const data = ws.getUserData();
      // Upgraded then closed, so that browsers (which hide a refused upgrade's status) see why.
      if (data.originRejected) return ws.end(CloseCode.originNotAllowed, 'origin not allowed');
      data.session = hub.open(adapt(ws), { ip: data.ip });
    },
    message: (ws, message, isBinary) => {
      const session = ws.getUserData().session;
      if (!session) return;
      hub.message(session, isBinary ? null : Buffer.from(message).toString('utf8'));
    },
    drain: (ws) => {
      const session = ws.getUserData().session;
      if (session) hub.drained(session);
    },
    close: (ws) => {
      const data = ws.getUserData();
      data.closed = true;
      if (data.session) hub.closed(data.session);
      data.session = undefined;
    },
  });
}

/**
 * The UTF-8 bytes of the last text sent. A fan-out hands the same string (serialized once)
 * to every receiver; uWS would encode a JS string again for each socket, so it is encoded
 * once here and every socket gets the same bytes.
 */
let lastText: string | null = null;
let lastBytes: Buffer = Buffer.alloc(0);
function utf8(text: string): Buffer {
  if (text !== lastText) {
    lastBytes = Buffer.from(text, 'utf8');
    lastText = text;
  }
  return lastBytes;
}

/** Adapts a uWS socket to the hub's WebSocketLike. */
export function adapt<T extends { closed?: boolean }>(ws: WebSocket<T>): WebSocketLike {
  let open = true;
  // Read now: a uWS socket throws on any access once it is closed.
  const data = ws.getUserData();
  return {
    send(text: string): SendResult {
      if (!open) return SendResult.dropped;
      const status = ws.send(utf8(text), false);
      return status === 1 ? SendResult.sent : status === 0 ? SendResult.buffered : SendResult.dropped;
    },
    close(code: number, reason: string): void {
      if (!open) return;
      open = false;
      ws.end(code, reason);
      setTimeout(() => {
        if (!data.closed) ws.close();
      }, CLOSE_GRACE_MS).unref();
    },
    bufferedAmount(): number {
      return open ? ws.getBufferedAmount() : 0;
    },
  };
}
