/**
 * The hub: the relay's domain facade. The transport calls `open`, `message`, `drained` and
 * `closed` for each connection; the hub answers through the connection's `WebSocketLike`
 * and talks to the rest of the world only through a `Store`, a `Bus` and the ports in
 * ports.ts, so it is tested without sockets.
 *
 * Where each rule lives: admission.ts (caps, rates, read budgets), handshake.ts (who a
 * client is), session.ts (a connection's phase and queues), conversations.ts (local
 * receivers and bus subscriptions), sequencer.ts (seq order across relays), catch-up.ts
 * (join replay), typing.ts (indicators and their throttle), presence.ts (who is online on any
 * relay), frames.ts (event frames), server-commands.ts (the server API over the same paths).
 *
 * Delivery path: a stored log event (a message, or v1.1 an update of one) is published on the
 * bus, and every relay (this one included, via the bus) sends it to its own joined sessions.
 * So an event reaches each client exactly once whether one relay runs or ten. Bans travel
 * the same way, so every relay removes the banned user's sessions at once.
 *
 * Backpressure: live events for a client with more than `sendQueueBytes` queued are not
 * queued (the client gets `resync` once it has read); a reply (welcome, joined, ack,
 * history, error, pong) is always queued, and if the transport refuses it the connection is
 * closed (4409): a reply is never dropped silently, and the client's outbox makes the
 * reconnect safe. A client that stops reading is closed after `slowGraceMs`.
 */
import { randomUUID } from 'node:crypto';
import {
  CloseCode,
  ErrorCode,
  ID_PATTERN,
  Limits,
  PROTOCOL_VERSION,
  parseClientFrame,
  type BanFrame,
  type ClientFrame,
  type DeleteFrame,
  type EditFrame,
  type FileRef,
  type HelloFrame,
  type HistoryFrame,
  type JoinFrame,
  type Member,
  type ReactFrame,
  type ReceiptFrame,
  type SendFrame,
  type ServerFrame,
  type TypingFrame,
} from '../../protocol/index.js';
import type { Bus, BusEvent, BusFactory } from '../bus/types.js';
import {
  Authority,
  StoreUnavailableError,
  type AppendInput,
  type AppendResult,
  type Change,
  type ChangeInput,
  type ChangeResult,
  type Store,
} from '../store/types.js';
import { Admission, DEFAULT_LIMITS, type HubLimits } from './admission.js';
import { replay } from './catch-up.js';
import { Conversations } from './conversations.js';
import { frameSubject, logSeq, salvageSubject, serializeEvent, type HubEvent } from './frames.js';
import { AuthError, canAccess, Role, type Authenticator, type Identity } from './handshake.js';
import {
  LocalTopics,
  noObserver,
  SendResult,
  systemClock,
  type Clock,
  type ConnectionInfo,
  type FileCatalog,
  type HubObserver,
  type Logger,
  type TimerHandle,
  type Topics,
  type WebSocketLike,
} from './ports.js';
import { DEFAULT_PRESENCE_TIMINGS, Presence, type PresenceTimings } from './presence.js';
import { HubServerCommands, type ServerCommands } from './server-commands.js';
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
  /** Metrics (relay/metrics implements it); nothing by default. */
  observer?: HubObserver;
  /** v1.1 presence timings (grace, heartbeat, staleness); the protocol's defaults otherwise. */
  presence?: Partial<PresenceTimings>;
  /** This relay's id in the cluster; a random one per process by default. */
  relayId?: string;
}

type Ref = string | number | undefined;
type Subject = { conv?: string; id?: string };

/** How often expiry of tokens and slow clients is checked. */
const SWEEP_INTERVAL_MS = 1000;
/** Sends of one connection waiting behind a file lookup; more are refused (retryable). */
const MAX_CHAINED_SENDS = 100;
/** Bytes of frames held while `hello` is verified. */
const MAX_BYTES_BEFORE_WELCOME = 256 * 1024;
/** Commit times of this relay's own log events awaiting their fan-out (for the fan-out latency); oldest forgotten first. */
const MAX_COMMITS_TIMED = 10_000;

type EditChange = EditFrame | DeleteFrame | ReactFrame;

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
  /** Live fan-out: the transport's topics once it offers them (useTopics), else one send per receiver. */
  private _topics: Topics = new LocalTopics((conn, conv) => this._refused(conn, conv));
  private readonly _typing: Typing;
  private _nextSessionId = 1;
  private readonly _sessions = new Set<Session>();
  /** Joins whose `joined` is not out yet, per session and conversation (see _join). */
  private readonly _joining = new WeakMap<Session, Map<string, Promise<void>>>();
  /** Appends not yet settled: shutdown waits for them so that their acks go out. */
  private readonly _inflight = new Set<Promise<unknown>>();
  private _sweepTimer: TimerHandle | undefined;
  private _closing = false;
  private readonly _observer: HubObserver;
  private readonly _presence: Presence;
  /** `conv \0 seq` → when this relay's store call for it returned (performance.now()). */
  private readonly _committedAt = new Map<string, number>();
  /** The server API (relay/api), over the same code paths as the frames. */
  readonly server: ServerCommands;

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
    this._conversations = new Conversations(
      () => this._bus,
      this._clock,
      (conv, event, sessions) => this._fanOut(conv, event, sessions),
      () => this._topics,
    );
    this._typing = new Typing({
      clock: this._clock,
      expiryMs: options.typingExpiryMs ?? Limits.typingExpiryMs,
      fanOutIntervalMs: this.limits.typingFanOutIntervalMs,
      publish: (conv, user, active) => this._bus.publish(conv, { kind: 'typing', conv, user, active }),
    });
    this._observer = options.observer ?? noObserver;
    this._presence = new Presence({
      relayId: options.relayId ?? randomUUID(),
      clock: this._clock,
      timings: { ...DEFAULT_PRESENCE_TIMINGS, ...options.presence },
      log: this._log,
      broadcast: (event) => this._bus.broadcast(event),
      changed: (conv, user, online, seen) => {
        const sessions = this._conversations.sessions(conv);
        if (sessions.size > 0) this._fanOut(conv, { kind: 'presence', conv, user, online, ...(seen !== undefined ? { seen } : {}) }, sessions);
      },
      persistSeen: (conv, user, ts) => {
        const write = this._store.setSeen(conv, user, ts).catch((error: unknown) => this._log.warn({ err: error, conv, user }, 'could not store last seen'));
        this._track(write);
      },
    });
    this.server = new HubServerCommands({
      store: this._store,
      files: this._files,
      clock: this._clock,
      log: this._log,
      append: (input) => this._commitAppend(input),
      change: (input) => this._commitChange(input),
      ban: (conv, user, until) => this._commitBan(conv, user, until),
      members: async (conv) => this._withPresence(conv, await this._store.members(conv), true),
    });
  }

  /** The transport's topics (uWS: app.publish); called before the first connection opens. */
  useTopics(topics: Topics): void {
    this._topics = topics;
  }

  async start(): Promise<void> {
    this._bus = await this._busFactory({
      onEvent: (conv, event) => this._conversations.receive(conv, event),
      onGap: (convs) => this._onBusGap(convs),
      onBroadcast: (event) => this._presence.receive(event),
      onReconnect: () => {
        this._observer.busReconnected();
        this._presence.reconnected();
      },
    });
    this._presence.start();
    this._scheduleSweep();
  }

  /**
   * Whether an HTTP upload by `identity` to `conv` is refused (null = allowed): the token's
   * conversations, and v1.1 bans. relay/http/upload.ts answers 403 (or 503 for `unavailable`).
   */
  async uploadRefusal(identity: Identity, conv: string): Promise<{ code: ErrorCode; message: string } | null> {
    if (!canAccess(identity, conv)) return { code: ErrorCode.forbidden, message: `not allowed to upload to ${conv}` };
    try {
      const ban = await this._store.banOf(conv, identity.user.id, this._clock.now());
      return ban ? { code: ErrorCode.forbidden, message: banMessage(conv, ban.until) } : null;
    } catch (error) {
      if (error instanceof StoreUnavailableError) return { code: ErrorCode.unavailable, message: 'storage is unavailable; retry shortly' };
      this._log.error({ err: error }, 'ban check failed');
      return { code: ErrorCode.internal, message: 'internal error' };
    }
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
    this._observer.connections(1);
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
    if (session.admitted) {
      this._admission.release(session.info.ip, session.userId);
      this._observer.connections(-1);
    }
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
      this._observer.frameIn('invalid');
      this._reject(session, ErrorCode.badFrame, 'frames must be text (JSON), not binary', undefined);
      return;
    }
    const bytes = Buffer.byteLength(data);
    if (bytes > Limits.maxFrameBytes) {
      this._observer.frameIn('invalid');
      // Too large to be trusted as a frame: say why, then close with the standard 1009.
      this._error(session, ErrorCode.tooLarge, `frame is larger than ${Limits.maxFrameBytes} bytes`, undefined);
      this._close(session, CloseCode.frameTooLarge, 'frame too large');
      return;
    }
    const decoded = parseClientFrame(data);
    if (!decoded.ok) {
      this._observer.frameIn('invalid');
      this._reject(session, decoded.code, decoded.message, decoded.ref, salvageSubject(data, isId));
      return;
    }
    const frame = decoded.frame;
    this._observer.frameIn(frame.type);
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
      case 'edit':
      case 'delete':
      case 'react':
        this._change(session, frame);
        return;
      case 'ban':
        void this._banFrame(session, frame);
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
      // v1.1: so the widget offers moderation (delete others' messages, ban) only to moderators.
      ...(session.identity!.role === Role.moderator ? { role: Role.moderator } : {}),
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
    if (!session.memberships.has(conv)) this._observer.joinedSessions(1);
    // A new replay: live events are held again until it ends, so they never overtake it.
    this._conversations.unsubscribe(session, conv);
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
      // The ban is read after subscribing: a ban stored later reaches this session through the bus.
      const [before, ban] = await Promise.all([this._store.members(conv), this._store.banOf(conv, identity.user.id, this._clock.now())]);
      if (!current()) return;
      if (ban) {
        this._leave(session, conv);
        this._rememberBan(session, conv, ban.until);
        this._reject(session, ErrorCode.forbidden, banMessage(conv, ban.until), frame.ref, { conv });
        return;
      }
      session.bannedFrom.delete(conv);
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
      // Online from now on (everyone here hears it before the replay's end, the joiner too).
      if (!session.present.has(conv)) {
        session.present.add(conv);
        this._presence.join(conv, identity.user.id);
      }
      const joined = this._reply(session, {
        type: 'joined',
        conv,
        epoch,
        head,
        members: this._withPresence(conv, members, identity.role === Role.moderator),
        typing: this._typing.typists(conv),
        ...(reset ? { reset: true } : {}),
        ref: frame.ref,
      });
      open();
      if (!joined) return;
      const lastSent = await replay(session, conv, after, head, {
        store: this._store,
        current,
        send: (text, type) => {
          this._observer.frameOut(type, 1);
          return this._sendOrClose(session, text);
        },
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
        const seq = logSeq(event);
        if (seq !== null && seq <= lastSent) continue;
        if (this._deliver(session, conv, event, text)) this._observer.frameOut(eventType(event), 1);
      }
      // Caught up: from here on live events come through the conversation's topic.
      if (!session.resyncPending.has(conv)) this._conversations.subscribe(session, conv);
    } catch (error) {
      if (session.memberships.get(conv) === membership) this._leave(session, conv);
      this._storeError(session, error, frame.ref, { conv });
    } finally {
      open();
    }
  }

  private _leave(session: Session, conv: string): void {
    if (session.memberships.delete(conv)) this._observer.joinedSessions(-1);
    session.resyncPending.delete(conv);
    if (session.present.delete(conv)) this._presence.leave(conv, session.userId!);
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

  // ------------------------------------------------------------------ messages and changes

  private _send(session: Session, frame: SendFrame): void {
    const { conv, id } = frame;
    if (!session.memberships.has(conv)) {
      this._notJoined(session, conv, `join ${conv} before sending to it`, frame.ref, { conv, id });
      return;
    }
    if (!frame.file) {
      this._inOrder(session, conv, frame.ref, { conv, id }, () => this._append(session, frame, undefined));
      return;
    }
    // A message with a file waits for the file's record; the connection's later writes queue
    // behind it, so that they are stored in the order they were sent.
    this._chain(session, frame.ref, { conv, id }, async () => {
      const file = await this._files.describe(frame.file!.url);
      if (session.isClosed) return;
      if (file === null || file.conv !== conv) {
        this._reject(session, ErrorCode.badFrame, `${frame.file!.url} is not a file uploaded to ${conv}`, frame.ref, { conv, id });
        return;
      }
      await this._append(session, frame, { url: frame.file!.url, name: file.name, size: file.size, type: file.type });
    });
  }

  /** v1.1: edit, delete or react, in the connection's order with its sends (an edit right after its send finds the message). */
  private _change(session: Session, frame: EditChange): void {
    const { conv, id } = frame;
    if (!session.memberships.has(conv)) {
      this._notJoined(session, conv, `join ${conv} before changing its messages`, frame.ref, { conv, id });
      return;
    }
    const change: Change =
      frame.type === 'edit'
        ? { kind: 'edit', text: frame.text }
        : frame.type === 'delete'
          ? { kind: 'delete' }
          : { kind: 'react', emoji: frame.emoji, on: frame.on };
    this._inOrder(session, conv, frame.ref, { conv, id }, () => this._applyChange(session, frame, change));
  }

  /**
   * Runs a write now, or — while the connection's `joined` for the conversation is not out
   * yet, or a send of it waits for a file — right after that, keeping the frames' order.
   */
  private _inOrder(session: Session, conv: string, ref: Ref, subject: Subject, write: () => Promise<void>): void {
    if (session.sendChain !== null) {
      this._chain(session, ref, subject, write);
      return;
    }
    const joining = this._joining.get(session)?.get(conv);
    if (!joining) {
      void write();
      return;
    }
    // In order: these callbacks run in the order the frames arrived, before any later frame.
    this._track(
      joining.then(() => {
        if (session.isClosed) return;
        if (session.memberships.has(conv)) return write();
        this._notJoined(session, conv, `join ${conv} first`, ref, subject);
      }),
    );
  }

  /** Queues a write behind the connection's previous chained one (bounded). */
  private _chain(session: Session, ref: Ref, subject: Subject, write: () => Promise<void>): void {
    if (session.chainedSends >= MAX_CHAINED_SENDS) {
      this._reject(session, ErrorCode.rateLimited, 'too many messages waiting for their files; retry shortly', ref, subject);
      return;
    }
    session.chainedSends++;
    const previous = session.sendChain ?? Promise.resolve();
    const link = previous
      .then(() => (session.isClosed ? undefined : write()))
      .catch((error: unknown) => this._storeError(session, error, ref, subject))
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
    const done = this._commitAppend({ conv, id, from, text: frame.text, file, ts: this._clock.now(), reply: frame.reply })
      .then((result) => {
        switch (result.kind) {
          case 'stored':
            this._reply(session, { type: 'ack', conv, id, seq: result.message.seq, ts: result.message.ts, ref: frame.ref });
            return;
          case 'duplicate':
            this._reply(session, { type: 'ack', conv, id, seq: result.seq, ts: result.ts, ref: frame.ref });
            return;
          case 'conflict':
            this._error(session, ErrorCode.conflict, `message id ${id} is taken by another sender`, frame.ref, { conv, id });
            return;
          case 'reply_not_found':
            this._error(session, ErrorCode.badFrame, `reply: no message ${frame.reply} in ${conv}`, frame.ref, { conv, id });
            return;
        }
      })
      .catch((error: unknown) => this._storeError(session, error, frame.ref, { conv, id }));
    this._track(done);
    return done;
  }

  private _applyChange(session: Session, frame: EditChange, change: Change): Promise<void> {
    const { conv, id } = frame;
    const identity = session.identity!;
    const authority = identity.role === Role.moderator ? Authority.moderator : Authority.member;
    const done = this._commitChange({ conv, id, by: identity.user, authority, change, ts: this._clock.now() })
      .then((result) => {
        switch (result.kind) {
          case 'stored':
            this._reply(session, { type: 'ack', conv, id, seq: result.update.seq, ts: result.update.ts, ref: frame.ref });
            return;
          case 'unchanged':
            // A retried (or pointless) change: the current state is acknowledged, nothing fans out.
            this._reply(session, { type: 'ack', conv, id, seq: result.seq, ts: result.ts, ref: frame.ref });
            return;
          case 'not_found':
            this._error(session, ErrorCode.notFound, `no message ${id} in ${conv}`, frame.ref, { conv, id });
            return;
          case 'forbidden':
            this._error(
              session,
              ErrorCode.forbidden,
              result.reason === 'deleted' ? `message ${id} is deleted: it can no longer be edited or reacted to` : `message ${id} is not yours to ${frame.type}`,
              frame.ref,
              { conv, id },
            );
            return;
          case 'too_many_reactions':
            this._error(session, ErrorCode.badFrame, `a message takes at most ${Limits.maxReactionsPerMessage} different emoji`, frame.ref, { conv, id });
            return;
        }
      })
      .catch((error: unknown) => this._storeError(session, error, frame.ref, { conv, id }));
    this._track(done);
    return done;
  }

  /** Stores a message (frames and server API alike); a stored one fans out on every relay and ends its sender's typing. */
  private _commitAppend(input: AppendInput): Promise<AppendResult> {
    const started = performance.now();
    const typingMark = this._typing.mark();
    // Called synchronously: the store keeps call order, and so one connection's order.
    return this._store.append(input).then((result) => {
      this._observer.appended(performance.now() - started);
      if (result.kind === 'stored') {
        this._publishLog(input.conv, result.message.seq, { kind: 'msg', message: result.message });
        this._typing.messageStored(input.conv, input.from.id, typingMark);
      }
      return result;
    });
  }

  /** Applies a change (frames and server API alike); a stored one fans out as `update` on every relay. */
  private _commitChange(input: ChangeInput): Promise<ChangeResult> {
    const started = performance.now();
    return this._store.change(input).then((result) => {
      this._observer.appended(performance.now() - started);
      if (result.kind === 'stored') this._publishLog(input.conv, result.update.seq, { kind: 'update', update: result.update });
      return result;
    });
  }

  private _publishLog(conv: string, seq: number, event: BusEvent): void {
    // Timed only where it will fan out here (a server API post to a conversation nobody here follows is not).
    if (this._conversations.sessions(conv).size > 0) {
      this._committedAt.set(`${conv}\u0000${seq}`, performance.now());
      if (this._committedAt.size > MAX_COMMITS_TIMED) this._committedAt.delete(this._committedAt.keys().next().value!);
    }
    this._bus.publish(conv, event);
  }

  /** v1.1: a moderator bans a user: acknowledged with the head once stored and announced to every relay. */
  private async _banFrame(session: Session, frame: BanFrame): Promise<void> {
    const { conv, user } = frame;
    const identity = session.identity!;
    if (identity.role !== Role.moderator || !canAccess(identity, conv)) {
      this._error(session, ErrorCode.forbidden, identity.role === Role.moderator ? `not allowed in ${conv}` : 'only moderators may ban', frame.ref, { conv });
      return;
    }
    // As the server API does: 1e300 is an integer to the schema, but no store can keep it.
    if (frame.until !== undefined && !Number.isSafeInteger(frame.until)) {
      this._error(session, ErrorCode.badFrame, 'until must be a time in ms since the epoch', frame.ref, { conv });
      return;
    }
    try {
      await this._commitBan(conv, user, frame.until);
      const head = await this._store.head(conv);
      this._reply(session, { type: 'ack', conv, id: `ban:${user}`, seq: head, ts: this._clock.now(), ref: frame.ref });
    } catch (error) {
      this._storeError(session, error, frame.ref, { conv });
    }
  }

  /** Stores a ban, then every relay removes the user's sessions from the conversation (see _fanOut). */
  private async _commitBan(conv: string, user: string, until: number | undefined): Promise<void> {
    await this._store.ban({ conv, user, ...(until !== undefined ? { until } : {}) });
    if (until === undefined || until > this._clock.now()) this._bus.publish(conv, { kind: 'ban', conv, user, ...(until !== undefined ? { until } : {}) });
  }

  /** Members with `online` from the cluster's presence; `banned` only for moderators (and the server API). */
  private _withPresence(conv: string, members: Member[], showBans: boolean): Member[] {
    return members.map((member) => {
      const { banned, ...rest } = member;
      return { ...rest, online: this._presence.online(conv, member.id), ...(showBans && banned ? { banned } : {}) };
    });
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
      // A joined session is not banned (a ban removes it); anyone else reading is checked.
      const [page, ban] = await Promise.all([
        // Clamped: the schema takes any integer (1e300 is one), a store's column does not.
        frame.after !== undefined
          ? this._store.range(conv, Math.min(frame.after, Number.MAX_SAFE_INTEGER), limit)
          : this._store.before(conv, Math.min(frame.before ?? Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), limit),
        session.memberships.has(conv) ? null : this._store.banOf(conv, session.userId!, now),
      ]);
      rows = Math.max(1, page.messages.length);
      if (ban) {
        this._error(session, ErrorCode.forbidden, banMessage(conv, ban.until), frame.ref, { conv });
        return;
      }
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
      this._notJoined(session, conv, `join ${conv} before typing in it`, frame.ref, { conv });
      return;
    }
    if (frame.active) this._typing.start(conv, session.userId!);
    else this._typing.stop(conv, session.userId!);
  }

  private async _receipt(session: Session, frame: ReceiptFrame): Promise<void> {
    const { conv } = frame;
    if (!session.memberships.has(conv)) {
      this._notJoined(session, conv, `join ${conv} before sending receipts`, frame.ref, { conv });
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

  private _fanOut(conv: string, event: BusEvent | HubEvent, sessions: ReadonlySet<Session>): void {
    if (event.kind === 'typing') this._typing.observe(conv, event.user, event.active);
    if (event.kind === 'ban') return this._removeBanned(conv, event.user, event.until, sessions);
    const seq = logSeq(event);
    if (seq !== null) {
      const key = `${conv}\u0000${seq}`;
      const committedAt = this._committedAt.get(key);
      if (committedAt !== undefined) {
        this._committedAt.delete(key);
        this._observer.fannedOut(performance.now() - committedAt);
      }
    }
    if (sessions.size === 0) return;
    const text = serializeEvent(event); // once, however many receivers
    let sent = 0;
    const bytes = Buffer.byteLength(text);
    const pending = this._conversations.pendingBytes();
    if (event.kind === 'typing' || pending + bytes > this.limits.sendQueueBytes / 2) {
      // One send per receiver: typing goes to the others only (and is throttled: rare); and
      // in a turn that already published half a queue's worth (a big commit batch under
      // overload) each receiver's own queue is checked exactly, instead of assuming all of
      // it may still be waiting for every receiver (which would send everyone `resync`).
      for (const session of sessions) if (this._deliver(session, conv, event, text)) sent++;
    } else {
      // One publish to the conversation's topic reaches every caught-up receiver (natively on
      // uWS); per receiver only its queue is checked, counting what was published but not yet
      // written, so that nothing is handed to a connection past its bound (uWS would drop it).
      const room = this.limits.sendQueueBytes - pending - bytes;
      for (const session of sessions) {
        const membership = session.memberships.get(conv);
        if (!membership || session.isClosed) continue;
        if (!membership.live) this._hold(membership, event, text);
        else if (!this._conversations.isSubscribed(session, conv)) continue; // resync owed: it catches up then
        else if (session.conn.bufferedAmount() > room) this._oweResync(session, conv);
        else sent++;
      }
      if (sent > 0) this._conversations.publish(conv, text);
    }
    if (sent > 0) this._observer.frameOut(eventType(event), sent);
  }

  /**
   * A live event for one session: held during its replay, not queued for a client that does
   * not read. True when it was handed to the connection now.
   */
  private _deliver(session: Session, conv: string, event: HubEvent, text: string): boolean {
    if (event.kind === 'typing' && event.user === session.userId) return false; // typing goes to others
    const membership = session.memberships.get(conv);
    if (!membership || session.isClosed) return false;
    if (!membership.live) {
      this._hold(membership, event, text);
      return false;
    }
    if (session.conn.bufferedAmount() > this.limits.sendQueueBytes || session.conn.send(text) === SendResult.dropped) {
      this._oweResync(session, conv);
      return false;
    }
    return true;
  }

  /** An event during the session's replay: kept (bounded) for the replay's end. */
  private _hold(membership: Membership, event: HubEvent, text: string): void {
    if (membership.overflowed) return;
    if (membership.heldBytes + text.length > this.limits.catchUpBufferBytes) {
      membership.overflowed = true;
      membership.held.length = 0;
      membership.heldBytes = 0;
      return;
    }
    membership.held.push({ event, text });
    membership.heldBytes += text.length;
  }

  /** Events of `conv` were not queued for this client: it leaves the topic, and gets `resync` once it has read. */
  private _oweResync(session: Session, conv: string): void {
    if (session.resyncPending.size === 0) this._log.warn({ session: session.id, conv }, 'slow client: events not queued, resync owed');
    session.resyncPending.add(conv);
    this._conversations.unsubscribe(session, conv);
    session.markBackedUp(this._clock.now());
  }

  /** The fallback topics could not queue an event for this connection (see LocalTopics). */
  private _refused(conn: WebSocketLike, conv: string): void {
    for (const session of this._conversations.sessions(conv)) if (session.conn === conn) this._oweResync(session, conv);
  }

  /** v1.1: a ban reached this relay: the user's sessions leave the conversation, told why, and get nothing more of it. */
  private _removeBanned(conv: string, user: string, until: number | undefined, sessions: ReadonlySet<Session>): void {
    for (const session of [...sessions]) {
      if (session.userId !== user || session.isClosed) continue;
      this._leave(session, conv);
      this._rememberBan(session, conv, until);
      this._error(session, ErrorCode.forbidden, banMessage(conv, until), undefined, { conv });
    }
  }

  private _rememberBan(session: Session, conv: string, until: number | undefined): void {
    session.bannedFrom.delete(conv);
    session.bannedFrom.set(conv, until ?? Infinity);
    // Bounded like the joins of a connection: the oldest is forgotten (then answered not_joined).
    if (session.bannedFrom.size > this.limits.maxJoinsPerConnection) session.bannedFrom.delete(session.bannedFrom.keys().next().value!);
  }

  /** A frame for a conversation this session has not joined: `forbidden` while it is banned from it, else `not_joined`. */
  private _notJoined(session: Session, conv: string, message: string, ref: Ref, subject: Subject): void {
    const until = session.bannedFrom.get(conv);
    const now = this._clock.now();
    if (until !== undefined && until > now) {
      // The ban may have been lifted through the server API since (on any relay, with no
      // event to say so): the store has the last word. Only a banned session pays this read.
      const refuse = (end: number | undefined) => this._error(session, ErrorCode.forbidden, banMessage(conv, end), ref, subject);
      this._track(
        this._store.banOf(conv, session.userId!, now).then(
          (ban) => {
            if (session.isClosed) return;
            if (ban) return refuse(ban.until);
            if (session.bannedFrom.get(conv) === until) session.bannedFrom.delete(conv);
            this._error(session, ErrorCode.notJoined, message, ref, subject);
          },
          () => refuse(until === Infinity ? undefined : until),
        ),
      );
      return;
    }
    if (until !== undefined) session.bannedFrom.delete(conv);
    this._error(session, ErrorCode.notJoined, message, ref, subject);
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
      // Told to catch up: live events flow again (the client's rejoin replays what it missed).
      if (session.memberships.get(conv)?.live && this._reply(session, { type: 'resync', conv })) this._conversations.subscribe(session, conv);
    }
  }

  // ------------------------------------------------------------------ output

  /** Queues a reply; if the transport refuses it, the connection is closed (never a silent drop). */
  private _reply(session: Session, frame: ServerFrame): boolean {
    const sent = this._sendOrClose(session, JSON.stringify(frame));
    if (sent) this._observer.frameOut(frame.type, 1);
    return sent;
  }

  private _sendOrClose(session: Session, text: string): boolean {
    if (session.isClosed) return false;
    if (session.conn.send(text) !== SendResult.dropped) return true;
    this._log.warn({ session: session.id, user: session.userId, queued: session.conn.bufferedAmount() }, 'reply could not be queued: closing a client that does not read');
    this._close(session, CloseCode.tooSlow, 'too slow: reply could not be queued');
    return false;
  }

  private _error(session: Session, code: ErrorCode, message: string, ref: Ref, subject: Subject = {}): void {
    this._observer.error(code);
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
   * acks go out); close every connection with 1001 so clients reconnect elsewhere; store when
   * this relay's users were last seen and tell the other relays it is leaving (they keep its
   * users online for the grace, time enough to reconnect elsewhere); then release the bus and
   * the store.
   */
  async shutdown(): Promise<void> {
    if (this._closing) return;
    this._closing = true;
    this._clock.clearTimeout(this._sweepTimer);
    while (this._inflight.size > 0) await Promise.allSettled([...this._inflight]);
    for (const session of [...this._sessions]) this._close(session, CloseCode.goingAway, 'relay shutting down');
    this._presence.stop();
    while (this._inflight.size > 0) await Promise.allSettled([...this._inflight]);
    this._typing.dispose();
    this._conversations.dispose();
    await this._bus.close();
    await this._store.close();
  }
}

function authMessage(error: unknown): string {
  return error instanceof AuthError ? error.message : 'token rejected';
}

/** The latest time a Date holds (ms); a ban beyond it is valid on the wire and lasts for good. */
const MAX_DATE_MS = 8.64e15;

function banMessage(conv: string, until: number | undefined): string {
  return until === undefined || until > MAX_DATE_MS ? `banned from ${conv}` : `banned from ${conv} until ${new Date(until).toISOString()}`;
}

function isId(value: unknown): boolean {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** The frame type an event goes out as (for metrics). */
function eventType(event: HubEvent): string {
  return event.kind === 'msg' ? 'msg' : event.kind;
}
