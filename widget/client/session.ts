/**
 * The session: ONE connection to a relay (or a list of relays), one identity, many
 * conversations (`conversation(id)`), and the token's lifecycle. Tabs of the same origin,
 * relay and user share one connection: they elect a leader with a Web Lock, the leader owns
 * the WebSocket and relays every frame over a BroadcastChannel, the others send through it.
 * When the leader's tab goes away its lock is released and the next tab takes over.
 *
 * Takeover: the leader says `bye` on `pagehide`, so the other tabs stop sending into a tab
 * that is going away; a leader that dies without a word is noticed when the next one
 * announces `connecting`. Either way every view drops what it had in flight (its requests
 * settle as dropped, its outbox puts unacked entries back in the queue) and sends it again
 * (same ids: the relay deduplicates) right after it has joined on the new leader's socket
 * with `join after`. Joins of all tabs go out one at a time per conversation
 * (socket-gate.ts): the relay leaves a join that a later one overtook unanswered.
 *
 *   link:   solo (own socket, no tab sharing) | leader (own socket, shared) | follower (the leader's)
 */
import { ErrorCode, PROTOCOL_VERSION, type ClientFrame, type HelloFrame, type ServerFrame, type WelcomeFrame } from '../../protocol/index.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { Connection, type SocketFactory } from './connection.js';
import { ClientDefaults, Conversation, type ClientInternals, type SessionPort } from './conversation.js';
import { ClientErrorCode, type ChatError } from './errors.js';
import { browserTabs, newId, type ChannelLike, type TabPlatform } from './platform.js';
import { SocketGate } from './socket-gate.js';
import { defaultStorage, storageUser, tokenClaims } from './storage.js';
import type {
  ChatClient,
  ChatClientOptions,
  ChatSession,
  ChatSessionEvent,
  ChatSessionOptions,
  ChatSessionSnapshot,
  ConnectionState,
  KeyValueStorage,
  User,
} from './types.js';
import { httpBaseOf } from './uploads.js';
import { callEach } from './listeners.js';

export interface SessionInternals extends ClientInternals {
  /** Tab sharing; `null` turns it off. Default: the browser's Web Locks + BroadcastChannel where both exist. */
  tabs?: TabPlatform | null;
  /** The session goes when its last conversation is disposed (a client made by `createChatClient`). */
  disposeWhenEmpty?: boolean;
}

export const SessionDefaults = {
  /** Renew this long before `expires` at the latest… */
  renewBeforeMs: 60_000,
  /** …or after this share of the remaining lifetime, whichever comes first. */
  renewAtShare: 0.8,
  /** …but not before this share of it. */
  renewNotBeforeShare: 0.5,
} as const;

/**
 * When to renew a token that expires at `expires` (ms since the epoch), seen at `now`: a delay
 * in ms. At 80 % of the remaining lifetime or 60 s before `exp`, whichever comes first, but
 * never before half of it: a token that lives less than two minutes is not renewed in a loop.
 */
export function renewDelay(expires: number, now: number): number {
  const remaining = Math.max(0, expires - now);
  const first = Math.min(remaining * SessionDefaults.renewAtShare, remaining - SessionDefaults.renewBeforeMs);
  return Math.max(remaining * SessionDefaults.renewNotBeforeShare, first);
}

export type SessionRole = 'solo' | 'leader' | 'follower';

/** Messages between the tabs of one session (one BroadcastChannel per relay + user). */
type TabMessage =
  | { k: 'state'; state: ConnectionState; welcome: WelcomeFrame | null; url: string; fatal: ChatError | null }
  | { k: 'frame'; frame: ServerFrame }
  | { k: 'send'; frame: ClientFrame }
  | { k: 'token'; token: string }
  | { k: 'hi' }
  /** The leader's tab is going away (pagehide, dispose): stop sending through it until the next leader announces itself. */
  | { k: 'bye' }
  /** A follower's tab is going away: its views leave the conversations no other view holds. */
  | { k: 'gone'; tab: string };

export class Session implements ChatSession {
  private readonly _o: ChatSessionOptions;
  private readonly _x: SessionInternals;
  private readonly _clock: Clock;
  private readonly _storage: KeyValueStorage;
  private readonly _WebSocket: SocketFactory;
  private readonly _tabPrefix = newId().replace(/-/g, '').slice(0, 8);
  private readonly _conversations = new Set<Conversation>();
  private readonly _listeners = new Set<(snapshot: ChatSessionSnapshot) => void>();
  private readonly _eventListeners = new Set<(event: ChatSessionEvent) => void>();
  private _token: string | undefined;
  private _userKey: string;
  private _ready: Promise<void> | null = null;
  private _role: SessionRole = 'solo';
  private _connection: Connection | null = null;
  /** Joins one at a time per conversation, `leave` only by the last view (while this tab owns the socket). */
  private _gate: SocketGate | null = null;
  private _stopWatchingPage: () => void = () => {};
  private _channel: ChannelLike | null = null;
  private readonly _lockAbort = new AbortController();
  private _state: ConnectionState = 'idle';
  private _welcome: WelcomeFrame | null = null;
  private _url: string;
  private _renewTimer: TimerHandle | undefined;
  /** The relay refused the session for good (credentials, origin) until a new token: every view shows it. */
  private _fatal: ChatError | null = null;
  private _claims: { token: string | undefined; moderator: boolean } = { token: undefined, moderator: false };
  private _nextRef = 0;
  private _nextConversation = 0;
  private _snapshot: ChatSessionSnapshot | null = null;
  private _notifyScheduled = false;
  private _started = false;
  private _disposed = false;

  constructor(options: ChatSessionOptions, internals: SessionInternals = {}) {
    if (!options.token && !options.user && !options.getToken) throw new Error('chat session: pass a token or getToken, or (open mode) a user');
    this._o = options;
    this._x = internals;
    this._clock = internals.clock ?? systemClock;
    this._token = options.token;
    this._userKey = storageUser({ token: options.token, user: options.user });
    this._storage = options.storage ?? defaultStorage();
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    if (!WebSocketImpl) throw new Error('chat session: no WebSocket implementation (pass options.WebSocket)');
    // The DOM's WebSocket types its handlers with DOM events; the connection needs only `data`/`code`.
    this._WebSocket = WebSocketImpl as unknown as SocketFactory;
    this._url = options.relay.split(',')[0]!.trim();
  }

  // ------------------------------------------------------------------ public surface

  get snapshot(): ChatSessionSnapshot {
    this._snapshot ??= this._build();
    return this._snapshot;
  }

  get disposed(): boolean {
    return this._disposed;
  }

  get role(): SessionRole {
    return this._role;
  }

  subscribe(listener: (snapshot: ChatSessionSnapshot) => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  on(listener: (event: ChatSessionEvent) => void): () => void {
    this._eventListeners.add(listener);
    return () => this._eventListeners.delete(listener);
  }

  /** A new view of conversation `id` on this session's connection; `start()` it, `dispose()` it when done. */
  conversation(id: string): ChatClient {
    if (this._disposed) throw new Error('chat session: disposed');
    const key = `${++this._nextConversation}`;
    const conversation = new Conversation(this._port(key), id, this._x);
    if (this._fatal) conversation.sessionRefused(this._fatal);
    this._keys.set(conversation, key);
    this._conversations.add(conversation);
    void this.start();
    return conversation;
  }

  /** Connects (also done by the first `conversation()`); resolves once the user is known. */
  start(): Promise<void> {
    if (this._started || this._disposed) return this._whenReady();
    this._started = true;
    return this._whenReady().then(() => {
      if (this._disposed) return;
      const tabs = this._x.tabs === undefined ? browserTabs() : this._x.tabs;
      if (!tabs) return this._lead(null);
      this._stopWatchingPage = tabs.watchPage?.(() => this._pageHidden(), () => this._pageShown()) ?? (() => {});
      this._follow(tabs);
    });
  }

  /**
   * A fresh token for the same user: the open connection is renewed with it (no reconnect);
   * a connection the relay refused for good connects again with it; conversations refused to
   * the user are asked once more.
   */
  setToken(token: string): void {
    if (!token || token === this._token) return;
    this._token = token;
    if (this._role === 'follower') this._post({ k: 'token', token });
    else if (this._fatal && !this._disposed) this._reconnectAfterRefusal();
    else this._renewWith(token);
    for (const conversation of this._conversations) conversation.tokenChanged();
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    for (const conversation of [...this._conversations]) conversation.dispose();
    this._clock.clearTimeout(this._renewTimer);
    this._stopWatchingPage();
    this._pageHidden();
    this._connection?.stop();
    this._lockAbort.abort();
    if (this._channel) {
      this._channel.onmessage = null;
      this._channel.close();
    }
    this._listeners.clear();
    this._eventListeners.clear();
  }

  // ------------------------------------------------------------------ identity and tokens

  private _whenReady(): Promise<void> {
    this._ready ??= (async () => {
      if (this._token || this._o.user || !this._o.getToken) return;
      // Only `getToken`: the first token names the user (storage keys, the tab lock).
      const token = await this._o.getToken();
      this._token = token;
      this._userKey = storageUser({ token });
    })();
    return this._ready;
  }

  private _hello(): HelloFrame | Promise<HelloFrame> {
    const getToken = this._o.getToken;
    if (getToken) {
      return getToken().then(
        (token) => {
          this._token = token;
          return { type: 'hello', v: PROTOCOL_VERSION, token } as const;
        },
        (error: unknown) => {
          this._emit({ type: 'error', code: ClientErrorCode.tokenFailed });
          throw error;
        },
      );
    }
    if (this._token) return { type: 'hello', v: PROTOCOL_VERSION, token: this._token };
    return { type: 'hello', v: PROTOCOL_VERSION, user: this._o.user, ...(this._o.name ? { name: this._o.name } : {}) };
  }

  private _scheduleRenewal(welcome: WelcomeFrame): void {
    this._clock.clearTimeout(this._renewTimer);
    this._renewTimer = undefined;
    if (welcome.expires === undefined) return;
    this._renewTimer = this._clock.setTimeout(() => void this._renew(), renewDelay(welcome.expires, this._clock.now()));
  }

  private async _renew(): Promise<void> {
    if (!this._o.getToken) return;
    let token: string;
    try {
      token = await this._o.getToken();
    } catch (error) {
      // The relay closes at `exp`; the reconnect asks again.
      this._emit({ type: 'error', code: ClientErrorCode.tokenFailed });
      console.warn('chat-room: getToken failed', error);
      return;
    }
    this._token = token;
    this._renewWith(token, true);
    for (const conversation of this._conversations) conversation.tokenChanged();
  }

  /** What the view shows for a refused session: `params.reason` tells the two forbiddens and the two unauthorizeds apart. */
  private _fatalError(code: string): ChatError {
    if (code === ErrorCode.forbidden) return { code, params: { reason: 'origin' } };
    const exp = tokenClaims(this._token).exp;
    const expired = exp !== undefined && exp * 1000 <= this._clock.now();
    return { code, params: { reason: expired ? 'expired' : 'invalid' } };
  }

  /** The only place the session's refusal changes; every view shows it. */
  private _setFatal(error: ChatError | null): void {
    if (this._fatal === error) return;
    this._fatal = error;
    for (const conversation of this._conversations) conversation.sessionRefused(error);
  }

  /** The relay refused the last token for good (its connection is closed): a new one connects again. */
  private _reconnectAfterRefusal(): void {
    this._setFatal(null);
    this._connection?.stop();
    this._lead(this._channel);
  }

  /** A second `hello` on the open connection replaces its token (same user only); `welcome` answers with the new `expires`. */
  private _renewWith(token: string, always = false): void {
    if (!this._connection || this._state !== 'open') return;
    if (!always && this._welcome?.expires === undefined && !this._o.token) return;
    this._connection.send({ type: 'hello', v: PROTOCOL_VERSION, token, ref: this._ref('t') });
  }

  // ------------------------------------------------------------------ links

  /** This tab owns the socket: alone (`channel` null) or for every tab of the session. */
  private _lead(channel: ChannelLike | null): void {
    if (this._disposed) return;
    this._role = channel ? 'leader' : 'solo';
    this._gate = new SocketGate({
      clock: this._clock,
      send: (frame) => this._connection?.send(frame) ?? false,
      holdMs: (this._x.requestTimeoutMs ?? ClientDefaults.requestTimeoutMs) / 2,
    });
    this._connection = new Connection({
      urls: this._o.relay,
      WebSocket: this._WebSocket,
      hello: () => this._hello(),
      retryUnauthorized: this._o.getToken !== undefined,
      clock: this._clock,
      network: this._x.network,
      backoff: this._x.backoff,
      heartbeatMs: this._x.heartbeatMs,
      heartbeatTimeoutMs: this._x.heartbeatTimeoutMs,
      connectTimeoutMs: this._x.connectTimeoutMs,
      handlers: {
        onState: (state) => {
          this._url = this._connection?.url ?? this._url;
          if (state !== 'open') this._gate?.reset();
          this._setState(state, state === 'open' ? this._welcome : null);
          this._announce();
        },
        onWelcome: (frame) => {
          this._scheduleRenewal(frame);
          this._welcomed(frame);
          this._announce();
        },
        onFrame: (frame) => {
          this._post({ k: 'frame', frame });
          this._route(frame);
          this._gate?.received(frame);
        },
        onFatal: (code) => {
          const error = this._fatalError(code);
          this._setFatal(error);
          this._emit({ type: 'error', ...error });
          for (const conversation of this._conversations) conversation.sessionError(error.code, error.params);
          this._announce();
        },
      },
    });
    this._connection.start();
  }

  /** Listens to the tabs' channel and waits for the lock; until it is granted the leader's socket is used. */
  private _follow(tabs: TabPlatform): void {
    const name = `chat-room|${this._o.relay.replace(/\s+/g, '')}|${this._userKey}`;
    const channel = tabs.channel(name);
    this._channel = channel;
    this._role = 'follower';
    channel.onmessage = (event) => this._onTabMessage(event.data as TabMessage);
    this._post({ k: 'hi' });
    tabs.lock(name, this._lockAbort.signal, () => {
      if (this._disposed) return;
      // The previous leader is gone: its socket with it.
      this._setState('connecting', null);
      this._lead(channel);
    });
  }

  private _onTabMessage(message: TabMessage): void {
    if (this._disposed) return;
    if (this._role === 'leader') {
      // Lost when the socket is not open: the follower hears of that and sends it again after its next join.
      if (message.k === 'send') this._gate?.send(message.frame);
      else if (message.k === 'hi') this._announce();
      else if (message.k === 'token') this.setToken(message.token);
      else if (message.k === 'gone') this._gate?.tabGone(message.tab);
      return;
    }
    if (this._role !== 'follower') return;
    if (message.k === 'bye') {
      // Whatever was posted to the leader since may be lost: every view re-sends after joining on the next leader's socket.
      this._setState('reconnecting', null);
    } else if (message.k === 'state') {
      this._url = message.url;
      this._setFatal(message.fatal ?? null);
      this._setState(message.state, message.welcome);
      if (message.state === 'open' && message.welcome) this._welcomed(message.welcome);
    } else if (message.k === 'frame') {
      if (message.frame.type === 'welcome') this._welcomed(message.frame);
      else this._route(message.frame);
    }
  }

  /** The tab is going away (or the session is disposed): the other tabs must not count on it any more. */
  private _pageHidden(): void {
    if (this._role === 'leader') this._post({ k: 'bye' });
    else if (this._role === 'follower') this._post({ k: 'gone', tab: this._tabPrefix });
  }

  /** Back from the back/forward cache: a leader tells where it stands; a follower asks (it said it was gone). */
  private _pageShown(): void {
    if (this._role === 'leader') this._announce();
    else if (this._role === 'follower') {
      this._setState('reconnecting', null);
      this._post({ k: 'hi' });
    }
  }

  /** The leader tells the other tabs where its connection stands. */
  private _announce(): void {
    if (this._role === 'leader') this._post({ k: 'state', state: this._state, welcome: this._welcome, url: this._url, fatal: this._fatal });
  }

  private _post(message: TabMessage): void {
    try {
      this._channel?.postMessage(message);
    } catch {
      // A closed channel (the tab is going away): nothing to tell.
    }
  }

  private _send(frame: ClientFrame): boolean {
    if (this._state !== 'open') return false;
    if (this._role === 'follower') {
      this._post({ k: 'send', frame });
      return true;
    }
    return this._gate?.send(frame) ?? false;
  }

  // ------------------------------------------------------------------ state and frames

  /** The only place the session's connection state changes. */
  private _setState(state: ConnectionState, welcome: WelcomeFrame | null): void {
    const changed = state !== this._state;
    this._state = state;
    if (state !== 'open') {
      this._welcome = null;
      this._clock.clearTimeout(this._renewTimer);
    } else if (welcome) this._welcome = welcome;
    if (!changed) return;
    for (const conversation of this._conversations) conversation.connectionChanged(state);
    this._emit({ type: 'status', connection: state });
    this._invalidate();
  }

  private _welcomed(frame: WelcomeFrame): void {
    const renewal = this._welcome !== null && this._state === 'open';
    this._welcome = frame;
    if (this._state !== 'open') this._setState('open', frame);
    for (const conversation of this._conversations) conversation.welcomed(frame);
    if (!renewal) this._invalidate();
  }

  /**
   * Frames about a conversation go to its views; errors to the request, message or
   * conversation they name, else to every view (the session's own problem).
   */
  private _route(frame: ServerFrame): void {
    if (frame.type === 'error') {
      const owner = this._ownerOf(frame.ref, frame.id, frame.conv);
      if (owner === 'foreign') return;
      for (const conversation of owner ?? this._conversations) conversation.handle(frame);
      if (!owner) this._emit({ type: 'error', code: frame.code });
      return;
    }
    if (!('conv' in frame)) return;
    for (const conversation of this._conversations) if (conversation.id === frame.conv) conversation.handle(frame);
  }

  /** Who an error is for: some views, another tab's request ('foreign'), or nobody in particular (null). */
  private _ownerOf(ref: unknown, id: string | undefined, conv: string | undefined): Conversation[] | 'foreign' | null {
    if (typeof ref === 'string' && ref.includes('.')) {
      const [tab, conversationKey] = ref.split('.');
      if (tab !== this._tabPrefix) return 'foreign';
      const owner = [...this._conversations].find((c) => this._keys.get(c) === conversationKey);
      return owner ? [owner] : 'foreign';
    }
    if (id !== undefined) {
      const owners = [...this._conversations].filter((c) => c.sending(id));
      return owners.length > 0 ? owners : 'foreign';
    }
    if (conv !== undefined) return [...this._conversations].filter((c) => c.id === conv);
    return null;
  }

  private readonly _keys = new WeakMap<Conversation, string>();

  /** Whether the user is a moderator: as `welcome` says once it came, else as the token's `role` claim says (read once per token). */
  private get _moderator(): boolean {
    if (this._welcome) return this._welcome.role === 'moderator';
    if (this._claims.token !== this._token) this._claims = { token: this._token, moderator: tokenClaims(this._token).role === 'moderator' };
    return this._claims.moderator;
  }

  private _ref(key: string): string {
    return `${this._tabPrefix}.${key}.${++this._nextRef}`;
  }

  private _port(key: string): SessionPort {
    const session = this;
    const port: SessionPort = {
      relay: this._o.relay,
      get userKey() {
        return session._userKey;
      },
      name: this._o.name,
      storage: this._storage,
      get state() {
        return session._state;
      },
      get welcome() {
        return session._welcome;
      },
      ready: () => this._whenReady(),
      send: (frame) => this._send(frame),
      ref: () => this._ref(key),
      httpBase: () => httpBaseOf(this._url),
      authHeaders: (): Record<string, string> => (this._token ? { Authorization: `Bearer ${this._token}` } : { 'X-Chat-User': this._o.user ?? '' }),
      get moderator() {
        return session._moderator;
      },
      changed: () => this._invalidate(),
      release: (conversation, joined) => {
        this._conversations.delete(conversation);
        // Only this view leaves: the gate keeps the conversation joined while other views (of any tab) hold it.
        if (joined && !this._disposed) this._send({ type: 'leave', conv: conversation.id, ref: this._ref(key) });
        if (this._x.disposeWhenEmpty && this._conversations.size === 0) this.dispose();
        else this._invalidate();
      },
    };
    return port;
  }

  // ------------------------------------------------------------------ snapshots and events

  private _build(): ChatSessionSnapshot {
    const unread: Record<string, number> = {};
    for (const conversation of this._conversations) unread[conversation.id] = Math.max(unread[conversation.id] ?? 0, conversation.unread);
    const totalUnread = Object.values(unread).reduce((a, b) => a + b, 0);
    const self: User | null = this._welcome?.user ?? null;
    return Object.freeze({ connection: this._state, self, unread: Object.freeze(unread), totalUnread, role: this._role });
  }

  private _invalidate(): void {
    this._snapshot = null;
    if (this._notifyScheduled || this._disposed) return;
    this._notifyScheduled = true;
    queueMicrotask(() => {
      this._notifyScheduled = false;
      if (this._disposed) return;
      const snapshot = this.snapshot;
      callEach(this._listeners, snapshot, 'session');
    });
  }

  private _emit(event: ChatSessionEvent): void {
    callEach(this._eventListeners, event, 'session event');
  }
}

export function createSession(options: ChatSessionOptions, internals?: SessionInternals): Session {
  return new Session(options, internals);
}

/** One conversation on a session of its own, which goes with it (`dispose()`). */
export function createClient(options: ChatClientOptions, internals?: SessionInternals): ChatClient {
  const { conversation, ...sessionOptions } = options;
  return new Session(sessionOptions, { ...internals, disposeWhenEmpty: true }).conversation(conversation);
}

const shared = new Map<string, { session: Session; refs: number }>();
const tokenSources = new WeakMap<object, number>();
let nextTokenSource = 0;

/** Who a session is for: the relay and the user (open-mode user, the token's `sub`, or the `getToken` function). */
export function sessionKey(options: ChatSessionOptions): string {
  let who: string;
  if (options.user) who = `user:${options.user}|${options.name ?? ''}`;
  else if (options.token) who = `sub:${storageUser({ token: options.token })}`;
  else if (options.getToken) {
    if (!tokenSources.has(options.getToken)) tokenSources.set(options.getToken, ++nextTokenSource);
    who = `fn:${tokenSources.get(options.getToken)}`;
  } else who = '';
  return `${options.relay.replace(/\s+/g, '')}|${who}`;
}

/**
 * The session of the page for (relay, user), shared by every element that names them; made on
 * first use and disposed when its last user releases it. Release exactly once.
 */
export function acquireSession(options: ChatSessionOptions): { session: ChatSession; key: string; release: () => void } {
  const key = sessionKey(options);
  let entry = shared.get(key);
  if (!entry || entry.session.disposed) {
    entry = { session: new Session(options), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    session: held.session,
    key,
    release: () => {
      if (released) return;
      released = true;
      if (--held.refs > 0) return;
      held.session.dispose();
      if (shared.get(key) === held) shared.delete(key);
    },
  };
}
