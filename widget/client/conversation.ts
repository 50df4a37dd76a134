/**
 * One conversation of a session: wires the join machine (join.ts), the outbox, the timeline
 * (ordering buffer, messages in their current state), the history cache, receipts, typing,
 * uploads and the user's changes to messages of ONE conversation together and turns them into
 * immutable snapshots for the view (views.ts). The connection belongs to the session
 * (session.ts), which hands this object the frames about its conversation and its connection's
 * state changes.
 */
import {
  codePointLength,
  ErrorCode,
  ID_PATTERN,
  Limits,
  RETRYABLE_ERRORS,
  type AckFrame,
  type BanFrame,
  type ClientFrame,
  type ErrorFrame,
  type FileRef,
  type HistoryReplyFrame,
  type JoinedFrame,
  type LogEvent,
  type Member,
  type MessageFrame,
  type PresenceFrame,
  type SendFrame,
  type ServerFrame,
  type UpdateFrame,
  type User,
  type WelcomeFrame,
} from '../../protocol/index.js';
import { newId, watchPageHide } from './platform.js';
import type { BackoffOptions } from './backoff.js';
import { HistoryCache, type CachedHistory, type HistoryContent } from './cache.js';
import { takeEarly } from './early.js';
import { applyUpdate } from './changes.js';
import { ClientErrorCode, type ChatError, type ErrorParams } from './errors.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { NetworkSignal } from './connection.js';
import { Edits, EditsDefaults } from './edits.js';
import { GapFiller } from './gap-filler.js';
import { Joiner, JoinPhase, type JoinRequest } from './join.js';
import { isChange, Outbox, type MessageEntry } from './outbox.js';
import { Receipts } from './receipts.js';
import { Requests, type Settled } from './requests.js';
import { ReceiptView } from './status.js';
import { storageKeys, uploadKeyPrefix } from './storage.js';
import { Timeline } from './timeline.js';
import { TypingSender, TypingWatcher } from './typing.js';
import type {
  BanResult,
  ChatClient,
  ChatClientEvent,
  ChatMessage,
  ChatSnapshot,
  ConnectionState,
  KeyValueStorage,
  SendOptions,
  UploadState,
} from './types.js';
import { KeptUploads } from './kept-uploads.js';
import { Uploads, type UploadFile, type XhrLike } from './uploads.js';
import { MessageViews } from './views.js';
import { callEach } from './listeners.js';

export { JOIN_TRANSITIONS, JoinPhase } from './join.js';

/**
 * Knobs that are not part of the public contract: tests use them to drive time, the
 * network signal and XHR, and to shorten delays.
 */
export interface ClientInternals {
  clock?: Clock;
  network?: NetworkSignal;
  backoff?: BackoffOptions;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  connectTimeoutMs?: number;
  XMLHttpRequest?: new () => XhrLike;
  outboxWindow?: number;
  deliveredDelayMs?: number;
  readDelayMs?: number;
  cacheDebounceMs?: number;
  /** A gap or older-page request without an answer is given up (and a gap asked again) after this. */
  requestTimeoutMs?: number;
  onStorageError?: (error: unknown) => void;
  /** Takes a lock no other tab holds (kept uploads); default: a Web Lock. */
  claimLock?: (name: string) => Promise<(() => void) | null>;
}

/** What a conversation needs of its session: the connection's state, a way to send, and who the user is. */
export interface SessionPort {
  readonly relay: string;
  /** The user the stored data belongs to (open-mode user or the token's `sub`). */
  readonly userKey: string;
  /** Resolves once the user is known (at once with a token or open-mode user; after the first `getToken()` otherwise). */
  ready(): Promise<void>;
  readonly name: string | undefined;
  readonly storage: KeyValueStorage;
  readonly state: ConnectionState;
  /** The current connection's `welcome`, while it is open. */
  readonly welcome: WelcomeFrame | null;
  send(frame: ClientFrame): boolean;
  /** A ref unique on the connection (across conversations and tabs). */
  ref(): string;
  httpBase(): string;
  authHeaders(): Record<string, string>;
  /** The user is a moderator (`welcome.role`, or the token's `role` claim before it; the relay decides, this only shapes the view). */
  readonly moderator: boolean;
  /** The conversation's snapshot changed (the session recounts unread messages). */
  changed(): void;
  /** The conversation was disposed; `joined`: it had joined (or asked to) on the connection, so it leaves. */
  release(conversation: Conversation, joined: boolean): void;
}

export const ClientDefaults = {
  /** Messages replayed on a first visit (no cache); older ones come page by page. */
  initialTail: 50,
  olderPage: Limits.defaultHistoryLimit,
  deliveredDelayMs: 1000,
  readDelayMs: 500,
  requestTimeoutMs: 10_000,
  /** Snapshot notifications at most this often, so a long catch-up does not rebuild the view per frame. */
  notifyIntervalMs: 16,
} as const;

const DEFAULT_LIMITS: ChatSnapshot['limits'] = { maxTextChars: Limits.maxTextChars, maxUploadBytes: 25 * 1024 * 1024 };

interface OlderRequest {
  ref: string;
  /** The `before` asked: the page extends the run only if the run still starts there. */
  before: number;
  promise: Promise<void>;
  done: () => void;
}

/** The replies the registry matches to requests. */
type Reply = JoinedFrame | HistoryReplyFrame | AckFrame;

/** A send is matched to its ack by the message id (the relay's `ack` and `error` name it); refs are strings too, so the id is prefixed. */
const sendRef = (id: string): string => `send:${id}`;

const isMessage = (event: LogEvent): event is MessageFrame => event.type === 'msg';

export class Conversation implements ChatClient {
  private readonly _port: SessionPort;
  private readonly _x: ClientInternals;
  private readonly _clock: Clock;
  private readonly _conv: string;
  private readonly _outbox: Outbox;
  private readonly _cache: HistoryCache;
  private _stopWatchingPageHide: () => void = () => {};
  /** Messages in their current state (gap-free in the log), acked own messages on their way, and the unread divider. */
  private readonly _timeline = new Timeline<MessageFrame, MessageEntry, UpdateFrame>(applyUpdate);
  private _seenVersion = -1;
  private readonly _members = new Map<string, Member>();
  private readonly _typingSender: TypingSender;
  private readonly _typingWatcher: TypingWatcher;
  private readonly _uploads: Uploads;
  private readonly _keptUploads: KeptUploads;
  private readonly _receipts: Receipts;
  private readonly _gaps: GapFiller<Reply>;
  private readonly _joiner: Joiner<Reply>;
  /** The user's own changes to messages: checked, queued, acked, shown, rolled back. */
  private readonly _edits: Edits;
  /** Set when the conversation is closed to the user for good (refused, removed, banned, invalid id). */
  private _refusal: ChatError | null = null;
  /** Set while the whole session is refused (credentials, origin): no conversation can work. */
  private _sessionRefusal: ChatError | null = null;
  /** A new token came after a refusal: join once more at the next `welcome`. */
  private _reopen = false;

  private _self: User | null = null;
  private _limits = DEFAULT_LIMITS;
  private _epoch: string | null = null;
  private _pumpTimer: TimerHandle | undefined;
  /** Every request awaiting its reply (join, gap fill, older page, send, change, ban), with its timeout. */
  private readonly _requests: Requests<Reply>;
  private _older: OlderRequest | null = null;
  /** Messages from others above this seq are news (`message` events); below it they are history. */
  private _notifyAbove: number | null = null;

  private _snapshot: ChatSnapshot | null = null;
  private readonly _messageViews = new MessageViews();
  private _notifyScheduled = false;
  private _notifyTimer: TimerHandle | undefined;
  private _lastNotifyAt = -Infinity;
  private readonly _listeners = new Set<(snapshot: ChatSnapshot) => void>();
  private readonly _eventListeners = new Set<(event: ChatClientEvent) => void>();
  private _started: Promise<void> | null = null;
  /** The cache and outbox are loaded: the session's news are taken from now on. */
  private _loaded = false;
  /** The older cached messages are still being read (shown after the newest): unread counts only what is held. */
  private _olderPending = false;
  private _disposed = false;

  constructor(port: SessionPort, conversation: string, internals: ClientInternals = {}) {
    this._port = port;
    this._x = internals;
    this._clock = internals.clock ?? systemClock;
    this._conv = conversation;
    this._requests = new Requests<Reply>(this._clock);
    // The user may be known only after the first `getToken()`: keys are read when storage is used (after `ready`).
    const keys = () => storageKeys(port.relay, port.userKey, conversation);
    const storage = port.storage;
    const onStorageError = internals.onStorageError ?? ((error: unknown) => console.warn('chat-room: storage failed', error));

    this._outbox = new Outbox({
      storage,
      get key() {
        return keys().outbox;
      },
      clock: this._clock,
      window: internals.outboxWindow,
      backoff: internals.backoff,
      onStorageError,
    });
    this._cache = new HistoryCache({
      storage,
      get key() {
        return keys().history;
      },
      clock: this._clock,
      debounceMs: internals.cacheDebounceMs,
      onStorageError,
      early: () => takeEarly(keys().history),
    });
    this._typingSender = new TypingSender(this._clock, (active) => this._sendInConversation({ type: 'typing', conv: this._conv, active }));
    this._typingWatcher = new TypingWatcher(this._clock, () => this._invalidate());
    this._receipts = new Receipts({
      clock: this._clock,
      deliveredDelayMs: internals.deliveredDelayMs ?? ClientDefaults.deliveredDelayMs,
      readDelayMs: internals.readDelayMs ?? ClientDefaults.readDelayMs,
      last: () => this._timeline.last,
      send: (receipt) => this._sendInConversation({ type: 'receipt', conv: this._conv, ...receipt }),
    });
    this._joiner = new Joiner<Reply>({
      conv: conversation,
      clock: this._clock,
      requests: this._requests,
      timeoutMs: this._requestTimeoutMs,
      backoff: internals.backoff,
      canJoin: () => this._port.state === 'open' && !this._disposed,
      ref: () => this._ref(),
      // First visit: just the newest messages. Known history: everything after it, so the log stays gap-free.
      request: () =>
        this._epoch === null
          ? { after: 0, tail: ClientDefaults.initialTail }
          : { after: this._timeline.last, tail: undefined, epoch: this._epoch },
      send: (frame) => this._port.send(frame),
      onJoined: (frame, request) => this._onJoined(frame, request),
      onRefused: (code) => this._refuse({ code, params: { reason: 'conversation' } }),
    });
    if (!ID_PATTERN.test(conversation)) {
      // The relay would answer bad_frame to every join: known now, so none is sent.
      this._refusal = { code: ClientErrorCode.badConfig, params: { reason: 'conversation' } };
      this._joiner.refuse();
    }
    this._gaps = new GapFiller<Reply>({
      clock: this._clock,
      requests: this._requests,
      timeoutMs: this._requestTimeoutMs,
      gap: () => (this._joiner.joined ? this._timeline.gap() : null),
      ref: () => this._ref(),
      send: (after, limit, ref) => this._port.send({ type: 'history', conv: this._conv, after, limit, ref }),
      fill: (events) => {
        const before = this._timeline.last;
        this._accept(this._timeline.push(events));
        return this._timeline.last !== before;
      },
    });
    this._edits = new Edits({
      conv: conversation,
      clock: this._clock,
      outbox: this._outbox,
      makeId: newId,
      current: (id) => this.snapshot.messages.find((m) => m.id === id),
      maxTextChars: () => this._limits.maxTextChars,
      last: () => this._timeline.last,
      discardMessage: (id) => this.discard(id),
      changed: () => this._invalidate(),
      pump: () => this._pump(),
      rejoin: () => this._joiner.join(),
      refused: (code, messageId, params) => this._emit({ type: 'error', code, ...(params ? { params } : {}), messageId }),
    });
    this._keptUploads = new KeptUploads({
      storage,
      get prefix() {
        return uploadKeyPrefix(port.relay, port.userKey, conversation);
      },
      onStorageError,
      claim: internals.claimLock,
    });
    this._uploads = new Uploads({
      createXhr: () => {
        const Xhr = internals.XMLHttpRequest ?? (globalThis as { XMLHttpRequest?: new () => XhrLike }).XMLHttpRequest;
        if (!Xhr) throw new Error('uploads need XMLHttpRequest');
        return new Xhr();
      },
      request: (file, name) => this._uploadRequest(file, name),
      maxBytes: () => this._limits.maxUploadBytes,
      makeId: newId,
      onChange: () => this._invalidate(),
      onDone: (file, text, reply, message) => {
        // A kept upload taken up again after its message went out (the tab closed in between) sends nothing twice.
        if (this._disposed || this._outbox.has(message) || this._timeline.has(message) || this._timeline.isAcked(message)) return;
        this._send(text ?? '', { file, ...(reply !== undefined ? { reply } : {}) }, message);
      },
      onError: (error) => this._emit({ type: 'error', ...error }),
      // Offline (or the relay unreachable): wait for the connection instead of failing at once.
      canStart: () => this._port.state === 'open',
      keep: (upload) => this._keptUploads.keep(upload),
      forget: (id) => this._keptUploads.forget(id),
    });
  }

  // ------------------------------------------------------------------ public surface

  get snapshot(): ChatSnapshot {
    this._snapshot ??= this._build();
    return this._snapshot;
  }

  subscribe(listener: (snapshot: ChatSnapshot) => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  on(listener: (event: ChatClientEvent) => void): () => void {
    this._eventListeners.add(listener);
    return () => this._eventListeners.delete(listener);
  }

  start(): Promise<void> {
    this._started ??= this._start();
    return this._started;
  }

  dispose(): void {
    if (this._disposed) return;
    // Receipts the user already earned go out while the socket is still there.
    this._receipts.flush();
    this._disposed = true;
    // A conversation the relay removed the user from has nothing to leave.
    const joined = this._joiner.phase !== JoinPhase.idle && this._joiner.phase !== JoinPhase.refused;
    this._typingSender.reset();
    this._typingWatcher.clear();
    this._uploads.dispose();
    this._keptUploads.dispose();
    this._joiner.idle();
    for (const timer of [this._pumpTimer, this._notifyTimer]) this._clock.clearTimeout(timer);
    this._dropRequests();
    void this._cache.flush();
    this._stopWatchingPageHide();
    this._listeners.clear();
    this._eventListeners.clear();
    this._port.release(this, joined);
  }

  get disposed(): boolean {
    return this._disposed;
  }

  get id(): string {
    return this._conv;
  }

  /** Whether `id` is an own message this conversation is still sending (errors about it are its). */
  sending(id: string): boolean {
    return this._outbox.has(id);
  }

  /** An error about the whole session shown by this conversation's view. */
  sessionError(code: string, params?: ErrorParams): void {
    if (!this._disposed) this._emit({ type: 'error', code, ...(params ? { params } : {}) });
  }

  /** The session is refused for good (credentials, origin: `error`), or no longer (null). */
  sessionRefused(error: ChatError | null): void {
    if (this._disposed || this._sessionRefusal === error) return;
    this._sessionRefusal = error;
    this._invalidate();
  }

  /**
   * The user has a new token: a conversation refused to them is asked once more (a ban still
   * refuses), once the relay has taken the token (its `welcome`): a join before it would be
   * judged by the old one.
   */
  tokenChanged(): void {
    if (this._disposed || !this._refusal || this._refusal.code === ClientErrorCode.badConfig) return;
    this._refusal = null;
    this._reopen = true;
    this._invalidate();
  }

  /** Messages from others after the user's read cursor (counted in what this device holds). */
  get unread(): number {
    const own = this._members.get(this._selfId);
    return this._timeline.unreadCount(this._selfId, Math.max(this._receipts.read, own?.read ?? 0), !this._olderPending);
  }

  send(text: string, second?: FileRef | SendOptions, third?: SendOptions): ChatMessage {
    const isFile = second !== undefined && 'url' in second;
    const options: SendOptions = isFile ? { ...third, file: second } : { ...(second as SendOptions | undefined) };
    return this._send(text, options, newId());
  }

  /** `id`: the message's id (an upload's, chosen when it began, so that its message is stored once however often it is sent). */
  private _send(text: string, options: SendOptions, id: string): ChatMessage {
    const file = options.file;
    const body = text.trim() === '' ? undefined : text;
    if (body === undefined && !file) throw new Error('send: a message needs text or a file');
    const entry: MessageEntry = { id, conv: this._conv, ts: this._clock.now() };
    if (body !== undefined) entry.text = body;
    if (file) entry.file = file;
    if (options.reply !== undefined) entry.reply = options.reply;
    if (body !== undefined && codePointLength(body) > this._limits.maxTextChars) {
      // The relay would refuse it; failing at once keeps the text for the user to shorten.
      entry.error = { code: ClientErrorCode.textTooLong, params: { max: this._limits.maxTextChars } };
    } else if (this._outbox.size >= EditsDefaults.maxOutbox) {
      entry.error = { code: ClientErrorCode.outboxFull, params: { max: EditsDefaults.maxOutbox } };
    }
    this._typingSender.stopped();
    const saved = this._outbox.add(entry);
    if (!entry.error) void saved.then(() => this._pump());
    this._invalidate();
    if (entry.error) this._emit({ type: 'error', ...entry.error, messageId: entry.id });
    return this.snapshot.messages.find((m) => m.id === entry.id)!;
  }

  retry(messageId: string): void {
    if (!this._outbox.retry(messageId)) return;
    this._invalidate();
    this._pump();
  }

  discard(messageId: string): void {
    let changed = this._outbox.discard(messageId);
    // Its changes can never go out now.
    for (const entry of this._outbox.entries) {
      if (isChange(entry) && entry.change.target === messageId) changed = this._outbox.discard(entry.id) || changed;
    }
    if (changed) this._invalidate();
  }

  edit(messageId: string, text: string): void {
    this._edits.edit(messageId, text);
  }

  delete(messageId: string): void {
    this._edits.delete(messageId);
  }

  react(messageId: string, emoji: string, on: boolean): void {
    this._edits.react(messageId, emoji, on);
  }

  dismissChangeError(messageId: string): void {
    if (this._edits.dismissError(messageId)) this._invalidate();
  }

  ban(userId: string, until?: number): Promise<BanResult> {
    const refused = (code: string): Promise<BanResult> => Promise.resolve({ ok: false, error: { code } });
    if (!this._joiner.joined || this._disposed) return refused(ErrorCode.notJoined);
    const ref = this._ref();
    const frame: BanFrame = { type: 'ban', conv: this._conv, user: userId, ref };
    if (until !== undefined) frame.until = until;
    if (!this._port.send(frame)) return refused(ClientErrorCode.noAnswer);
    return new Promise((resolve) => {
      this._requests.register(ref, this._requestTimeoutMs, (result) => {
        if (result.kind === 'reply') {
          const known = this._members.get(userId);
          if (known) this._setMember({ ...known, banned: true });
          resolve({ ok: true });
        } else resolve({ ok: false, error: { code: result.kind === 'error' ? result.code : ClientErrorCode.noAnswer } });
      });
    });
  }

  loadOlder(): Promise<void> {
    if (this._older) return this._older.promise;
    if (this._timeline.base === 0 || !this._joiner.joined || this._disposed) return Promise.resolve();
    const ref = this._ref();
    const before = this._timeline.base + 1;
    const sent = this._port.send({ type: 'history', conv: this._conv, before, limit: ClientDefaults.olderPage, ref });
    if (!sent) return Promise.resolve();
    let done = () => {};
    const promise = new Promise<void>((resolve) => (done = resolve));
    this._older = { ref, before, promise, done };
    // No answer (the relay instance died with it): give up, so the view may ask again.
    this._requests.register(ref, this._requestTimeoutMs, (result) => this._olderSettled(result));
    this._invalidate();
    return promise;
  }

  typed(): void {
    this._typingSender.typed();
  }

  stoppedTyping(): void {
    this._typingSender.stopped();
  }

  markRead(seq: number): void {
    // Never beyond what this device holds: the user cannot have seen more.
    this._receipts.markRead(seq);
  }

  upload(file: Blob & { name?: string }, text?: string, options?: { reply?: string }): UploadState {
    return this._uploads.start(file as UploadFile, text, options?.reply);
  }

  cancelUpload(uploadId: string): void {
    this._uploads.cancel(uploadId);
  }

  retryUpload(uploadId: string): void {
    this._uploads.retry(uploadId);
  }

  dismissUpload(uploadId: string): void {
    this._uploads.dismiss(uploadId);
  }

  fileUrl(file: FileRef): string {
    if (/^https?:\/\//i.test(file.url)) return file.url;
    return `${this._port.httpBase()}${file.url}`;
  }

  // ------------------------------------------------------------------ lifecycle

  private async _start(): Promise<void> {
    this._stopWatchingPageHide = watchPageHide(() => void this._cache.flush());
    await this._port.ready();
    if (this._disposed) return;
    const outbox = this._outbox.load();
    // The newest cached messages are shown as soon as they are read: the outbox's own messages join them when it is
    // loaded, the older cached messages after that first render. Frames are taken once both stores are loaded.
    const cached = await this._cache.load();
    if (this._disposed) return;
    if (cached && this._epoch === null) {
      this._restore(cached);
      this._invalidate();
      this._olderPending = true;
      this._cache.holdWritesUntil(this._restoreOlder(cached));
    }
    await outbox;
    if (this._disposed) return;
    // Uploads a closed page left unfinished: they wait, and begin once the relay is there.
    void this._keptUploads.restore().then((kept) => {
      if (this._disposed) this._keptUploads.dispose();
      else if (kept.length > 0) this._uploads.restore(kept);
    });
    this._loaded = true;
    this._invalidate();
    const welcome = this._port.welcome;
    if (this._port.state === 'open' && welcome) this.welcomed(welcome);
  }

  private _restore(cached: CachedHistory): void {
    this._epoch = cached.epoch;
    this._self = cached.self;
    for (const member of cached.members) this._members.set(member.id, member);
    const first = cached.messages[0];
    this._timeline.reset(first ? first.seq - 1 : (cached.last ?? 0), cached.messages, false, cached.last);
  }

  /** The older cached messages go below the newest ones, unless the run was reset or extended from the relay meanwhile. */
  private async _restoreOlder(cached: CachedHistory): Promise<void> {
    try {
      const older = await this._cache.loadOlder(cached);
      const before = cached.messages[0]?.seq;
      if (this._disposed || older.length === 0 || before === undefined || this._epoch !== cached.epoch) return;
      // Below the first one held is nothing more (seq 1) or what the relay still has.
      this._timeline.prepend(older, before, older[0]!.seq > 1);
    } finally {
      this._olderPending = false;
      if (!this._disposed) this._invalidate();
    }
  }

  // ------------------------------------------------------------------ from the session

  /** The session's connection changed state. */
  connectionChanged(state: ConnectionState): void {
    if (this._disposed || !this._loaded) return;
    if (state !== 'open') this._leaveSession();
    this._invalidate();
    this._emit({ type: 'status', connection: state });
  }

  /** The socket is gone: nothing is joined or in flight on it any more. */
  private _leaveSession(): void {
    this._joiner.idle();
    this._outbox.connectionLost();
    this._typingSender.reset();
    this._typingWatcher.clear();
    this._clock.clearTimeout(this._pumpTimer);
    this._dropRequests();
  }

  /** Nothing asked on the connection will be answered: every request settles as `dropped`. */
  private _dropRequests(): void {
    this._requests.dropAll();
    this._gaps.stop();
  }

  /** The relay accepted the session's `hello` (a new connection, or a renewed token). */
  welcomed(frame: WelcomeFrame): void {
    if (this._disposed || !this._loaded) return;
    this._self = frame.user;
    if (this._reopen) {
      this._reopen = false;
      this._joiner.reopen();
    }
    if (this._joiner.phase !== JoinPhase.idle) {
      // A renewed token on the same connection: nothing to join again (or a retry is already due, or refused for good).
      this._invalidate();
      return;
    }
    if (frame.limits) this._limits = { maxTextChars: frame.limits.maxTextChars, maxUploadBytes: frame.limits.maxUploadBytes };
    this._uploads.resume();
    this._joiner.welcomed();
    this._joiner.join();
    this._invalidate();
  }

  // ------------------------------------------------------------------ joining

  private _onJoined(frame: JoinedFrame, request: JoinRequest): void {
    const reset = frame.reset === true || (this._epoch !== null && this._epoch !== frame.epoch);
    const firstJoin = this._notifyAbove === null;
    if (reset) {
      // The store was replaced: its seqs mean something else now. The outbox stays and is resent.
      this._timeline.reset(0, [], true);
      this._edits.reset();
      this._receipts.reset();
      void this._cache.clear();
    }
    this._epoch = frame.epoch;
    // Where the relay's replay starts, by the same rule the relay applies.
    let start = reset ? 0 : Math.min(request.after, frame.head);
    if (request.tail !== undefined) start = Math.max(start, frame.head - request.tail);
    const timeline = this._timeline;
    if (start > timeline.last || (timeline.items.length === 0 && start !== timeline.base)) timeline.reset(start);
    this._members.clear();
    for (const member of frame.members) this._members.set(member.id, member);
    const own = this._members.get(this._selfId);
    if (firstJoin || reset) {
      this._notifyAbove = frame.head;
      this._timeline.markOpened(own?.read ?? 0, frame.head);
    }
    this._typingWatcher.replace(frame.typing.filter((user) => user !== this._selfId));
    this._edits.prune();
    this._pump();
    this._receipts.joined(own?.delivered ?? 0, own?.read ?? 0);
    this._gaps.check();
    this._scheduleCache();
    this._invalidate();
  }

  /** Refused or removed (banned, no longer allowed): for good, no retries; the outbox keeps its entries. */
  private _refuse(error: ChatError): void {
    this._joiner.refuse();
    if (this._refusal) return;
    this._refusal = error;
    this._outbox.connectionLost();
    this._typingSender.reset();
    this._typingWatcher.clear();
    this._clock.clearTimeout(this._pumpTimer);
    this._invalidate();
    this._emit({ type: 'error', ...error });
  }

  // ------------------------------------------------------------------ frames

  /** A frame about this conversation (or an error that may be about it). */
  handle(frame: ServerFrame): void {
    if (this._disposed || !this._loaded) return;
    if ('conv' in frame && frame.conv !== undefined && frame.conv !== this._conv) return;
    switch (frame.type) {
      case 'joined':
        this._requests.reply(frame.ref, frame);
        return;
      case 'msg':
      case 'update':
        // Events of an earlier join still in flight are harmless: the timeline drops what it holds.
        this._accept(this._timeline.push([frame]));
        return;
      case 'ack':
        // Changes and bans carry a ref (their acks name the message or `ban:<user>`, not a request); sends are matched by id.
        if (frame.ref !== undefined) this._requests.reply(frame.ref, frame);
        // An ack after its send timed out (and before the resend) still counts.
        else if (!this._requests.reply(sendRef(frame.id), frame)) this._onAck(frame);
        return;
      case 'history':
        // A page nobody waits for any more (timed out) still holds events: keep what continues the log.
        if (!this._requests.reply(frame.ref, frame)) this._accept(this._timeline.push(frame.messages));
        return;
      case 'typing':
        if (frame.user !== this._selfId) this._typingWatcher.set(frame.user, frame.active);
        return;
      case 'receipt': {
        const known = this._members.get(frame.user);
        this._setMember({ ...(known ?? { id: frame.user, name: frame.user }), delivered: frame.delivered, read: frame.read });
        return;
      }
      case 'member':
        this._setMember({ ...this._members.get(frame.member.id), ...frame.member });
        return;
      case 'presence':
        return this._onPresence(frame);
      case 'resync':
        if (this._joiner.phase === JoinPhase.joining || this._joiner.joined) this._joiner.join();
        return;
      case 'error':
        return this._onError(frame);
      case 'welcome':
      case 'pong':
        return;
    }
  }

  private _setMember(member: Member): void {
    this._members.set(member.id, member);
    this._scheduleCache();
    this._invalidate();
  }

  private _onPresence(frame: PresenceFrame): void {
    const known = this._members.get(frame.user) ?? { id: frame.user, name: frame.user, delivered: 0, read: 0 };
    const member: Member = { ...known, online: frame.online };
    if (frame.seen !== undefined) member.seen = frame.seen;
    this._setMember(member);
  }

  /** After events were pushed: `added` are the messages that became visible (ascending). */
  private _accept(added: readonly MessageFrame[]): void {
    if (this._timeline.version === this._seenVersion) {
      this._gaps.check();
      return;
    }
    this._seenVersion = this._timeline.version;
    const news: MessageFrame[] = [];
    for (const message of added) {
      if (message.from.id === this._selfId) {
        // Its `msg` proves the relay stored it, even if the ack was lost with a connection.
        this._outbox.ack(message.id);
        this._requests.cancel(sendRef(message.id));
      } else if (this._notifyAbove !== null && message.seq > this._notifyAbove) news.push(message);
    }
    this._edits.prune();
    if (added.length > 0) this._receipts.received();
    this._scheduleCache();
    this._gaps.check();
    this._invalidate();
    // Own changes may wait for a message that just arrived (sent from another tab, say).
    if (added.length > 0) this._pump();
    for (const message of news) {
      const view = this.snapshot.messages.find((m) => m.id === message.id);
      if (view) this._emit({ type: 'message', message: view });
    }
  }

  private _onAck({ id, seq, ts }: AckFrame): void {
    const entry = this._outbox.ack(id);
    if (entry && !isChange(entry)) this._timeline.ack(id, entry, seq, ts);
    this._invalidate();
    this._pump();
  }

  private _onError(frame: ErrorFrame): void {
    if (frame.id !== undefined && this._outbox.has(frame.id)) {
      if (!this._requests.fail(sendRef(frame.id), frame.code, frame.message)) this._onSendError(frame.id, frame.code);
      return;
    }
    if (this._requests.fail(frame.ref, frame.code, frame.message)) return;
    // Not about a request of ours: about the conversation itself. `forbidden` = removed (banned, or the token no longer allows it).
    if (frame.code === ErrorCode.forbidden && frame.conv === this._conv && this._joiner.phase !== JoinPhase.idle) {
      return this._refuse({ code: frame.code, params: { reason: 'removed' } });
    }
    const retryable = RETRYABLE_ERRORS.has(frame.code as ErrorCode);
    if (frame.code === ErrorCode.notJoined && this._joiner.joined) this._joiner.join();
    else if (!retryable) this._emit({ type: 'error', code: frame.code });
  }

  private _onSendError(id: string, code: string): void {
    if (!this._outbox.has(id)) return;
    if (RETRYABLE_ERRORS.has(code as ErrorCode) || code === ErrorCode.notJoined) {
      this._outbox.retryLater(id);
      if (code === ErrorCode.notJoined) this._joiner.join();
      else this._pump();
    } else {
      this._outbox.fail(id, { code });
      this._invalidate();
      this._emit({ type: 'error', code, messageId: id });
    }
  }

  private _sendSettled(id: string, result: Settled<Reply>): void {
    switch (result.kind) {
      case 'reply':
        if (result.reply.type === 'ack') this._onAck(result.reply);
        return;
      case 'error':
        return this._onSendError(id, result.code);
      case 'timeout':
        // No ack (the frame was lost between tabs, say): send it again, same id (the relay deduplicates).
        this._outbox.requeue(id);
        this._pump();
        return;
      case 'dropped':
        // The outbox puts everything in flight back in the queue for the next join.
        return;
    }
  }

  // ------------------------------------------------------------------ older pages

  private get _requestTimeoutMs(): number {
    return this._x.requestTimeoutMs ?? ClientDefaults.requestTimeoutMs;
  }

  private _olderSettled(result: Settled<Reply>): void {
    const older = this._older;
    if (result.kind === 'reply' && result.reply.type === 'history' && older) {
      this._timeline.prepend(result.reply.messages.filter(isMessage), older.before, result.reply.more);
      this._scheduleCache();
    }
    if (result.kind === 'error' && !RETRYABLE_ERRORS.has(result.code as ErrorCode)) this._emit({ type: 'error', code: result.code });
    // A timeout or a lost connection gives up too, so the view may ask again.
    if (!older) return;
    this._older = null;
    this._invalidate();
    older.done();
  }

  // ------------------------------------------------------------------ outbox

  /** Sends what the outbox allows now; schedules itself for the end of the earliest backoff. */
  private _pump(): void {
    this._clock.clearTimeout(this._pumpTimer);
    this._pumpTimer = undefined;
    if (!this._joiner.joined || this._disposed) return;
    for (const entry of this._outbox.takeSendable()) {
      if (isChange(entry)) {
        const ref = this._ref();
        if (!this._port.send(this._edits.frame(entry, ref))) return this._outbox.connectionLost();
        this._requests.register(ref, this._requestTimeoutMs, (result) => this._edits.settled(entry, result));
        continue;
      }
      const frame: SendFrame = { type: 'send', conv: this._conv, id: entry.id };
      if (entry.text !== undefined) frame.text = entry.text;
      if (entry.file !== undefined) frame.file = entry.file;
      if (entry.reply !== undefined) frame.reply = entry.reply;
      if (!this._port.send(frame)) return this._outbox.connectionLost();
      const id = entry.id;
      this._requests.register(sendRef(id), this._requestTimeoutMs, (result) => this._sendSettled(id, result));
    }
    const at = this._outbox.nextRetryAt();
    if (at !== null) this._pumpTimer = this._clock.setTimeout(() => this._pump(), Math.max(0, at - this._clock.now()));
  }

  // ------------------------------------------------------------------ sending in the conversation

  /** Frames about the conversation go out only once it is joined; callers redo them after the next join. */
  private _sendInConversation(frame: ClientFrame): boolean {
    return this._joiner.joined && this._port.send(frame);
  }

  // ------------------------------------------------------------------ uploads

  private _uploadRequest(file: UploadFile, name: string): { url: string; headers: Record<string, string> } {
    const headers: Record<string, string> = {
      'Content-Type': file.type || 'application/octet-stream',
      'X-File-Name': encodeURIComponent(name),
    };
    Object.assign(headers, this._port.authHeaders());
    return { url: `${this._port.httpBase()}/upload?conv=${encodeURIComponent(this._conv)}`, headers };
  }

  // ------------------------------------------------------------------ cache

  private _scheduleCache(): void {
    this._cache.schedule(() => this._cacheContent());
  }

  private _cacheContent(): HistoryContent | null {
    if (this._epoch === null || this._timeline.items.length === 0) return null;
    const timeline = this._timeline;
    return { epoch: this._epoch, self: this._self, members: [...this._members.values()], messages: timeline.items, last: timeline.last };
  }

  // ------------------------------------------------------------------ snapshots

  private get _selfId(): string {
    return this._self?.id ?? this._port.userKey;
  }

  private _invalidate(): void {
    this._snapshot = null;
    if (this._notifyScheduled || this._disposed) return;
    this._notifyScheduled = true;
    const wait = this._lastNotifyAt + ClientDefaults.notifyIntervalMs - this._clock.now();
    if (wait > 0) this._notifyTimer = this._clock.setTimeout(() => this._notify(), wait);
    else queueMicrotask(() => this._notify());
  }

  private _notify(): void {
    this._notifyScheduled = false;
    this._notifyTimer = undefined;
    if (this._disposed) return;
    this._lastNotifyAt = this._clock.now();
    const snapshot = this.snapshot;
    this._port.changed();
    callEach(this._listeners, snapshot, 'snapshot');
  }

  private _emit(event: ChatClientEvent): void {
    callEach(this._eventListeners, event, 'event');
  }

  private _build(): ChatSnapshot {
    const selfId = this._selfId;
    const receipts = new ReceiptView(selfId, this._members.values());
    const messages = this._messageViews.build({
      selfId,
      from: this._self ?? { id: this._port.userKey, name: this._port.name ?? this._port.userKey },
      receipts,
      confirmed: this._timeline.items,
      acked: this._timeline.acked(),
      unsent: this._outbox.entries.filter(
        (entry): entry is MessageEntry => !isChange(entry) && !this._timeline.has(entry.id) && !this._timeline.isAcked(entry.id),
      ),
      changes: this._edits.shown(),
      changeError: (id) => this._edits.errorOf(id),
      held: (id) => this._timeline.message(id),
    });
    const typing = this._typingWatcher.users
      .filter((id) => id !== selfId)
      .map((id): User => Object.freeze({ id, name: this._members.get(id)?.name ?? id }));
    return Object.freeze({
      connection: this._port.state,
      self: this._self,
      conversation: this._conv,
      messages: Object.freeze(messages),
      hasOlder: this._timeline.base > 0,
      loadingOlder: this._older !== null,
      typing: Object.freeze(typing),
      members: Object.freeze([...this._members.values()]),
      firstUnreadSeq: this._timeline.firstUnreadSeq(selfId),
      uploads: Object.freeze([...this._uploads.list]),
      limits: this._limits,
      refusal: this._sessionRefusal ?? this._refusal,
      unread: this.unread,
      moderator: this._port.moderator,
    });
  }

  private _ref(): string {
    return this._port.ref();
  }
}
