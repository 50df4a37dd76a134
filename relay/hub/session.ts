/**
 * One client connection as the hub sees it: its phase (one transition table, one setter),
 * its identity, the conversations it has joined, and everything queued for it — each
 * bounded. The session does not decide anything; the hub does, through these fields.
 */
import type { ClientFrame } from '../../protocol/index.js';
import { TokenBucket, type HubLimits } from './admission.js';
import type { HubEvent } from './frames.js';
import type { Identity } from './handshake.js';
import type { ConnectionInfo, TimerHandle, WebSocketLike } from './ports.js';

export const Phase = {
  awaitingHello: 'awaiting_hello',
  authenticating: 'authenticating',
  ready: 'ready',
  closed: 'closed',
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Which phase may follow which; anything else is a bug and is ignored (and reported). */
const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  [Phase.awaitingHello]: [Phase.authenticating, Phase.closed],
  // Back to awaiting_hello when an open-mode hello lacked its user: the client may try again.
  [Phase.authenticating]: [Phase.ready, Phase.awaitingHello, Phase.closed],
  [Phase.ready]: [Phase.closed],
  [Phase.closed]: [],
};

/** A joined conversation of one session: live, or still replaying stored messages. */
export interface Membership {
  live: boolean;
  /** Events that arrived during the replay, delivered (deduplicated) once it ends. */
  held: Array<{ event: HubEvent; text: string }>;
  heldBytes: number;
  /** More arrived than may be held: the client gets `resync` after the replay instead. */
  overflowed: boolean;
}

export class Session {
  private _phase: Phase = Phase.awaitingHello;
  identity: Identity | null = null;
  readonly memberships = new Map<string, Membership>();
  /** Conversations this session counts in presence (joined, and `joined` sent); left exactly once. */
  readonly present = new Set<string>();
  /**
   * v1.1: conversations this session was removed from or refused by a ban, with the ban's end
   * (Infinity = for good), so that what it still sends there is answered `forbidden`, not
   * `not_joined`. At most one entry per conversation it tried; the hub bounds the map.
   */
  readonly bannedFrom = new Map<string, number>();
  /** Frames that arrived while `hello` was being verified, handled in order afterwards. */
  readonly queued: ClientFrame[] = [];
  queuedBytes = 0;
  /** Counted by admission (released exactly once when it closes). */
  admitted = false;
  /** Conversations whose events were not queued for this client: `resync` once it has read. */
  readonly resyncPending = new Set<string>();
  readonly frames: TokenBucket;
  readonly reads: TokenBucket;
  helloTimer: TimerHandle | undefined;
  /** Since when the client has had more queued than it may (null while it keeps up). */
  backedUpSince: number | null = null;
  /** Wakes a join replay waiting for the client to read. */
  drainWaiters: Array<() => void> = [];
  /** Sends that wait for a file lookup; later sends queue behind them to keep their order. */
  sendChain: Promise<void> | null = null;
  chainedSends = 0;
  private _strikes = 0;
  private _strikeWindowStart = 0;

  constructor(
    readonly id: number,
    readonly conn: WebSocketLike,
    readonly info: ConnectionInfo,
    limits: HubLimits,
    now: number,
  ) {
    this.frames = new TokenBucket(limits.frameRate, now);
    this.reads = new TokenBucket(limits.readRowsPerConnection, now);
  }

  get phase(): Phase {
    return this._phase;
  }

  /** The only place a session's phase changes. Returns false for a transition the table forbids. */
  setPhase(next: Phase): boolean {
    if (!TRANSITIONS[this._phase].includes(next)) return false;
    this._phase = next;
    return true;
  }

  get isClosed(): boolean {
    return this._phase === Phase.closed;
  }

  get userId(): string | undefined {
    return this.identity?.user.id;
  }

  /** Counts a refused frame; true when the connection has earned closing. */
  strike(now: number, limit: number, windowMs: number): boolean {
    if (now - this._strikeWindowStart > windowMs) {
      this._strikeWindowStart = now;
      this._strikes = 0;
    }
    return ++this._strikes > limit;
  }

  /** The client has more queued than it should: the slow-client clock starts (once). */
  markBackedUp(now: number): void {
    this.backedUpSince ??= now;
  }

  wakeDrainWaiters(): void {
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
}
