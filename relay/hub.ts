/**
 * The hub: the relay's domain. It knows sessions, conversations, sequencing, typing expiry
 * and receipts, and speaks to the outside only through small interfaces — a
 * `WebSocketLike` per connection, a `Store` and a `Bus` — so it can be tested without
 * sockets and does not change when the store or the bus does.
 *
 * Delivery path: a stored message is published on the bus, and every instance (this one
 * included, via the bus) sends it to its own joined sessions. So a message reaches each
 * client exactly once whether one relay runs or ten.
 */
import { randomUUID } from 'node:crypto';
import {
  CloseCode,
  ErrorCode,
  Limits,
  PROTOCOL_VERSION,
  parseClientFrame,
  type ClientFrame,
  type HelloFrame,
  type HistoryFrame,
  type JoinFrame,
  type ReceiptFrame,
  type SendFrame,
  type ServerFrame,
  type TypingFrame,
} from '../protocol/index.js';
import { AuthError, canAccess, type Authenticator, type Identity } from './hub/handshake.js';
import type { Bus, BusEvent, BusFactory } from './bus/types.js';
import { StoreUnavailableError, type Store } from './store/types.js';

/**
 * Per connection. Generous on purpose: a person never comes near it, while bots, bulk
 * imports and an outbox flushed after a long offline spell must not be cut off; it exists
 * to stop floods, which it throttles to this rate (and closes with 4429 if they persist).
 */
export const DEFAULT_RATE_LIMIT = { perSecond: 200, burst: 1000 } as const;

export const SendResult = { sent: 'sent', buffered: 'buffered', dropped: 'dropped' } as const;
export type SendResult = (typeof SendResult)[keyof typeof SendResult];

/** What the hub needs of a connection; the transport adapts uWS (or anything else) to it. */
export interface WebSocketLike {
  send(text: string): SendResult;
  close(code: number, reason: string): void;
  /** Bytes queued for this connection and not yet written to the network. */
  bufferedAmount(): number;
}

/** What the transport knows about a connection when it opens. */
export interface ConnectionInfo {
  /** The client's address (behind a trusted proxy: the one it forwarded). */
  ip: string;
}

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface HubOptions {
  store: Store;
  busFactory: BusFactory;
  auth: Authenticator;
  logger: Logger;
  maxUploadBytes: number;
  helloTimeoutMs?: number;
  typingExpiryMs?: number;
  /** Token bucket per connection: sustained frames per second and burst size. */
  rateLimit?: { perSecond: number; burst: number };
  /** Bad or rate-limited frames tolerated within `abuseWindowMs` before closing with 4429. */
  abuseLimit?: number;
  abuseWindowMs?: number;
  /** Catch-up pauses while a connection has more than this many bytes queued. */
  catchUpHighWater?: number;
  now?: () => number;
}

type Ref = string | number | undefined;

/** A joined conversation of one session: live, or still replaying stored messages. */
interface Membership {
  live: boolean;
  /** Events that arrived during catch-up, delivered (deduplicated) once it ends. */
  buffered: BusEvent[];
}

const Phase = { awaitingHello: 'awaiting_hello', authenticating: 'authenticating', ready: 'ready', closed: 'closed' } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class Session {
  identity: Identity | null = null;
  readonly memberships = new Map<string, Membership>();
  /** Frames that arrived while `hello` was being verified, handled in order afterwards. */
  readonly queued: ClientFrame[] = [];
  /** Conversations for which frames were dropped under backpressure: `resync` once drained. */
  readonly resyncPending = new Set<string>();
  private _phase: Phase = Phase.awaitingHello;
  helloTimer: NodeJS.Timeout | undefined;
  tokens: number;
  lastRefill: number;
  strikes = 0;
  strikeWindowStart = 0;
  drainWaiters: Array<() => void> = [];

  constructor(
    readonly id: number,
    readonly conn: WebSocketLike,
    burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.lastRefill = now;
  }

  get phase(): Phase {
    return this._phase;
  }

  /** The only place a session's phase changes. */
  setPhase(next: Phase): void {
    if (this._phase === Phase.closed) return;
    this._phase = next;
  }

  get userId(): string | undefined {
    return this.identity?.user.id;
  }
}

export class Hub {
  readonly instanceId = randomUUID();
  private readonly _store: Store;
  private readonly _auth: Authenticator;
  private readonly _log: Logger;
  private readonly _now: () => number;
  private readonly _helloTimeoutMs: number;
  private readonly _typingExpiryMs: number;
  private readonly _rate: { perSecond: number; burst: number };
  private readonly _abuseLimit: number;
  private readonly _abuseWindowMs: number;
  private readonly _highWater: number;
  private readonly _maxUploadBytes: number;
  private _bus!: Bus;
  private readonly _busFactory: BusFactory;
  private _nextSessionId = 1;
  private readonly _sessions = new Set<Session>();
  /** Local sessions joined to each conversation. */
  private readonly _conversations = new Map<string, Set<Session>>();
  /** Per conversation: restores seq order of messages that reach this instance out of order. */
  private readonly _sequencers = new Map<string, Sequencer>();
  /** The bus subscription of each conversation in `_conversations` (pending or done). */
  private readonly _subscriptions = new Map<string, Promise<void> | void>();
  /** Typing expiry timers for users typing through THIS instance (it owns their expiry). */
  private readonly _typingTimers = new Map<string, NodeJS.Timeout>();
  /** Who is typing in each conversation, as seen on the bus (all instances). */
  private readonly _typingView = new Map<string, Map<string, NodeJS.Timeout>>();
  private _closing = false;

  constructor(options: HubOptions) {
    this._store = options.store;
    this._busFactory = options.busFactory;
    this._auth = options.auth;
    this._log = options.logger;
    this._now = options.now ?? Date.now;
    this._helloTimeoutMs = options.helloTimeoutMs ?? Limits.helloTimeoutMs;
    this._typingExpiryMs = options.typingExpiryMs ?? Limits.typingExpiryMs;
    this._rate = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this._abuseLimit = options.abuseLimit ?? 20;
    this._abuseWindowMs = options.abuseWindowMs ?? 10_000;
    this._highWater = options.catchUpHighWater ?? 256 * 1024;
    this._maxUploadBytes = options.maxUploadBytes;
  }

  async start(): Promise<void> {
    this._bus = await this._busFactory({
      onEvent: (conv, event) => this._onBusEvent(conv, event),
      onGap: (convs) => this._onBusGap(convs),
    });
  }

  get sessionCount(): number {
    return this._sessions.size;
  }

  // ------------------------------------------------------------------ connection lifecycle

  open(conn: WebSocketLike, _info: ConnectionInfo = { ip: '' }): Session {
    const session = new Session(this._nextSessionId++, conn, this._rate.burst, this._now());
    this._sessions.add(session);
    session.helloTimer = setTimeout(() => {
      if (session.phase === Phase.awaitingHello || session.phase === Phase.authenticating) {
        this._close(session, CloseCode.helloTimeout, 'no hello in time');
      }
    }, this._helloTimeoutMs);
    return session;
  }

  /** The connection closed (for whatever reason); forget everything about it. */
  closed(session: Session): void {
    if (session.phase === Phase.closed) return;
    session.setPhase(Phase.closed);
    clearTimeout(session.helloTimer);
    this._sessions.delete(session);
    for (const conv of [...session.memberships.keys()]) this._leave(session, conv);
    for (const wake of session.drainWaiters.splice(0)) wake();
  }

  /** The connection's send buffer drained: send the resyncs that dropped frames made necessary. */
  drained(session: Session): void {
    for (const wake of session.drainWaiters.splice(0)) wake();
    if (session.resyncPending.size === 0 || session.conn.bufferedAmount() > this._highWater) return;
    const convs = [...session.resyncPending];
    session.resyncPending.clear();
    for (const conv of convs) {
      if (session.memberships.has(conv)) this._sendFrame(session, { type: 'resync', conv });
    }
  }

  /** One frame from the client: binary frames are refused; text is parsed, checked, handled. */
  message(session: Session, data: string | null): void {
    if (session.phase === Phase.closed) return;
    if (this._closing) {
      this._error(session, ErrorCode.unavailable, 'relay is shutting down; reconnect shortly', undefined);
      return;
    }
    if (data === null) {
      this._reject(session, ErrorCode.badFrame, 'frames must be text (JSON), not binary', undefined);
      return;
    }
    if (Buffer.byteLength(data) > Limits.maxFrameBytes) {
      // Too large to be trusted as a frame: say why, then close with the standard 1009.
      this._error(session, ErrorCode.tooLarge, `frame is larger than ${Limits.maxFrameBytes} bytes`, undefined);
      this._close(session, CloseCode.frameTooLarge, 'frame too large');
      return;
    }
    const decoded = parseClientFrame(data);
    if (!decoded.ok) {
      this._reject(session, decoded.code, decoded.message, decoded.ref);
      return;
    }
    const frame = decoded.frame;
    if (!this._takeToken(session)) {
      this._reject(session, ErrorCode.rateLimited, 'too many frames; slow down', frame.ref, frameSubject(frame));
      return;
    }
    switch (session.phase) {
      case Phase.awaitingHello:
        if (frame.type === 'hello') void this._hello(session, frame);
        else this._reject(session, ErrorCode.unauthenticated, 'send hello first', frame.ref, frameSubject(frame));
        return;
      case Phase.authenticating:
        if (session.queued.length >= 100) {
          this._reject(session, ErrorCode.rateLimited, 'too many frames before welcome', frame.ref, frameSubject(frame));
        } else session.queued.push(frame);
        return;
      case Phase.ready:
        this._dispatch(session, frame);
        return;
    }
  }

  private _dispatch(session: Session, frame: ClientFrame): void {
    switch (frame.type) {
      case 'hello':
        this._reject(session, ErrorCode.badFrame, 'hello was already accepted on this connection', frame.ref);
        return;
      case 'join':
        void this._join(session, frame);
        return;
      case 'leave':
        if (!session.memberships.has(frame.conv)) {
          this._error(session, ErrorCode.notJoined, `not joined to ${frame.conv}`, frame.ref, { conv: frame.conv });
        } else this._leave(session, frame.conv);
        return;
      case 'send':
        this._send(session, frame);
        return;
      case 'history':
        void this._history(session, frame);
        return;
      case 'typing':
        this._typing(session, frame);
        return;
      case 'receipt':
        void this._receipt(session, frame);
        return;
      case 'ping':
        this._sendFrame(session, { type: 'pong', ref: frame.ref });
        return;
    }
  }

  // ------------------------------------------------------------------ session

  private async _hello(session: Session, frame: HelloFrame): Promise<void> {
    session.setPhase(Phase.authenticating);
    let identity: Identity;
    try {
      identity = await this._auth.fromHello(frame);
    } catch (error) {
      const message = error instanceof AuthError ? error.message : 'token rejected';
      this._error(session, ErrorCode.unauthorized, message, frame.ref);
      this._close(session, CloseCode.unauthorized, 'unauthorized');
      return;
    }
    if (session.phase === Phase.closed) return;
    clearTimeout(session.helloTimer);
    session.identity = identity;
    session.setPhase(Phase.ready);
    this._sendFrame(session, {
      type: 'welcome',
      v: PROTOCOL_VERSION,
      user: identity.user,
      limits: { maxTextChars: Limits.maxTextChars, maxFrameBytes: Limits.maxFrameBytes, maxUploadBytes: this._maxUploadBytes },
      ref: frame.ref,
    });
    for (const queued of session.queued.splice(0)) {
      if (session.phase !== Phase.ready) break;
      this._dispatch(session, queued);
    }
  }

  // ------------------------------------------------------------------ conversations

  private async _join(session: Session, frame: JoinFrame): Promise<void> {
    const { conv } = frame;
    const identity = session.identity!;
    if (!canAccess(identity, conv)) {
      this._error(session, ErrorCode.forbidden, `not allowed to join ${conv}`, frame.ref, { conv });
      return;
    }
    // Joining again (e.g. after `resync`) restarts catch-up from the client's new `after`.
    const membership: Membership = { live: false, buffered: [] };
    session.memberships.set(conv, membership);
    const subscribed = this._attach(session, conv);
    const current = () => session.memberships.get(conv) === membership && session.phase !== Phase.closed;
    try {
      await subscribed;
      const [epoch, { member, isNew }] = await Promise.all([this._store.epoch(), this._store.addMember(conv, identity.user)]);
      if (isNew) this._bus.publish(conv, { kind: 'member', conv, member });
      const [members, head] = await Promise.all([this._store.members(conv), this._store.head(conv)]);
      const sequencer = this._sequencers.get(conv);
      // The first head read after subscribing tells which seq the bus should bring next.
      if (sequencer && sequencer.next === null) sequencer.next = Math.max(head, sequencer.maxSeen) + 1;
      if (!current()) return;
      const reset = frame.epoch !== undefined && frame.epoch !== epoch;
      let after = reset ? 0 : Math.min(frame.after ?? 0, head);
      if (frame.tail !== undefined) after = Math.max(after, head - frame.tail);
      this._sendFrame(session, {
        type: 'joined',
        conv,
        epoch,
        head,
        members,
        typing: [...(this._typingView.get(conv)?.keys() ?? [])],
        ...(reset ? { reset: true } : {}),
        ref: frame.ref,
      });
      // Replay in pages, pausing while the client's buffer is full, so a long catch-up
      // neither loads the whole history into memory nor trips the backpressure limit.
      let lastSent = after;
      while (lastSent < head) {
        const page = await this._store.range(conv, lastSent, 500);
        if (!current()) return;
        for (const message of page.messages) {
          if (message.seq > head) break;
          this._sendRaw(session, conv, JSON.stringify(message));
          lastSent = message.seq;
        }
        if (!page.more || page.messages.length === 0) break;
        await this._waitForDrain(session);
        if (!current()) return;
      }
      membership.live = true;
      for (const event of membership.buffered.splice(0)) {
        if (event.kind === 'msg' && event.message.seq <= lastSent) continue;
        this._deliver(session, conv, event, serializeEvent(event));
      }
    } catch (error) {
      if (session.memberships.get(conv) === membership) this._leave(session, conv);
      this._storeError(session, error, frame.ref, { conv });
    }
  }

  /** Adds the session to the conversation's local receivers; resolves once the bus delivers its events. */
  private _attach(session: Session, conv: string): Promise<void> | void {
    let sessions = this._conversations.get(conv);
    if (!sessions) {
      sessions = new Set();
      this._conversations.set(conv, sessions);
      this._subscriptions.set(conv, this._bus.subscribe(conv));
      this._sequencers.set(conv, { next: null, maxSeen: 0, held: new Map(), timer: undefined });
    }
    sessions.add(session);
    return this._subscriptions.get(conv);
  }

  private _leave(session: Session, conv: string): void {
    session.memberships.delete(conv);
    session.resyncPending.delete(conv);
    const sessions = this._conversations.get(conv);
    if (!sessions) return;
    sessions.delete(session);
    const userId = session.userId;
    // The user's last connection here left: nobody can be typing through it any more.
    if (userId && ![...sessions].some((s) => s.userId === userId)) this._stopTyping(conv, userId);
    if (sessions.size === 0) {
      this._conversations.delete(conv);
      this._subscriptions.delete(conv);
      clearTimeout(this._sequencers.get(conv)?.timer);
      this._sequencers.delete(conv);
      this._bus.unsubscribe(conv);
    }
  }

  private _waitForDrain(session: Session): Promise<void> {
    if (session.conn.bufferedAmount() <= this._highWater || session.phase === Phase.closed) return Promise.resolve();
    return new Promise((resolve) => session.drainWaiters.push(resolve));
  }

  // ------------------------------------------------------------------ messages

  private _send(session: Session, frame: SendFrame): void {
    const { conv, id } = frame;
    if (!session.memberships.has(conv)) {
      this._error(session, ErrorCode.notJoined, `join ${conv} before sending to it`, frame.ref, { conv, id });
      return;
    }
    const from = session.identity!.user;
    // Appended synchronously (no await before it) so one client's messages keep their order.
    this._store
      .append({ conv, id, from, text: frame.text, file: frame.file, ts: this._now() })
      .then((result) => {
        switch (result.kind) {
          case 'stored':
            this._sendFrame(session, { type: 'ack', conv, id, seq: result.message.seq, ts: result.message.ts, ref: frame.ref });
            this._bus.publish(conv, { kind: 'msg', message: result.message });
            this._stopTyping(conv, from.id);
            return;
          case 'duplicate':
            this._sendFrame(session, { type: 'ack', conv, id, seq: result.seq, ts: result.ts, ref: frame.ref });
            return;
          case 'conflict':
            this._error(session, ErrorCode.conflict, `message id ${id} is taken by another sender`, frame.ref, { conv, id });
            return;
        }
      })
      .catch((error: unknown) => this._storeError(session, error, frame.ref, { conv, id }));
  }

  private async _history(session: Session, frame: HistoryFrame): Promise<void> {
    const { conv } = frame;
    if (!canAccess(session.identity!, conv)) {
      this._error(session, ErrorCode.forbidden, `not allowed to read ${conv}`, frame.ref, { conv });
      return;
    }
    const limit = frame.limit ?? Limits.defaultHistoryLimit;
    try {
      const page =
        frame.after !== undefined
          ? await this._store.range(conv, frame.after, limit)
          : await this._store.before(conv, frame.before ?? Number.MAX_SAFE_INTEGER, limit);
      this._sendFrame(session, { type: 'history', conv, messages: page.messages, more: page.more, ref: frame.ref });
    } catch (error) {
      this._storeError(session, error, frame.ref, { conv });
    }
  }

  // ------------------------------------------------------------------ typing

  private _typing(session: Session, frame: TypingFrame): void {
    const { conv } = frame;
    if (!session.memberships.has(conv)) {
      this._error(session, ErrorCode.notJoined, `join ${conv} before typing in it`, frame.ref, { conv });
      return;
    }
    const userId = session.userId!;
    if (!frame.active) {
      this._stopTyping(conv, userId);
      return;
    }
    const key = typingKey(conv, userId);
    clearTimeout(this._typingTimers.get(key));
    this._typingTimers.set(
      key,
      setTimeout(() => this._stopTyping(conv, userId), this._typingExpiryMs),
    );
    this._bus.publish(conv, { kind: 'typing', conv, user: userId, active: true, origin: this.instanceId });
  }

  /** Ends a user's typing if this instance owns it, telling everyone. */
  private _stopTyping(conv: string, userId: string): void {
    const key = typingKey(conv, userId);
    const timer = this._typingTimers.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this._typingTimers.delete(key);
    this._bus.publish(conv, { kind: 'typing', conv, user: userId, active: false, origin: this.instanceId });
  }

  private _trackTyping(conv: string, user: string, active: boolean): void {
    let typists = this._typingView.get(conv);
    clearTimeout(typists?.get(user));
    if (!active) {
      typists?.delete(user);
      if (typists?.size === 0) this._typingView.delete(conv);
      return;
    }
    if (!typists) {
      typists = new Map();
      this._typingView.set(conv, typists);
    }
    // Safety net for an instance that died while its user typed: forget after the expiry.
    const expiry = setTimeout(() => this._trackTyping(conv, user, false), this._typingExpiryMs + 1000);
    expiry.unref();
    typists.set(user, expiry);
  }

  // ------------------------------------------------------------------ receipts

  private async _receipt(session: Session, frame: ReceiptFrame): Promise<void> {
    const { conv } = frame;
    if (!session.memberships.has(conv)) {
      this._error(session, ErrorCode.notJoined, `join ${conv} before sending receipts`, frame.ref, { conv });
      return;
    }
    try {
      const member = await this._store.setCursor(conv, session.userId!, { delivered: frame.delivered, read: frame.read });
      if (member) this._bus.publish(conv, { kind: 'receipt', conv, member });
    } catch (error) {
      this._storeError(session, error, frame.ref, { conv });
    }
  }

  // ------------------------------------------------------------------ fan-out

  /**
   * Messages in seq order. With several relays a conversation's messages reach NATS over
   * different connections, and NATS keeps order only per publisher, so seq 8 may arrive
   * before seq 7. A message ahead of the next expected seq waits (at most REORDER_WAIT_MS,
   * in case the missing one was lost on the bus: clients then fill the gap from history);
   * everything else goes straight through. With one relay nothing ever waits.
   */
  private _onBusEvent(conv: string, event: BusEvent): void {
    const sequencer = this._sequencers.get(conv);
    if (event.kind !== 'msg' || !sequencer) return this._fanOut(conv, event);
    const seq = event.message.seq;
    sequencer.maxSeen = Math.max(sequencer.maxSeen, seq);
    if (sequencer.next === null || seq < sequencer.next) return this._fanOut(conv, event);
    if (seq > sequencer.next) {
      sequencer.held.set(seq, event);
      sequencer.timer ??= setTimeout(() => this._releaseHeld(conv, sequencer), REORDER_WAIT_MS);
      return;
    }
    this._fanOut(conv, event);
    sequencer.next = seq + 1;
    for (let held = sequencer.held.get(sequencer.next); held; held = sequencer.held.get(sequencer.next)) {
      sequencer.held.delete(sequencer.next);
      this._fanOut(conv, held);
      sequencer.next++;
    }
    if (sequencer.held.size === 0) {
      clearTimeout(sequencer.timer);
      sequencer.timer = undefined;
    }
  }

  /** The missing seq did not come in time: deliver what waited, in order, and move on. */
  private _releaseHeld(conv: string, sequencer: Sequencer): void {
    sequencer.timer = undefined;
    const waiting = [...sequencer.held.entries()].sort(([a], [b]) => a - b);
    sequencer.held.clear();
    for (const [seq, event] of waiting) {
      this._fanOut(conv, event);
      sequencer.next = Math.max(sequencer.next ?? 0, seq + 1);
    }
  }

  private _fanOut(conv: string, event: BusEvent): void {
    if (event.kind === 'typing') this._trackTyping(conv, event.user, event.active);
    const sessions = this._conversations.get(conv);
    if (!sessions || sessions.size === 0) return;
    const text = serializeEvent(event); // once, however many receivers
    for (const session of sessions) {
      const membership = session.memberships.get(conv);
      if (!membership) continue;
      if (!membership.live) membership.buffered.push(event);
      else this._deliver(session, conv, event, text);
    }
  }

  private _deliver(session: Session, conv: string, event: BusEvent, text: string): void {
    if (event.kind === 'typing' && event.user === session.userId) return; // typing goes to others
    this._sendRaw(session, conv, text);
  }

  private _onBusGap(convs: readonly string[]): void {
    for (const conv of convs) {
      for (const session of this._conversations.get(conv) ?? []) {
        this._sendFrame(session, { type: 'resync', conv });
      }
    }
  }

  // ------------------------------------------------------------------ output

  private _sendFrame(session: Session, frame: ServerFrame): void {
    if (session.phase === Phase.closed) return;
    session.conn.send(JSON.stringify(frame));
  }

  /** Sends an event of `conv`; if the transport drops it, the client is told to resync later. */
  private _sendRaw(session: Session, conv: string, text: string): void {
    if (session.phase === Phase.closed) return;
    if (session.conn.send(text) === SendResult.dropped) {
      if (session.resyncPending.size === 0) this._log.warn({ session: session.id, conv }, 'slow client: frames dropped, resync pending');
      session.resyncPending.add(conv);
    }
  }

  private _error(
    session: Session,
    code: ErrorCode,
    message: string,
    ref: Ref,
    subject: { conv?: string; id?: string } = {},
  ): void {
    this._sendFrame(session, { type: 'error', code, message, ...subject, ref });
  }

  /** An error caused by the client's frame: answered, counted, and after repeated abuse the connection is closed. */
  private _reject(session: Session, code: ErrorCode, message: string, ref: Ref, subject: { conv?: string; id?: string } = {}): void {
    this._error(session, code, message, ref, subject);
    const now = this._now();
    if (now - session.strikeWindowStart > this._abuseWindowMs) {
      session.strikeWindowStart = now;
      session.strikes = 0;
    }
    if (++session.strikes > this._abuseLimit) {
      this._log.warn({ session: session.id, user: session.userId }, 'closing abusive connection');
      this._close(session, CloseCode.tooManyBadFrames, 'too many bad or rate-limited frames');
    }
  }

  private _storeError(session: Session, error: unknown, ref: Ref, subject: { conv?: string; id?: string }): void {
    if (error instanceof StoreUnavailableError) {
      this._error(session, ErrorCode.unavailable, 'storage is unavailable; retry shortly', ref, subject);
    } else {
      this._log.error({ err: error, session: session.id }, 'store operation failed');
      this._error(session, ErrorCode.internal, 'internal error', ref, subject);
    }
  }

  private _takeToken(session: Session): boolean {
    const now = this._now();
    const refill = ((now - session.lastRefill) / 1000) * this._rate.perSecond;
    session.tokens = Math.min(this._rate.burst, session.tokens + refill);
    session.lastRefill = now;
    if (session.tokens < 1) return false;
    session.tokens -= 1;
    return true;
  }

  private _close(session: Session, code: number, reason: string): void {
    if (session.phase === Phase.closed) return;
    session.conn.close(code, reason);
    this.closed(session);
  }

  // ------------------------------------------------------------------ shutdown

  /**
   * Graceful stop: wait for in-flight appends (so their acks go out), then close every
   * connection with 1001 so clients reconnect elsewhere, then release bus and store.
   */
  async shutdown(): Promise<void> {
    if (this._closing) return;
    this._closing = true;
    await this._store.close();
    for (const session of [...this._sessions]) this._close(session, CloseCode.goingAway, 'relay shutting down');
    for (const timer of this._typingTimers.values()) clearTimeout(timer);
    for (const sequencer of this._sequencers.values()) clearTimeout(sequencer.timer);
    this._typingTimers.clear();
    await this._bus.close();
  }
}

/** How long a message that arrived ahead of its predecessor waits for it. */
const REORDER_WAIT_MS = 100;

interface Sequencer {
  /** The seq to deliver next; null until the head is known. */
  next: number | null;
  maxSeen: number;
  held: Map<number, BusEvent>;
  timer: NodeJS.Timeout | undefined;
}

function typingKey(conv: string, user: string): string {
  return `${conv}\u0000${user}`;
}

function frameSubject(frame: ClientFrame): { conv?: string; id?: string } {
  if (frame.type === 'send') return { conv: frame.conv, id: frame.id };
  if ('conv' in frame) return { conv: frame.conv };
  return {};
}

export function serializeEvent(event: BusEvent): string {
  switch (event.kind) {
    case 'msg':
      return JSON.stringify(event.message);
    case 'typing':
      return JSON.stringify({ type: 'typing', conv: event.conv, user: event.user, active: event.active });
    case 'receipt':
      return JSON.stringify({
        type: 'receipt',
        conv: event.conv,
        user: event.member.id,
        delivered: event.member.delivered,
        read: event.member.read,
      });
    case 'member':
      return JSON.stringify({ type: 'member', conv: event.conv, member: event.member });
  }
}
