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
}

/**
 * uWS drops a connection whose frame exceeds maxPayloadLength without a close frame, so
 * it is set above the protocol's 64 KiB: the hub then answers `too_large` and closes with
 * 1009 itself. Only frames over this hard limit get the abrupt treatment.
 */
const HARD_FRAME_LIMIT = 16 * Limits.maxFrameBytes;
const MAX_BACKPRESSURE = 1024 * 1024;

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
    maxBackpressure: MAX_BACKPRESSURE,
    // Frames dropped for a slow client are repaired with `resync`, not by disconnecting it.
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
      if (data.session) hub.closed(data.session);
      data.session = undefined;
    },
  });
}

/** Adapts a uWS socket to the hub's WebSocketLike. */
export function adapt<T>(ws: WebSocket<T>): WebSocketLike {
  let open = true;
  return {
    send(text: string): SendResult {
      if (!open) return SendResult.dropped;
      const status = ws.send(text, false);
      return status === 1 ? SendResult.sent : status === 0 ? SendResult.buffered : SendResult.dropped;
    },
    close(code: number, reason: string): void {
      if (!open) return;
      open = false;
      ws.end(code, reason);
    },
    bufferedAmount(): number {
      return open ? ws.getBufferedAmount() : 0;
    },
  };
}
