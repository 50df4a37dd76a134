/**
 * The /ws route: upgrades, and hands every frame, drain and close to the hub. Chat rules live
 * in the hub; this file only copies what it needs out of uWS objects while they are alive.
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { CloseCode, Limits } from '../../protocol/index.js';
import { SendResult, type Hub, type Session, type WebSocketLike } from '../hub/index.js';
import type { Topics } from '../hub/ports.js';
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
  // After app.ws(): uWS creates its topic tree with the first WebSocket route (asked before, it crashes).
  // Its pure-JS fallback (ALLOW_UWS_FALLBACK) has no topics: the hub then sends to each receiver itself.
  if (hasTopics(app)) hub.useTopics(new UwsTopics(app));
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

/** The native uWS has topics; the pure-JS fallback throws "Not implemented" for them. Only after app.ws(). */
function hasTopics(app: TemplatedApp): boolean {
  try {
    app.numSubscribers('');
    return true;
  } catch {
    return false;
  }
}

/** A uWS socket as the hub sees it, plus what UwsTopics needs of it. */
interface UwsConnection extends WebSocketLike {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

/**
 * The hub's live fan-out on uWS topics: one `app.publish` per event, and uWS copies the bytes
 * to every subscriber natively, corked, at the end of the event-loop turn (a socket's own
 * send first writes what was published to it, so the order of its frames is kept).
 */
class UwsTopics implements Topics {
  /** Bytes published in this turn and the previous one: what a subscriber may still have to write. */
  private _thisTurn = 0;
  private _lastTurn = 0;
  private _turnEnds: NodeJS.Immediate | null = null;

  constructor(private readonly _app: TemplatedApp) {}

  subscribe(conn: WebSocketLike, topic: string): void {
    (conn as UwsConnection).subscribe(topic);
  }

  unsubscribe(conn: WebSocketLike, topic: string): void {
    (conn as UwsConnection).unsubscribe(topic);
  }

  publish(topic: string, text: string): void {
    const bytes = utf8(text);
    this._app.publish(topic, bytes, false, false);
    this._thisTurn += bytes.length;
    // uWS writes published frames in its check phase; whether that runs before or after this
    // immediate is libuv's business, so a turn's bytes are counted until the next turn ends.
    this._turnEnds ??= setImmediate(() => this._endTurn());
  }

  pendingBytes(): number {
    return this._thisTurn + this._lastTurn;
  }

  private _endTurn(): void {
    this._lastTurn = this._thisTurn;
    this._thisTurn = 0;
    this._turnEnds = this._lastTurn > 0 ? setImmediate(() => this._endTurn()) : null;
  }
}

/** Adapts a uWS socket to the hub's WebSocketLike. */
export function adapt<T extends { closed?: boolean }>(ws: WebSocket<T>): UwsConnection {
  let open = true;
  // Read now: a uWS socket throws on any access once it is closed.
  const data = ws.getUserData();
  return {
    subscribe(topic: string): void {
      if (open && !data.closed) ws.subscribe(topic);
    },
    unsubscribe(topic: string): void {
      // A closed socket has left its topics already (and must not be touched).
      if (open && !data.closed) ws.unsubscribe(topic);
    },
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
