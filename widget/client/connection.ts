/**
 * The connection: ONE state machine over a sequence of WebSockets.
 *
 *   idle → connecting → open → reconnecting → connecting → …
 *   any → offline (the browser says so) → connecting;  any → closed (for good)
 *
 * `open` means the relay accepted `hello` (welcome received). Lost sockets are replaced
 * after a full-jitter backoff, trying the next relay URL each time so that one dead relay
 * instance does not strand its users. A heartbeat catches sockets that died silently;
 * `offline` closes the socket ourselves because Chromium keeps a dead one "open".
 */
import { CloseCode, decodeServerFrame, ErrorCode, type ClientFrame, type HelloFrame, type ServerFrame, type WelcomeFrame } from '../../protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { Clock, TimerHandle } from './clock.js';
import { browserNetwork, type NetworkSignal } from './platform.js';
import type { ConnectionState } from './types.js';

/** What the connection needs of a WebSocket: the browser's, or `ws` in Node. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type SocketFactory = new (url: string) => SocketLike;

const OPEN = 1;

export type { NetworkSignal } from './platform.js';
export { browserNetwork } from './platform.js';

export const ConnectionDefaults = {
  /** Ping when nothing arrived for this long (below common 30–60 s proxy idle timeouts). */
  heartbeatMs: 25_000,
  /** No frame this long after a ping: the socket is dead. */
  heartbeatTimeoutMs: 10_000,
  /** From `new WebSocket` to `welcome`; browsers may take minutes to give up on a TCP connect. */
  connectTimeoutMs: 15_000,
} as const;

export interface ConnectionHandlers {
  onState(state: ConnectionState, previous: ConnectionState): void;
  onWelcome(frame: WelcomeFrame): void;
  /** Every validated frame after `welcome` (pongs excluded). */
  onFrame(frame: ServerFrame): void;
  /** The relay refused us for good (4401/4403): no reconnect loop. */
  onFatal(code: string, message: string): void;
  /** `hello()` rejected (e.g. `getToken` failed); the socket is given up and retried after a backoff. */
  onHelloFailed?(error: unknown): void;
}

export interface ConnectionOptions {
  /** One URL or several separated by commas. */
  urls: string;
  WebSocket: SocketFactory;
  /** The `hello` for a new socket; may wait for a fresh token (`getToken`). A rejection gives the socket up. */
  hello: () => HelloFrame | Promise<HelloFrame>;
  /** A 4401 close is retried once with a fresh `hello` before it is fatal (there is a `getToken` to ask). */
  retryUnauthorized?: boolean;
  handlers: ConnectionHandlers;
  clock: Clock;
  network?: NetworkSignal;
  backoff?: BackoffOptions;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  connectTimeoutMs?: number;
}

const TRANSITIONS: Record<ConnectionState, readonly ConnectionState[]> = {
  idle: ['connecting', 'offline', 'closed'],
  connecting: ['open', 'reconnecting', 'offline', 'closed'],
  open: ['reconnecting', 'offline', 'closed'],
  reconnecting: ['connecting', 'offline', 'closed'],
  offline: ['connecting', 'closed'],
  closed: [],
};

export function parseRelayUrls(urls: string): string[] {
  const list = urls
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (list.length === 0) throw new Error('relay: at least one WebSocket URL is needed');
  return list;
}

export class Connection {
  private _state: ConnectionState = 'idle';
  private readonly _o: ConnectionOptions;
  private readonly _urls: string[];
  private _urlIndex = 0;
  private _attempt = 0;
  private _socket: SocketLike | null = null;
  private _retryTimer: TimerHandle | undefined;
  private _heartbeatTimer: TimerHandle | undefined;
  private _connectTimer: TimerHandle | undefined;
  private _lastFrameAt = 0;
  private _pingSentAt: number | null = null;
  private _pingCount = 0;
  private _refusal: string | null = null;
  /** A 4401 was already retried with a fresh token since the last `welcome`. */
  private _unauthorizedRetried = false;
  private _unsubscribeNetwork: (() => void) | null = null;

  constructor(options: ConnectionOptions) {
    this._o = options;
    this._urls = parseRelayUrls(options.urls);
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The URL in use (or to be tried next). */
  get url(): string {
    return this._urls[this._urlIndex]!;
  }

  start(): void {
    if (this._state !== 'idle') return;
    const network = this._o.network ?? browserNetwork;
    this._unsubscribeNetwork = network.subscribe(
      () => this._online(),
      () => this._offline(),
    );
    if (!network.online) this._setState('offline');
    else this._connect();
  }

  /** Sends a frame if the relay accepted us; false otherwise (the caller resends after the next join). */
  send(frame: ClientFrame): boolean {
    if (this._state !== 'open' || !this._socket || this._socket.readyState !== OPEN) return false;
    this._socket.send(JSON.stringify(frame));
    return true;
  }

  /** For good: no reconnect after this. */
  stop(): void {
    if (this._state === 'closed') return;
    this._unsubscribeNetwork?.();
    this._unsubscribeNetwork = null;
    this._dropSocket(CloseCode.normal, 'client closed');
    this._clearTimers();
    this._setState('closed');
  }

  // ------------------------------------------------------------------ the state machine

  /** The only place the state changes. */
  private _setState(next: ConnectionState): void {
    const previous = this._state;
    if (previous === next) return;
    if (!TRANSITIONS[previous].includes(next)) return;
    this._state = next;
    this._o.handlers.onState(next, previous);
  }

  private _connect(): void {
    this._clearTimers();
    this._setState('connecting');
    this._refusal = null;
    const socket = new this._o.WebSocket(this.url);
    this._socket = socket;
    // Every handler checks that its socket is still current: a replaced socket may still fire.
    socket.onopen = () => {
      if (this._socket !== socket) return;
      const sendHello = (hello: HelloFrame): void => {
        if (this._socket === socket && socket.readyState === OPEN) socket.send(JSON.stringify(hello));
      };
      const hello = this._o.hello();
      // Synchronous when the credentials are at hand; a `getToken()` is waited for.
      if (!(hello instanceof Promise)) sendHello(hello);
      else
        hello.then(sendHello, (error: unknown) => {
          if (this._socket !== socket) return;
          this._o.handlers.onHelloFailed?.(error);
          this._dead();
        });
      this._frameArrived();
      this._scheduleHeartbeat(this._heartbeatMs);
    };
    socket.onmessage = (event) => {
      if (this._socket === socket) this._message(event.data);
    };
    socket.onclose = (event) => {
      if (this._socket === socket) this._lost(event.code, event.reason);
    };
    // `error` is always followed by `close`; nothing to do until then.
    socket.onerror = () => {};
    this._connectTimer = this._o.clock.setTimeout(() => {
      if (this._socket === socket && this._state === 'connecting') this._dead();
    }, this._o.connectTimeoutMs ?? ConnectionDefaults.connectTimeoutMs);
  }

  private _message(data: unknown): void {
    this._frameArrived();
    if (typeof data !== 'string') return;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const decoded = decodeServerFrame(json);
    // A frame this client does not understand is ignored rather than trusted.
    if (!decoded.ok) return;
    const frame = decoded.frame;
    if (frame.type === 'pong') return;
    if (frame.type === 'welcome') {
      this._attempt = 0;
      this._unauthorizedRetried = false;
      this._o.clock.clearTimeout(this._connectTimer);
      this._setState('open');
      this._o.handlers.onWelcome(frame);
      return;
    }
    if (frame.type === 'error' && frame.code === ErrorCode.unauthorized) {
      // The close 4401 that follows carries no detail; keep the relay's explanation for it.
      this._refusal = frame.message;
      return;
    }
    this._o.handlers.onFrame(frame);
  }

  /** The socket closed (or was given up on). */
  private _lost(code: number, reason: string): void {
    this._dropSocket();
    this._clearTimers();
    if (this._state === 'closed' || this._state === 'offline') return;
    const retry = code === CloseCode.unauthorized && this._o.retryUnauthorized === true && !this._unauthorizedRetried;
    if (retry) this._unauthorizedRetried = true;
    else if (code === CloseCode.unauthorized || code === CloseCode.originNotAllowed) {
      const errorCode = code === CloseCode.unauthorized ? ErrorCode.unauthorized : ErrorCode.forbidden;
      const message =
        this._refusal ?? (reason || (code === CloseCode.unauthorized ? 'the relay refused the credentials' : 'this page’s origin is not allowed by the relay'));
      this._setState('closed');
      this._unsubscribeNetwork?.();
      this._unsubscribeNetwork = null;
      this._o.handlers.onFatal(errorCode, message);
      return;
    }
    this._setState('reconnecting');
    this._urlIndex = (this._urlIndex + 1) % this._urls.length;
    const delay = backoffDelay(this._attempt++, this._o.backoff);
    this._retryTimer = this._o.clock.setTimeout(() => this._connect(), delay);
  }

  /** Given up on without a close event (heartbeat or connect timeout): the close event may never come. */
  private _dead(): void {
    this._lost(4000, 'no answer from the relay');
  }

  private _online(): void {
    if (this._state !== 'offline' && this._state !== 'reconnecting') return;
    this._attempt = 0;
    this._connect();
  }

  private _offline(): void {
    if (this._state === 'closed' || this._state === 'idle') return;
    this._dropSocket(CloseCode.normal, 'offline');
    this._clearTimers();
    this._setState('offline');
  }

  // ------------------------------------------------------------------ heartbeat

  private get _heartbeatMs(): number {
    return this._o.heartbeatMs ?? ConnectionDefaults.heartbeatMs;
  }

  private _frameArrived(): void {
    this._lastFrameAt = this._o.clock.now();
    this._pingSentAt = null;
  }

  private _scheduleHeartbeat(delay: number): void {
    this._o.clock.clearTimeout(this._heartbeatTimer);
    this._heartbeatTimer = this._o.clock.setTimeout(() => this._heartbeat(), Math.max(0, delay));
  }

  /** Cheap on busy sockets: frames only record a time; this timer decides when to ping or give up. */
  private _heartbeat(): void {
    const socket = this._socket;
    if (!socket) return;
    const now = this._o.clock.now();
    const timeout = this._o.heartbeatTimeoutMs ?? ConnectionDefaults.heartbeatTimeoutMs;
    if (this._pingSentAt !== null) {
      const waited = now - this._pingSentAt;
      if (waited >= timeout) return this._dead();
      return this._scheduleHeartbeat(timeout - waited);
    }
    const idle = now - this._lastFrameAt;
    if (idle < this._heartbeatMs) return this._scheduleHeartbeat(this._heartbeatMs - idle);
    if (socket.readyState === OPEN) socket.send(JSON.stringify({ type: 'ping', ref: `ping-${++this._pingCount}` }));
    this._pingSentAt = now;
    this._scheduleHeartbeat(timeout);
  }

  // ------------------------------------------------------------------ helpers

  /** Detaches and closes the current socket, so nothing it does later reaches us. */
  private _dropSocket(code?: number, reason?: string): void {
    const socket = this._socket;
    if (!socket) return;
    this._socket = null;
    socket.onopen = socket.onmessage = socket.onclose = null;
    // Kept as a no-op: `ws` in Node throws an unhandled 'error' when a connecting socket is closed without a listener.
    socket.onerror = () => {};
    try {
      socket.close(code, reason);
    } catch {
      // Closing a socket that never opened throws in some implementations; it is gone either way.
    }
  }

  private _clearTimers(): void {
    for (const timer of [this._retryTimer, this._heartbeatTimer, this._connectTimer]) this._o.clock.clearTimeout(timer);
    this._retryTimer = this._heartbeatTimer = this._connectTimer = undefined;
  }
}
