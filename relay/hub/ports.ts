/**
 * What the hub needs of the world outside it, as small interfaces: a connection, a clock,
 * a logger, the uploaded files. Transports and stores adapt to these; the hub never
 * imports them (enforced by the linter), so it can be tested with fakes.
 */

export const SendResult = { sent: 'sent', buffered: 'buffered', dropped: 'dropped' } as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];

/** One client connection, as the transport (uWS) offers it. */
export interface WebSocketLike {
  /** `dropped` when the connection's send buffer was already over the transport's hard limit. */
  send(text: string): SendResult;
  close(code: number, reason: string): void;
  /** Bytes queued for this connection and not yet written to the network. */
  bufferedAmount(): number;
}

/** What the transport knows about a connection when it opens. */
export interface ConnectionInfo {
  /** The client's address (behind a trusted proxy: the one the proxy forwarded). */
  ip: string;
}

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Time and timers, injected so that tests of expiry, throttles and reordering need not sleep. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}
export type TimerHandle = { readonly __timer: unique symbol } | object;

export const systemClock: Clock = {
  now: Date.now,
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    // No timer of the hub keeps the process alive: shutdown does not wait for typing expiry.
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};

/** An uploaded file as the relay stored it: the truth about a `/files/<id>` reference. */
export interface StoredFile {
  name: string;
  type: string;
  size: number;
  conv: string;
}

export interface FileCatalog {
  /** The stored file behind a `/files/<id>` URL, or null when there is none. */
  describe(url: string): Promise<StoredFile | null>;
}

/**
 * What the hub reports for metrics (relay/metrics implements it with prom-client; the hub
 * never imports prom-client). Every method is cheap and synchronous; the default does nothing.
 */
export interface HubObserver {
  /** A connection opened (+1) or closed (-1). */
  connections(delta: 1 | -1): void;
  /** A conversation was joined (+1) or left / its connection closed (-1) by a session. */
  joinedSessions(delta: 1 | -1): void;
  /** A client frame arrived (`type` as decoded, or 'invalid'). */
  frameIn(type: string): void;
  /** A frame was sent to `receivers` clients (fan-out counts once per receiver). */
  frameOut(type: string, receivers: number): void;
  /** An `error` frame was sent with this code. */
  error(code: string): void;
  /** A store write (append or change) finished after `ms`. */
  appended(ms: number): void;
  /** A live event reached this relay's receivers `ms` after its store commit (same-relay clock). */
  fannedOut(ms: number): void;
  /** The bus reconnected (events may have been lost; clients were told to resync). */
  busReconnected(): void;
}

export const noObserver: HubObserver = {
  connections() {},
  joinedSessions() {},
  frameIn() {},
  frameOut() {},
  error() {},
  appended() {},
  fannedOut() {},
  busReconnected() {},
};
