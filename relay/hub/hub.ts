/**
 * The hub: the relay's domain facade. The transport calls `open`, `message`, `drained` and
 * `closed` for each connection; the hub answers through the connection's `WebSocketLike`
 * and talks to the rest of the world only through a `Store`, a `Bus` and the ports in
 * ports.ts, so it is tested without sockets.
 *
 * Where each rule lives: admission.ts (caps, rates, read budgets), handshake.ts (who a
 * client is), session.ts (a connection's phase and queues), conversations.ts (local
 * receivers and bus subscriptions), sequencer.ts (seq order across relays), catch-up.ts
 * (join replay), typing.ts (indicators and their throttle), frames.ts (event frames).
 *
 * Delivery path: a stored message is published on the bus, and every relay (this one
 * included, via the bus) sends it to its own joined sessions. So a message reaches each
 * client exactly once whether one relay runs or ten.
 *
 * Backpressure: live events for a client with more than `sendQueueBytes` queued are not
 * queued (the client gets `resync` once it has read); a reply (welcome, joined, ack,
 * history, error, pong) is always queued, and if the transport refuses it the connection is
 * closed (4409): a reply is never dropped silently, and the client's outbox makes the
 * reconnect safe. A client that stops reading is closed after `slowGraceMs`.
 */
import {
  CloseCode,
  ErrorCode,
  Limits,
  PROTOCOL_VERSION,
  parseClientFrame,
  type ClientFrame,
  type FileRef,
  type HelloFrame,
  type HistoryFrame,
  type JoinFrame,
  type ReceiptFrame,
  type SendFrame,
  type ServerFrame,
  type TypingFrame,
} from '../../protocol/index.js';
import type { Bus, BusEvent, BusFactory } from '../bus/types.js';
import { StoreUnavailableError, type Store } from '../store/types.js';
import { Admission, DEFAULT_LIMITS, type HubLimits } from './admission.js';
import { replay } from './catch-up.js';
import { Conversations } from './conversations.js';
import { frameSubject, serializeEvent } from './frames.js';
import { AuthError, canAccess, type Authenticator, type Identity } from './handshake.js';
import { SendResult, systemClock, type Clock, type ConnectionInfo, type FileCatalog, type Logger, type TimerHandle, type WebSocketLike } from './ports.js';
import { Phase, Session, type Membership } from './session.js';
import { Typing } from './typing.js';

export interface HubOptions {
  store: Store;
  busFactory: BusFactory;
  auth: Authenticator;
  files: FileCatalog;
  logger: Logger;
  maxUploadBytes: number;
  helloTimeoutMs?: number;
  typingExpiryMs?: number;
  limits?: Partial<HubLimits>;
  clock?: Clock;
}

type Ref = string | number | undefined;
type Subject = { conv?: string; id?: string };

/** How often expiry of tokens and slow clients is checked. */
const SWEEP_INTERVAL_MS = 1000;
/** Sends of one connection waiting behind a file lookup; more are refused (retryable). */
const MAX_CHAINED_SENDS = 100;
/** Bytes of frames held while `hello` is verified. */
const MAX_BYTES_BEFORE_WELCOME = 256 * 1024;

export class Hub {
  readonly limits: HubLimits;
  private readonly _store: Store;
  private readonly _auth: Authenticator;
  private readonly _files: FileCatalog;
  private readonly _log: Logger;
  private readonly _clock: Clock;
  private readonly _helloTimeoutMs: number;
  private readonly _maxUploadBytes: number;
  private readonly _admission: Admission;
  private readonly _busFactory: BusFactory;
  private _bus!: Bus;
  private readonly _conversations: Conversations;
  private readonly _typing: Typing;
  private _nextSessionId = 1;
  private readonly _sessions = new Set<Session>();
  /** Joins whose `joined` is not out yet, per session and conversation (see _join). */
  private readonly _joining = new WeakMap<Session, Map<string, Promise<void>>>();
  /** Appends not yet settled: shutdown waits for them so that their acks go out. */
  private readonly _inflight = new Set<Promise<unknown>>();
  private _sweepTimer: TimerHandle | undefined;
  private _closing = false;

  constructor(options: HubOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this._store = options.store;
    this._busFactory = options.busFactory;
    this._auth = options.auth;
    this._files = options.files;
    this._log = options.logger;
    this._clock = options.clock ?? systemClock;
    this._helloTimeoutMs = options.helloTimeoutMs ?? Limits.helloTimeoutMs;
    this._maxUploadBytes = options.maxUploadBytes;
    this._admission = new Admission(this.limits, this._clock);
    this._conversations = new Conversations(() => this._bus, this._clock, (conv, event, sessions) => this._fanOut(conv, event, sessions));
    this._typing = new Typing({
      clock: this._clock,
      expiryMs: options.typingExpiryMs ?? Limits.typingExpiryMs,
      fanOutIntervalMs: this.limits.typingFanOutIntervalMs,
      publish: (conv, user, active) => this._bus.publish(conv, { kind: 'typing', conv, user, active }),
    });
  }

  async start(): Promise<void> {
    this._bus = await this._busFactory({
      onEvent: (conv, event) => this._conversations.receive(conv, event),
      onGap: (convs) => this._onBusGap(convs),
    });
    this._scheduleSweep();
  }

  get sessionCount(): number {
    return this._sessions.size;
  }

  // ------------------------------------------------------------------ connection lifecycle

  open(conn: WebSocketLike, info: ConnectionInfo = { ip: '' }): Session {
    const session = new Session(this._nextSessionId++, conn, info, this.limits, this._clock.now());
    const refusal = this._admission.admitConnection(info.ip);
    if (refusal) {
      this._log.warn({ ip: info.ip, reason: refusal }, 'connection refused');
      conn.send(JSON.stringify({ type: 'error', code: ErrorCode.tooMany, message: refusal } satisfies ServerFrame));
      conn.close(CloseCode.tooManyConnections, refusal);
      session.setPhase(Phase.closed);
      return session;
    }
    session.admitted = true;
    this._sessions.add(session);
    session.helloTimer = this._clock.setTimeout(() => {
      if (session.phase === Phase.awaitingHello || session.phase === Phase.authenticating) {
        this._close(session, CloseCode.helloTimeout, 'no hello in time');
      }
    }, this._helloTimeoutMs);
    return session;
  }

  /** The connection closed (for whatever reason); forget everything about it. */
  closed(session: Session): void {
    if (!session.setPhase(Phase.closed)) return;
    this._clock.clearTimeout(session.helloTimer);
    this._sessions.delete(session);
    if (session.admitted) this._admission.release(session.info.ip, session.userId);
    for (const conv of [...session.memberships.keys()]) this._leave(session, conv);
    session.wakeDrainWaiters();
  }

  /** The client read some of what was queued: replay may go on, and resyncs owed can be sent. */
  drained(session: Session): void {
    if (session.isClosed) return;
    session.backedUpSince = null;
    if (session.conn.bufferedAmount() > this.limits.catchUpHighWater) return;
    session.wakeDrainWaiters();
    this._sendOwedResyncs(session);
  }

  /** One frame from the client: binary frames are refused; text is parsed, checked, handled. */
  message(session: Session, data: string | null): void {
    if (session.isClosed) return;
    if (this._closing) {
      this._error(session, ErrorCode.unavailable, 'relay is shutting down; reconnect shortly', undefined);
      return;
    }
    if (data === null) {
      this._reject(session, ErrorCode.badFrame, 'frames must be text (JSON), not binary', undefined);
      return;
    }
    const bytes = Buffer.byteLength(data);
    if (bytes > Limits.maxFrameBytes) {
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
    if (!session.frames.take(1, this._clock.now())) {
      this._reject(session, ErrorCode.rateLimited, 'too many frames; slow down', frame.ref, frameSubject(frame));
      return;
    }
    switch (session.phase) {
      case Phase.awaitingHello:
        if (frame.type === 'hello') void this._hello(session, frame);
        else this._reject(session, ErrorCode.unauthenticated, 'send hello first', frame.ref, frameSubject(frame));
        return;
      case Phase.authenticating:
        if (session.queued.length >= this.limits.maxFramesBeforeWelcome || session.queuedBytes + bytes > MAX_BYTES_BEFORE_WELCOME) {
          this._reject(session, ErrorCode.rateLimited, 'too many frames before welcome', frame.ref, frameSubject(frame));
        } else {
          session.queued.push(frame);
          session.queuedBytes += bytes;
        }
        return;
      case Phase.ready:
        this._dispatch(session, frame);
        return;
    }
  }

  /**
   * Housekeeping, once a second: closes connections whose token expired and clients that
   * stopped reading, and forgets budgets nobody uses.
   */
  sweep(): void {
    const now = this._clock.now();
    for (const session of [...this._sessions]) {
      const expiresAt = session.identity?.expiresAt;
      if (expiresAt != null && now >= expiresAt) {
        this._error(session, ErrorCode.unauthorized, 'token expired', undefined);
        this._close(session, CloseCode.unauthorized, 'token expired');
        continue;
      }
      if (session.conn.bufferedAmount() <= this.limits.catchUpHighWater) {
        // Caught up without a drain event (uWS sends one only after backpressure): the same as one.
        this.drained(session);
        continue;
      }
      session.markBackedUp(now);
      if (now - session.backedUpSince! >= this.limits.slowGraceMs) {
        this._log.warn({ session: session.id, user: session.userId, queued: session.conn.bufferedAmount() }, 'closing a client that does not read');
        this._close(session, CloseCode.tooSlow, 'too slow: not reading');
      }
    }
    this._admission.prune();
  }

  private _scheduleSweep(): void {
    this._sweepTimer = this._clock.setTimeout(() => {
      this.sweep();
      if (!this._closing) this._scheduleSweep();
    }, SWEEP_INTERVAL_MS);
  }

  private _dispatch(session: Session, frame: ClientFrame): void {
    switch (frame.type) {
      case 'hello':
        void this._renew(session, frame);
        return;
      case 'join':
        void this._join(session, frame);
        return;
      case 'leave':
        if (!session.memberships.has(frame.conv)) {
          this._error(session, ErrorCode.notJoined, `not joined to ${frame.conv}`, frame.ref, { conv: frame.conv });
          return;
        }
        this._leave(session, frame.conv);
        return;
      case 'send':
        this._send(session, frame);
        return;
      case 'history':
        void this._history(session, frame);
        return;
      case 'typing':
        this._onTyping(session, frame);
        return;
      case 'receipt':
        void this._receipt(session, frame);
        return;
      case 'ping':
        this._reply(session, { type: 'pong', ref: frame.ref });
        return;
    }
  }

  // ------------------------------------------------------------------ hello and renewal

  private async _hello(session: Session, frame: HelloFrame): Promise<void> {
    if (this._auth.openMode && !frame.user) {
      this._reject(session, ErrorCode.badFrame, 'open mode: hello needs "user" (and optionally "name")', frame.ref);
      return;
    }
    session.setPhase(Phase.authenticating);
    let identity: Identity;
    try {
      identity = await this._auth.fromHello(frame);
    } catch (error) {
      this._error(session, ErrorCode.unauthorized, authMessage(error), frame.ref);
      this._close(session, CloseCode.unauthorized, 'unauthorized');
      return;
    }
    if (session.isClosed) return;
    const refusal = this._admission.admitUser(session.info.ip, identity.user.id);
    if (refusal) {
      this._error(session, ErrorCode.tooMany, refusal, frame.ref);
      this._close(session, CloseCode.tooManyConnections, refusal);
      return;
    }
    this._clock.clearTimeout(session.helloTimer);
    session.identity = identity;
    session.setPhase(Phase.ready);
    this._welcome(session, frame.ref);
    const queued = session.queued.splice(0);
    session.queuedBytes = 0;
    for (const next of queued) {
      if (session.phase !== Phase.ready) break;
      this._dispatch(session, next);
    }
  }

  /**
   * A `hello` on an authenticated connection renews its token (same user only), so a token
   * can be short-lived without the connection dropping at its expiry. Conversations the new
   * token no longer allows are left, each with `error forbidden`.
   */
  private async _renew(session: Session, frame: HelloFrame): Promise<void> {
    if (this._auth.openMode) {
      this._reject(session, ErrorCode.badFrame, 'hello was already accepted on this connection (open mode has no tokens to renew)', frame.ref);
      return;
    }
    let identity: Identity;
    try {
      identity = await this._auth.fromHello(frame);
    } catch (error) {
      // The current token stays valid until its own expiry: refuse the renewal, keep the connection.
      this._error(session, ErrorCode.unauthorized, `renewal refused: ${authMessage(error)}`, frame.ref);
      return;
    }
    if (session.isClosed) return;
    if (identity.user.id !== session.userId) {
      this._reject(session, ErrorCode.unauthorized, 'renewal refused: the token names another user', frame.ref);
      return;
    }
    session.identity = identity;
    for (const conv of [...session.memberships.keys()]) {
      if (canAccess(identity, conv)) continue;
      this._leave(session, conv);
      this._error(session, ErrorCode.forbidden, `the renewed token no longer allows ${conv}`, undefined, { conv });
    }
    this._welcome(session, frame.ref);
  }

  private _welcome(session: Session, ref: Ref): void {
    this._reply(session, {
      type: 'welcome',
      v: PROTOCOL_VERSION,
      user: session.identity!.user,
      limits: { maxTextChars: Limits.maxTextChars, maxFrameBytes: Limits.maxFrameBytes, maxUploadBytes: this._maxUploadBytes },
      ...(session.identity!.expiresAt !== null ? { expires: session.identity!.expiresAt } : {}),
      ref,
    });
  }

  // ------------------------------------------------------------------ conversations

  private async _join(session: Session, frame: JoinFrame): Promise<void> {
    const { conv } = frame;
    const identity = session.identity!;
    if (!canAccess(identity, conv)) {
      this._reject(session, ErrorCode.forbidden, `not allowed to join ${conv}`, frame.ref, { conv });
      return;
    }
    if (!session.memberships.has(conv) && session.memberships.size >= this.limits.maxJoinsPerConnection) {
      this._reject(
        session,
        ErrorCode.tooMany,
        `a connection may join at most ${this.limits.maxJoinsPerConnection} conversations; leave one first`,
        frame.ref,
        { conv },
      );
      return;
    }
    // Joining again (e.g. after `resync`) restarts catch-up from the client's new `after`.
    const membership: Membership = { live: false, held: [], heldBytes: 0, overflowed: false };
    session.memberships.set(conv, membership);
    const current = () => session.memberships.get(conv) === membership && !session.isClosed;
    // Sends to this conversation right behind the join wait until `joined` is out, so that
    // their acks come after it (the store commits off the event loop and could be faster).
    let opened!: () => void;
    const gate = new Promise<void>((resolve) => (opened = resolve));
    let gates = this._joining.get(session);
    if (!gates) this._joining.set(session, (gates = new Map()));
    gates.set(conv, gate);
    const open = () => {
      if (gates.get(conv) === gate) gates.delete(conv);
      opened();
    };
    try {
      await this._conversations.attach(session, conv);
      const before = await this._store.members(conv);
      if (!current()) return;
      if (!before.some((m) => m.id === identity.user.id) && !this._admission.takeNewConversation(identity.user.id)) {
        this._leave(session, conv);
        this._reject(
          session,
          ErrorCode.rateLimited,
          `joining more than ${this.limits.newConversationsPerMinute} new conversations a minute; try again shortly`,
          frame.ref,
          { conv },
        );
        return;
      }
      const [epoch, { member, isNew }] = await Promise.all([this._store.epoch(), this._store.addMember(conv, identity.user)]);
      if (isNew) this._bus.publish(conv, { kind: 'member', conv, member });
      const [members, head] = await Promise.all([this._store.members(conv), this._store.head(conv)]);
      this._conversations.knowHead(conv, head);
      if (!current()) return;
      const reset = frame.epoch !== undefined && frame.epoch !== epoch;
      let after = reset ? 0 : Math.min(frame.after ?? 0, head);
      if (frame.tail !== undefined) after = Math.max(after, head - frame.tail);
      const joined = this._reply(session, {
        type: 'joined',
        conv,
        epoch,
        head,
        members,
        typing: this._typing.typists(conv),
        ...(reset ? { reset: true } : {}),
        ref: frame.ref,
      });
      open();
      if (!joined) return;
      const lastSent = await replay(session, conv, after, head, {
        store: this._store,
        current,
        send: (text) => this._sendOrClose(session, text),
        roomFor: (s) => this._roomFor(s),
        readBudget: (s) => this._readBudget(s),
        chargeReads: (s, rows) => this._chargeReads(s, rows),
      });
      if (lastSent === null || !current()) return;
      membership.live = true;
      const held = membership.held.splice(0);
      membership.heldBytes = 0;
      if (membership.overflowed) {
        // More happened during the replay than could be held: the client catches up again from what it has.
        membership.overflowed = false;
        session.resyncPending.add(conv);
        this._sendOwedResyncs(session);
        return;
      }
      for (const { event, text } of held) {
        if (event.kind === 'msg' && event.message.seq <= lastSent) continue;
        this._deliver(session, conv, event, text);
      }
    } catch (error) {
      if (session.memberships.get(conv) === membership) this._leave(session, conv);
      this._storeError(session, error, frame.ref, { conv });
    } finally {
      open();
    }
  }

  private _leave(session: Session, conv: string): void {
    session.memberships.delete(conv);
    session.resyncPending.delete(conv);
    const { userStillHere, unfollowed } = this._conversations.detach(session, conv);
    // The user's last connection here left: nobody can be typing through it any more.
    if (session.userId && !userStillHere) this._typing.stop(conv, session.userId);
    if (unfollowed) this._typing.forget(conv);
  }

  /** Resolves once the client's queue is under the high-water mark; the sweep closes it if it never is. */
  private _roomFor(session: Session): Promise<void> {
    if (session.isClosed || session.conn.bufferedAmount() <= this.limits.catchUpHighWater) return Promise.resolve();
    session.markBackedUp(this._clock.now());
    return new Promise((resolve) => session.drainWaiters.push(resolve));
  }

  private async _readBudget(session: Session): Promise<void> {
    for (;;) {
      if (session.isClosed) return;
      const now = this._clock.now();
      const wait = Math.max(session.reads.waitFor(1, now), this._admission.userReadWait(session.userId!));
      if (wait === 0) return;
      await new Promise<void>((resolve) => this._clock.setTimeout(resolve, wait));
    }
  }

  private _chargeReads(session: Session, rows: number): void {
    session.reads.charge(rows, this._clock.now());
    this._admission.chargeUserReads(session.userId!, rows);
  }

  // ------------------------------------------------------------------ messages

  private _send(session: Session, frame: SendFrame): void {
    const { conv, id } = frame;
    if (!session.memberships.has(conv)) {
      this._error(session, ErrorCode.notJoined, `join ${conv} before sending to it`, frame.ref, { conv, id });
      return;
    }
    // A message with a file waits for the file's record; the connection's later sends queue
    // behind it, so that messages are stored in the order they were sent.
    if (!frame.file && session.sendChain === null) {
      const joining = this._joining.get(session)?.get(conv);
      if (joining) {
        // In order: these callbacks run in the order the sends arrived, before any later frame.
        const afterJoin = joining.then(() => {
          if (session.isClosed) return;
          if (session.memberships.has(conv)) return this._append(session, frame, undefined);
          this._error(session, ErrorCode.notJoined, `join ${conv} before sending to it`, frame.ref, { conv, id });
        });
        this._track(afterJoin);
      } else {
        this._append(session, frame, undefined);
      }
      return;
    }
    if (session.chainedSends >= MAX_CHAINED_SENDS) {
      this._reject(session, ErrorCode.rateLimited, 'too many messages waiting for their files; retry shortly', frame.ref, { conv, id });
      return;
    }
    session.chainedSends++;
    const previous = session.sendChain ?? Promise.resolve();
    const link = previous
      .then(async () => {
        const file = frame.file ? await this._files.describe(frame.file.url) : undefined;
        if (session.isClosed) return;
        if (file === null || (file && file.conv !== conv)) {
          this._reject(session, ErrorCode.badFrame, `${frame.file!.url} is not a file uploaded to ${conv}`, frame.ref, { conv, id });
          return;
        }
        const stored: FileRef | undefined = file ? { url: frame.file!.url, name: file.name, size: file.size, type: file.type } : undefined;
        await this._append(session, frame, stored);
      })
      .catch((error: unknown) => this._storeError(session, error, frame.ref, { conv, id }))
      .finally(() => {
        session.chainedSends--;
        if (session.sendChain === link) session.sendChain = null;
      });
    session.sendChain = link;
    this._track(link);
  }

  /** Appends (synchronously handing the store its input, so one connection's messages keep their order). */
  private _append(session: Session, frame: SendFrame, file: FileRef | undefined): Promise<void> {
    const { conv, id } = frame;
    const from = session.identity!.user;
    const done = this._store
      .append({ conv, id, from, text: frame.text, file, ts: this._clock.now() })
      .then((result) => {
        switch (result.kind) {
          case 'stored':
            this._reply(session, { type: 'ack', conv, id, seq: result.message.seq, ts: result.message.ts, ref: frame.ref });
            this._bus.publish(conv, { kind: 'msg', message: result.message });
            this._typing.stop(conv, from.id);
            return;
          case 'duplicate':
            this._reply(session, { type: 'ack', conv, id, seq: result.seq, ts: result.ts, ref: frame.ref });
            return;
          case 'conflict':
            this._error(session, ErrorCode.conflict, `message id ${id} is taken by another sender`, frame.ref, { conv, id });
            return;
        }
      })
      .catch((error: unknown) => this._storeError(session, error, frame.ref, { conv, id }));
    this._track(done);
    return done;
  }

  private async _history(session: Session, frame: HistoryFrame): Promise<void> {
    const { conv } = frame;
    if (!canAccess(session.identity!, conv)) {
      this._reject(session, ErrorCode.forbidden, `not allowed to read ${conv}`, frame.ref, { conv });
      return;
    }
    // Reads are the expensive frames: refused while the client has not read what it was
    // sent, or has spent its read budget (rows per second, per connection and per user).
    if (session.conn.bufferedAmount() > this.limits.sendQueueBytes) {
      this._reject(session, ErrorCode.rateLimited, 'read what the relay already sent before asking for more', frame.ref, { conv });
      return;
    }
    const now = this._clock.now();
    if (session.reads.waitFor(1, now) > 0 || this._admission.userReadWait(session.userId!) > 0) {
      this._reject(session, ErrorCode.rateLimited, 'reading history too fast; slow down', frame.ref, { conv });
      return;
    }
    const limit = frame.limit ?? Limits.defaultHistoryLimit;
    // The store reads off the event loop, so reads overlap: the most rows this one can return
    // are charged now, so that reads in flight count against the budget; the unused rest is
    // given back once the page is known.
    this._chargeReads(session, limit);
    let rows = limit;
    try {
      const page =
        frame.after !== undefined
          ? await this._store.range(conv, frame.after, limit)
          : await this._store.before(conv, frame.before ?? Number.MAX_SAFE_INTEGER, limit);
      rows = Math.max(1, page.messages.length);
      this._reply(session, { type: 'history', conv, messages: page.messages, more: page.more, ref: frame.ref });
    } catch (error) {
      this._storeError(session, error, frame.ref, { conv });
    } finally {
      if (rows < limit) this._chargeReads(session, rows - limit);
    }
  }

  private _onTyping(session: Session, frame: TypingFrame): void {
    const { conv } = frame;
    if (!session.memberships.has(conv)) {
      this._error(session, ErrorCode.notJoined, `join ${conv} before typing in it`, frame.ref, { conv });
      return;
    }
    if (frame.active) this._typing.start(conv, session.userId!);
    else this._typing.stop(conv, session.userId!);
  }

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

  private _fanOut(conv: string, event: BusEvent, sessions: ReadonlySet<Session>): void {
    if (event.kind === 'typing') this._typing.observe(conv, event.user, event.active);
    if (sessions.size === 0) return;
    const text = serializeEvent(event); // once, however many receivers
    for (const session of sessions) this._deliver(session, conv, event, text);
  }

  /** A live event for one session: held during its replay, not queued for a client that does not read. */
  private _deliver(session: Session, conv: string, event: BusEvent, text: string): void {
    if (event.kind === 'typing' && event.user === session.userId) return; // typing goes to others
    const membership = session.memberships.get(conv);
    if (!membership || session.isClosed) return;
    if (!membership.live) {
      if (membership.overflowed) return;
      if (membership.heldBytes + text.length > this.limits.catchUpBufferBytes) {
        membership.overflowed = true;
        membership.held.length = 0;
        membership.heldBytes = 0;
        return;
      }
      membership.held.push({ event, text });
      membership.heldBytes += text.length;
      return;
    }
    if (session.conn.bufferedAmount() > this.limits.sendQueueBytes || session.conn.send(text) === SendResult.dropped) {
      if (session.resyncPending.size === 0) this._log.warn({ session: session.id, conv }, 'slow client: events not queued, resync owed');
      session.resyncPending.add(conv);
      session.markBackedUp(this._clock.now());
    }
  }

  private _onBusGap(convs: readonly string[]): void {
    for (const conv of convs) {
      for (const session of this._conversations.sessions(conv)) {
        session.resyncPending.add(conv);
        this._sendOwedResyncs(session);
      }
    }
  }

  private _sendOwedResyncs(session: Session): void {
    if (session.resyncPending.size === 0 || session.conn.bufferedAmount() > this.limits.catchUpHighWater) return;
    const convs = [...session.resyncPending];
    session.resyncPending.clear();
    for (const conv of convs) {
      if (session.memberships.get(conv)?.live) this._reply(session, { type: 'resync', conv });
    }
  }

  // ------------------------------------------------------------------ output

  /** Queues a reply; if the transport refuses it, the connection is closed (never a silent drop). */
  private _reply(session: Session, frame: ServerFrame): boolean {
    return this._sendOrClose(session, JSON.stringify(frame));
  }

  private _sendOrClose(session: Session, text: string): boolean {
    if (session.isClosed) return false;
    if (session.conn.send(text) !== SendResult.dropped) return true;
    this._log.warn({ session: session.id, user: session.userId, queued: session.conn.bufferedAmount() }, 'reply could not be queued: closing a client that does not read');
    this._close(session, CloseCode.tooSlow, 'too slow: reply could not be queued');
    return false;
  }

  private _error(session: Session, code: ErrorCode, message: string, ref: Ref, subject: Subject = {}): void {
    this._reply(session, { type: 'error', code, message, ...subject, ref });
  }

  /** An error caused by the client's frame: answered, counted, and after repeated abuse the connection is closed. */
  private _reject(session: Session, code: ErrorCode, message: string, ref: Ref, subject: Subject = {}): void {
    this._error(session, code, message, ref, subject);
    if (session.isClosed) return;
    if (session.strike(this._clock.now(), this.limits.abuseStrikes, this.limits.abuseWindowMs)) {
      this._log.warn({ session: session.id, user: session.userId, ip: session.info.ip }, 'closing abusive connection');
      this._close(session, CloseCode.tooManyBadFrames, 'too many bad or rate-limited frames');
    }
  }

  private _storeError(session: Session, error: unknown, ref: Ref, subject: Subject): void {
    if (error instanceof StoreUnavailableError) {
      this._error(session, ErrorCode.unavailable, 'storage is unavailable; retry shortly', ref, subject);
    } else {
      this._log.error({ err: error, session: session.id }, 'store operation failed');
      this._error(session, ErrorCode.internal, 'internal error', ref, subject);
    }
  }

  private _close(session: Session, code: number, reason: string): void {
    if (session.isClosed) return;
    session.conn.close(code, reason);
    this.closed(session);
  }

  private _track(promise: Promise<unknown>): void {
    this._inflight.add(promise);
    void promise.finally(() => this._inflight.delete(promise));
  }

  // ------------------------------------------------------------------ shutdown

  /**
   * Graceful stop, in this order: refuse new frames; wait for the appends in flight (their
   * acks go out); close every connection with 1001 so clients reconnect elsewhere; then
   * release the bus and the store.
   */
  async shutdown(): Promise<void> {
    if (this._closing) return;
    this._closing = true;
    this._clock.clearTimeout(this._sweepTimer);
    while (this._inflight.size > 0) await Promise.allSettled([...this._inflight]);
    for (const session of [...this._sessions]) this._close(session, CloseCode.goingAway, 'relay shutting down');
    this._typing.dispose();
    this._conversations.dispose();
    await this._bus.close();
    await this._store.close();
  }
}

function authMessage(error: unknown): string {
  return error instanceof AuthError ? error.message : 'token rejected';
}
