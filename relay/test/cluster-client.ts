/**
 * A protocol client for the scale-out tests that behaves like the widget's client core
 * where it matters for correctness, so the tests prove what real clients would see:
 * - an outbox: every message is kept until acked, and resent with the SAME id after a
 *   reconnect (and on demand, e.g. after `unavailable`);
 * - an ordering view: log events (v1.1: `msg` and `update`) are kept by seq, duplicates
 *   dropped, and a seq gap is filled with `history after`;
 * - a materialised view (v1.1): every message in its current state, built from `msg` objects
 *   and `update` events with the protocol's rule (an update applies only above the message's
 *   `rev`; a `msg` in a newer state replaces an older one), so tests can compare what two
 *   clients ended up showing;
 * - `resync` is answered by re-joining with the highest contiguous seq held;
 * - failover: when its relay goes away, it reconnects to the next relay URL.
 * It counts every `msg` frame per seq too, so tests can also check exactly-once delivery.
 */
import WebSocket from 'ws';
import { ErrorCode, type LogEvent, type ServerFrame } from '../../protocol/index.js';

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
type Msg = Frame<'msg'>;
type Update = Frame<'update'>;

/**
 * Applies one log event to a materialised view (message id → message in its current state),
 * as a v1.1 client must: returns false when the event was already in (so nothing is applied twice).
 */
export function applyEvent(view: Map<string, Msg>, event: LogEvent): boolean {
  if (event.type === 'msg') {
    const held = view.get(event.id);
    if (held && (held.rev ?? held.seq) >= (event.rev ?? event.seq)) return false;
    view.set(event.id, event);
    return true;
  }
  const held = view.get(event.id);
  // An update of a message not held yet is skipped: the message arrives later in its current state.
  if (!held || event.seq <= (held.rev ?? held.seq)) return false;
  view.set(event.id, applyUpdate(held, event));
  return true;
}

function applyUpdate(message: Msg, update: Update): Msg {
  const next: Msg = { ...message, rev: update.seq };
  if (update.edit) {
    next.text = update.edit.text;
    next.edited = update.ts;
  } else if (update.delete) {
    next.deleted = true;
    delete next.text;
    delete next.file;
  } else if (update.react) {
    const reactions = { ...(message.reactions ?? {}) };
    const users = (reactions[update.react.emoji] ?? []).filter((u) => u !== update.by.id);
    if (update.react.on) users.push(update.by.id);
    if (users.length > 0) reactions[update.react.emoji] = users;
    else delete reactions[update.react.emoji];
    if (Object.keys(reactions).length > 0) next.reactions = reactions;
    else delete next.reactions;
  }
  return next;
}

const State = { connecting: 'connecting', joining: 'joining', ready: 'ready', closed: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

export interface ClusterClientOptions {
  user: string;
  conv: string;
  /** Relays to use, first one first; on disconnect the client moves on to the next. */
  urls: readonly string[];
  /** Resend the outbox after every (re)join, as the widget does. Default true. */
  resendOnJoin?: boolean;
  /** A JWT for relays with a secret; without it the client says hello in open mode. */
  token?: string;
}

/** Every client not yet closed, so a failing test can still stop their reconnect loops. */
const open = new Set<ClusterClient>();

/** Closes every client that a test left open (call it from `after`/`finally`). */
export function closeAllClients(): void {
  for (const client of [...open]) client.close();
}

export class ClusterClient {
  readonly user: string;
  readonly conv: string;
  /** Every log event held, by seq (deduplicated): `msg` and, v1.1, `update`. */
  readonly held = new Map<number, LogEvent>();
  /** Every message in its current state, by id (v1.1 materialised view). */
  readonly view = new Map<string, Msg>();
  /** Log events applied to the view (a replayed or repeated one is not). */
  applied = 0;
  /** How many `msg` and `update` frames arrived per seq, live or replayed. */
  readonly deliveries = new Map<number, number>();
  /** Unacked messages: id → text, in send order. */
  readonly outbox = new Map<string, string>();
  readonly acks = new Map<string, { seq: number; ts: number }>();
  readonly errors: Array<Frame<'error'>> = [];
  readonly typing: Array<Frame<'typing'>> = [];
  readonly receipts: Array<Frame<'receipt'>> = [];
  readonly memberEvents: Array<Frame<'member'>> = [];
  readonly presence: Array<Frame<'presence'>> = [];
  /** The last `joined` received. */
  lastJoined: Frame<'joined'> | null = null;
  /** Highest seq such that 1..contiguous are all held. */
  contiguous = 0;
  /** Head reported by the last `joined`. */
  joinedHead = 0;
  resyncs = 0;
  reconnects = 0;
  private _state: State = State.connecting;
  private _ws: WebSocket | null = null;
  private _urlIndex = 0;
  private readonly _urls: readonly string[];
  private readonly _resendOnJoin: boolean;
  private readonly _token: string | undefined;
  /** Replies by ref (acks and errors of frames sent with ask()). */
  private readonly _replies = new Map<string, ServerFrame>();
  private _askRef = 0;
  private _historyPending = false;
  private _joinRef = 0;
  private _readyWaiters: Array<() => void> = [];
  /** Set by disconnect(): the next connection is made by reconnect(), not on close. */
  private _dropping = false;

  private constructor(options: ClusterClientOptions) {
    this.user = options.user;
    this.conv = options.conv;
    this._urls = options.urls;
    this._resendOnJoin = options.resendOnJoin ?? true;
    this._token = options.token;
  }

  /** Connects, says hello (open mode), joins the conversation and resolves once joined. */
  static async connect(options: ClusterClientOptions): Promise<ClusterClient> {
    const client = new ClusterClient(options);
    open.add(client);
    client._open();
    await client.ready();
    return client;
  }

  get state(): State {
    return this._state;
  }

  /** The URL of the relay currently used. */
  get url(): string {
    return this._urls[this._urlIndex % this._urls.length]!;
  }

  ready(timeoutMs = 20_000): Promise<void> {
    if (this._state === State.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.user} not joined within ${timeoutMs} ms (${this._state})`)), timeoutMs);
      this._readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Puts a message in the outbox and sends it if connected. */
  send(id: string, text = `${this.user}:${id}`): void {
    this.outbox.set(id, text);
    if (this._state === State.ready) this._frame({ type: 'send', conv: this.conv, id, text });
  }

  /** Resends every unacked message with its original id. */
  resendOutbox(): void {
    if (this._state !== State.ready) return;
    for (const [id, text] of this.outbox) this._frame({ type: 'send', conv: this.conv, id, text });
  }

  sendTyping(active: boolean): void {
    this._frame({ type: 'typing', conv: this.conv, active });
  }

  sendReceipt(cursors: { delivered?: number; read?: number }): void {
    this._frame({ type: 'receipt', conv: this.conv, ...cursors });
  }

  /** Sends any client frame of this conversation as is (edit, delete, react, ban, a send with reply…). */
  sendFrame(frame: { type: string; [field: string]: unknown }): void {
    this._frame({ conv: this.conv, ...frame });
  }

  /** Sends a frame of this conversation with a fresh ref and resolves the relay's reply (ack or error). */
  async ask(frame: { type: string; [field: string]: unknown }, timeoutMs = 20_000): Promise<ServerFrame> {
    const ref = `ask-${this.user}-${++this._askRef}`;
    this.sendFrame({ ...frame, ref });
    await this.until(() => this._replies.has(ref), `the reply to ${JSON.stringify(frame)}`, timeoutMs);
    const reply = this._replies.get(ref)!;
    this._replies.delete(ref);
    return reply;
  }

  /** Asks for everything after the contiguous seq (what a widget does on reload or focus). */
  catchUp(): void {
    this._requestHistory(true);
  }

  /** Seqs held, ascending. */
  seqs(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** The messages held (not updates), ascending by seq. */
  messages(): Msg[] {
    return this.seqs()
      .map((seq) => this.held.get(seq)!)
      .filter((event): event is Msg => event.type === 'msg');
  }

  async until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.user}: timed out waiting for ${what} (state ${this._state}, contiguous ${this.contiguous}, held ${this.held.size}, ` +
            `outbox ${this.outbox.size}, acks ${this.acks.size}, errors ${this.errors.length})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  close(): void {
    open.delete(this);
    this._setState(State.closed);
    this._ws?.close();
  }

  /** Drops the connection and stays away until reconnect() (what a client offline for a while does). */
  async disconnect(): Promise<void> {
    const ws = this._ws;
    this._dropping = true;
    this._historyPending = false;
    this._setState(State.connecting);
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      });
    }
  }

  /** Connects again (to `url` when given) and resumes with `join after` the contiguous seq it holds. */
  async reconnect(url?: string): Promise<void> {
    if (url !== undefined) {
      const index = this._urls.indexOf(url);
      if (index < 0) throw new Error(`${url} is not one of this client's relays`);
      this._urlIndex = index;
    }
    this._dropping = false;
    this.reconnects++;
    this._open();
    await this.ready();
  }

  // ------------------------------------------------------------------ internals

  /** The only place the state changes. */
  private _setState(next: State): void {
    if (this._state === State.closed) return;
    this._state = next;
    if (next === State.ready) for (const wake of this._readyWaiters.splice(0)) wake();
  }

  private _open(): void {
    const ws = new WebSocket(this.url);
    this._ws = ws;
    this._setState(State.connecting);
    ws.on('open', () => this._frame(this._token ? { type: 'hello', v: 1, token: this._token } : { type: 'hello', v: 1, user: this.user }));
    ws.on('message', (data) => this._onFrame(JSON.parse(data.toString()) as ServerFrame));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this._ws !== ws || this._state === State.closed || this._dropping) return;
      // The relay went away (or never answered): fail over to the next one.
      this._urlIndex++;
      this.reconnects++;
      this._historyPending = false;
      this._setState(State.connecting);
      setTimeout(() => this._state !== State.closed && this._open(), 100);
    });
  }

  private _frame(frame: object): void {
    if (this._ws?.readyState === WebSocket.OPEN) this._ws.send(JSON.stringify(frame));
  }

  private _join(): void {
    this._setState(this._state === State.ready ? State.ready : State.joining);
    this._frame({ type: 'join', conv: this.conv, after: this.contiguous, ref: `join-${++this._joinRef}` });
  }

  private _onFrame(frame: ServerFrame): void {
    if ('ref' in frame && typeof frame.ref === 'string' && frame.ref.startsWith('ask-')) this._replies.set(frame.ref, frame);
    switch (frame.type) {
      case 'welcome':
        this._join();
        return;
      case 'joined':
        this.joinedHead = frame.head;
        this.lastJoined = frame;
        if (this._state !== State.ready) {
          this._setState(State.ready);
          if (this._resendOnJoin) this.resendOutbox();
        }
        return;
      case 'msg':
      case 'update':
        this._hold(frame);
        this.deliveries.set(frame.seq, (this.deliveries.get(frame.seq) ?? 0) + 1);
        this._requestHistory(false);
        return;
      case 'presence':
        this.presence.push(frame);
        return;
      case 'history':
        this._historyPending = false;
        for (const message of frame.messages) this._hold(message);
        this._requestHistory(frame.more);
        return;
      case 'ack':
        if (typeof frame.ref === 'string' && frame.ref.startsWith('ask-')) return; // answered through ask()
        this.outbox.delete(frame.id);
        this.acks.set(frame.id, { seq: frame.seq, ts: frame.ts });
        return;
      case 'resync':
        this.resyncs++;
        this._join();
        return;
      case 'typing':
        this.typing.push(frame);
        return;
      case 'receipt':
        this.receipts.push(frame);
        return;
      case 'member':
        this.memberEvents.push(frame);
        return;
      case 'error':
        this.errors.push(frame);
        if (frame.code === ErrorCode.unavailable && typeof frame.ref === 'string' && frame.ref.startsWith('join-')) {
          // The store is down while (re)joining: try again shortly, as the widget's backoff would.
          setTimeout(() => this._state !== State.closed && this._join(), 200);
        }
        if (frame.code === ErrorCode.unavailable && frame.ref === 'history') this._historyPending = false;
        return;
      default:
        return;
    }
  }

  private _hold(event: LogEvent): void {
    if (event.conv !== this.conv) return;
    if (applyEvent(this.view, event)) this.applied++;
    this.held.set(event.seq, event);
    while (this.held.has(this.contiguous + 1)) this.contiguous++;
  }

  /** Fills a seq gap (or, when `force`, fetches whatever is newer) with `history after`. */
  private _requestHistory(force: boolean): void {
    if (this._historyPending || this._state !== State.ready) return;
    const gap = this.held.size > this.contiguous;
    if (!gap && !force) return;
    this._historyPending = true;
    this._frame({ type: 'history', conv: this.conv, after: this.contiguous, limit: 200, ref: 'history' });
  }
}

/** Starts many clients at once. */
export function connectAll(options: ClusterClientOptions[]): Promise<ClusterClient[]> {
  return Promise.all(options.map((o) => ClusterClient.connect(o)));
}
