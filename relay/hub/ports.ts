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

/**
 * Live events of a conversation to every connection that follows it, in one call per event.
 * uWS's topics (`app.publish`) copy the bytes to each subscriber natively and write each
 * socket once per event-loop turn (corked), where a JS loop of sends costs a native call and
 * a write per receiver. The hub subscribes a connection only while its membership is live
 * (after the join's replay) and it keeps up; it checks each receiver's queue before it
 * publishes, so a topic never carries an event to a client that could not queue it.
 */
export interface Topics {
  subscribe(conn: WebSocketLike, topic: string): void;
  unsubscribe(conn: WebSocketLike, topic: string): void;
  /** Queues `text` for every subscriber of `topic`, in publish order with the connection's other sends. */
  publish(topic: string, text: string): void;
  /**
   * Bytes published that the transport may not have queued on every subscriber's socket yet
   * (uWS writes published frames at the end of the event-loop turn): the hub adds them to a
   * receiver's queue when it checks the bound.
   */
  pendingBytes(): number;
}

/**
 * Topics without a transport's help (tests, fake connections): one send per subscriber, at
 * once. A send the connection refuses is reported, so that it is repaired (resync), never lost.
 */
export class LocalTopics implements Topics {
  private readonly _topics = new Map<string, Set<WebSocketLike>>();

  constructor(private readonly _refused: (conn: WebSocketLike, topic: string) => void) {}

  subscribe(conn: WebSocketLike, topic: string): void {
    let conns = this._topics.get(topic);
    if (!conns) this._topics.set(topic, (conns = new Set()));
    conns.add(conn);
  }

  unsubscribe(conn: WebSocketLike, topic: string): void {
    const conns = this._topics.get(topic);
    if (!conns) return;
    conns.delete(conn);
    if (conns.size === 0) this._topics.delete(topic);
  }

  publish(topic: string, text: string): void {
    const conns = this._topics.get(topic);
    if (!conns) return;
    for (const conn of [...conns]) if (conn.send(text) === SendResult.dropped) this._refused(conn, topic);
  }

  pendingBytes(): number {
    return 0;
  }
}
