/**
 * Admission: every rule that keeps one client from taking more than its share of a public
 * relay — connection caps per address and per user, frame rate, the cost of reads, joins per
 * connection, new conversations per user, abuse strikes — with the defaults in one place.
 *
 * Counting is per relay process: behind a load balancer each relay applies the caps to the
 * clients it holds (a user with 20 connections on each of two relays is not refused).
 *
 * The buckets are a few lines of arithmetic rather than rate-limiter-flexible: its
 * `consume` is asynchronous, and a frame that waited for a promise could overtake the next
 * frame of the same connection, while `send` order must be kept exactly.
 */
import type { Clock } from './ports.js';

export interface Rate {
  perSecond: number;
  burst: number;
}

export interface HubLimits {
  /** Open connections from one address (behind TRUST_PROXY: one forwarded client address). */
  maxConnectionsPerIp: number;
  /** Connections from one address that have not completed `hello` yet. */
  maxUnauthenticatedPerIp: number;
  /** Authenticated connections of one user. */
  maxConnectionsPerUser: number;
  /** Conversations one connection may be joined to at once. */
  maxJoinsPerConnection: number;
  /** Conversations a user may join for the first time (creating a member record), per minute. */
  newConversationsPerMinute: number;
  /** Frames per connection: sustained rate and burst. */
  frameRate: Rate;
  /** Rows a connection may read (history pages, join replay), and a user across connections. */
  readRowsPerConnection: Rate;
  readRowsPerUser: Rate;
  /** Refused frames tolerated within `abuseWindowMs` before the connection is closed (4429). */
  abuseStrikes: number;
  abuseWindowMs: number;
  /**
   * Bytes queued for a connection beyond which live events are no longer queued (the client
   * gets `resync` once it has read), and a client above it for `slowGraceMs` is closed (4409).
   * The transport refuses to queue anything at twice this bound (a reply that cannot be
   * queued closes the connection: it is never dropped silently).
   */
  sendQueueBytes: number;
  slowGraceMs: number;
  /** Join replay pauses while more than this is queued for the connection. */
  catchUpHighWater: number;
  /** Live events held for a connection while its join replay runs; beyond it: `resync` afterwards. */
  catchUpBufferBytes: number;
  /** Frames held while `hello` is being verified. */
  maxFramesBeforeWelcome: number;
  /** A typing `active:true` is forwarded at most this often per user and conversation. */
  typingFanOutIntervalMs: number;
}

export const DEFAULT_LIMITS: HubLimits = {
  maxConnectionsPerIp: 50,
  maxUnauthenticatedPerIp: 20,
  maxConnectionsPerUser: 20,
  maxJoinsPerConnection: 100,
  newConversationsPerMinute: 30,
  // Generous on purpose: a person never comes near it, while bots, bulk imports and an
  // outbox flushed after a long offline spell must not be cut off.
  frameRate: { perSecond: 200, burst: 1000 },
  // A reconnect after a long absence replays a few thousand rows at once; a flood of history
  // requests for 200 rows each is held to a handful per second.
  readRowsPerConnection: { perSecond: 1000, burst: 5000 },
  readRowsPerUser: { perSecond: 2000, burst: 10_000 },
  abuseStrikes: 20,
  abuseWindowMs: 10_000,
  sendQueueBytes: 1024 * 1024,
  slowGraceMs: 5000,
  catchUpHighWater: 256 * 1024,
  catchUpBufferBytes: 256 * 1024,
  maxFramesBeforeWelcome: 100,
  typingFanOutIntervalMs: 2000,
};

export class TokenBucket {
  private _tokens: number;
  private _at: number;

  constructor(
    private readonly _rate: Rate,
    now: number,
  ) {
    this._tokens = _rate.burst;
    this._at = now;
  }

  /** Takes `n` tokens if there are that many; a request larger than the burst can never pass. */
  take(n: number, now: number): boolean {
    this._refill(now);
    if (this._tokens < n) return false;
    this._tokens -= n;
    return true;
  }

  /**
   * Charges work whose size is known only once it is done (rows a read returned): the
   * bucket may go into debt, and later work waits until it is paid off.
   */
  charge(n: number, now: number): void {
    this._refill(now);
    this._tokens -= n;
  }

  /** Milliseconds until `n` tokens (at most a burst) are available. */
  waitFor(n: number, now: number): number {
    this._refill(now);
    const missing = Math.min(n, this._rate.burst) - this._tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this._rate.perSecond) * 1000);
  }

  full(now: number): boolean {
    this._refill(now);
    return this._tokens >= this._rate.burst;
  }

  private _refill(now: number): void {
    const elapsed = Math.max(0, now - this._at);
    this._at = now;
    this._tokens = Math.min(this._rate.burst, this._tokens + (elapsed / 1000) * this._rate.perSecond);
  }
}

export const Refusal = {
  connectionsPerIp: 'too many connections from this address',
  unauthenticatedPerIp: 'too many connections from this address are still to say hello',
  connectionsPerUser: 'too many connections for this user',
} as const;
export type Refusal = (typeof Refusal)[keyof typeof Refusal];

interface UserState {
  connections: number;
  reads: TokenBucket;
  newConversations: TokenBucket;
}

/** Counts what each address and user holds on this relay, and hands out their shared budgets. */
export class Admission {
  private readonly _perIp = new Map<string, { open: number; unauthenticated: number }>();
  private readonly _perUser = new Map<string, UserState>();

  constructor(
    readonly limits: HubLimits,
    private readonly _clock: Clock,
  ) {}

  /** A connection opened; null when admitted (then `release` must follow), or why not. */
  admitConnection(ip: string): Refusal | null {
    const counts = this._perIp.get(ip) ?? { open: 0, unauthenticated: 0 };
    if (counts.open >= this.limits.maxConnectionsPerIp) return Refusal.connectionsPerIp;
    if (counts.unauthenticated >= this.limits.maxUnauthenticatedPerIp) return Refusal.unauthenticatedPerIp;
    counts.open++;
    counts.unauthenticated++;
    this._perIp.set(ip, counts);
    return null;
  }

  /** A connection said a valid hello; null when admitted as this user, or why not. */
  admitUser(ip: string, userId: string): Refusal | null {
    const user = this._user(userId);
    if (user.connections >= this.limits.maxConnectionsPerUser) return Refusal.connectionsPerUser;
    user.connections++;
    const counts = this._perIp.get(ip);
    if (counts) counts.unauthenticated--;
    return null;
  }

  /** An admitted connection closed. */
  release(ip: string, userId: string | undefined): void {
    const counts = this._perIp.get(ip);
    if (counts) {
      counts.open--;
      if (userId === undefined) counts.unauthenticated--;
      if (counts.open <= 0) this._perIp.delete(ip);
    }
    if (userId !== undefined) {
      const user = this._perUser.get(userId);
      if (user) user.connections--;
    }
  }

  /** A first join of a conversation by this user (it creates a member record that persists). */
  takeNewConversation(userId: string): boolean {
    return this._user(userId).newConversations.take(1, this._clock.now());
  }

  /** Charges rows read to the user's budget (shared by the user's connections on this relay). */
  chargeUserReads(userId: string, rows: number): void {
    this._user(userId).reads.charge(rows, this._clock.now());
  }

  /** Milliseconds until the user may read again (0 = now). */
  userReadWait(userId: string): number {
    return this._user(userId).reads.waitFor(1, this._clock.now());
  }

  /** Forgets users who have no connection and whose budgets are back to full (bounds the map). */
  prune(): void {
    const now = this._clock.now();
    for (const [id, user] of this._perUser) {
      if (user.connections <= 0 && user.reads.full(now) && user.newConversations.full(now)) this._perUser.delete(id);
    }
  }

  private _user(userId: string): UserState {
    let user = this._perUser.get(userId);
    if (!user) {
      const now = this._clock.now();
      const perMinute = this.limits.newConversationsPerMinute;
      user = {
        connections: 0,
        reads: new TokenBucket(this.limits.readRowsPerUser, now),
        newConversations: new TokenBucket({ perSecond: perMinute / 60, burst: perMinute }, now),
      };
      this._perUser.set(userId, user);
    }
    return user;
  }
}
