/**
 * Joining a conversation on the session's current connection: one state machine with an
 * explicit table and one setter, the join request in flight (through the request registry,
 * so a lost answer times out and is asked again) and the backoff after a passing refusal.
 *
 *   idle → joining → joined            (welcome: join; joined: replayed and live)
 *   joining → joining                  (a resync or not_joined asks again; the earlier reply is ignored)
 *   joining → retrying → joining       (a retryable error: again after a backoff)
 *   joining → idle                     (no answer: asked again at once if open)
 *   any → refused                      (refused for good: not allowed, banned, removed, too many; or known
 *                                       before joining, e.g. an invalid conversation id)
 *   joined → joining                   (resync, not_joined)
 *   any but refused → idle             (the connection is gone, or the conversation disposed)
 *   refused → idle                     (only by `reopen()`: the user has a new token)
 */
import { RETRYABLE_ERRORS, type ErrorCode, type JoinedFrame, type JoinFrame } from '../../protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { Clock, TimerHandle } from './clock.js';
import type { Requests, Settled } from './requests.js';

export const JoinPhase = { idle: 'idle', joining: 'joining', retrying: 'retrying', joined: 'joined', refused: 'refused' } as const;
export type JoinPhase = (typeof JoinPhase)[keyof typeof JoinPhase];

export const JOIN_TRANSITIONS: Readonly<Record<JoinPhase, readonly JoinPhase[]>> = {
  [JoinPhase.idle]: [JoinPhase.joining, JoinPhase.refused],
  [JoinPhase.joining]: [JoinPhase.joining, JoinPhase.joined, JoinPhase.retrying, JoinPhase.idle, JoinPhase.refused],
  [JoinPhase.retrying]: [JoinPhase.joining, JoinPhase.idle, JoinPhase.refused],
  [JoinPhase.joined]: [JoinPhase.joining, JoinPhase.idle, JoinPhase.refused],
  [JoinPhase.refused]: [JoinPhase.idle],
};

/** The join in flight: where the relay will start its replay follows from what was asked. */
export interface JoinRequest {
  after: number;
  tail: number | undefined;
}

export interface JoinerOptions<R extends { type: string }> {
  conv: string;
  clock: Clock;
  requests: Requests<R>;
  timeoutMs: number;
  backoff?: BackoffOptions;
  /** Whether a join may go out now (the connection is open, the conversation not disposed). */
  canJoin: () => boolean;
  ref: () => string;
  /** What to ask for, from what the conversation holds. */
  request: () => JoinRequest & { epoch?: string };
  send: (frame: JoinFrame) => boolean;
  /** Joined (the phase is `joined` already): take the relay's state. */
  onJoined: (frame: JoinedFrame, request: JoinRequest) => void;
  /** Refused for good with `code` (the phase is `refused`): no retries. */
  onRefused: (code: string) => void;
}

export class Joiner<R extends { type: string }> {
  private readonly _o: JoinerOptions<R>;
  private _phase: JoinPhase = JoinPhase.idle;
  private _attempt = 0;
  private _retryTimer: TimerHandle | undefined;
  private _ref: string | null = null;

  constructor(options: JoinerOptions<R>) {
    this._o = options;
  }

  get phase(): JoinPhase {
    return this._phase;
  }

  get joined(): boolean {
    return this._phase === JoinPhase.joined;
  }

  /** Asks to join (again), unless the phase does not allow it; the request in flight, if any, is superseded. */
  join(): void {
    if (!this._o.canJoin() || !JOIN_TRANSITIONS[this._phase].includes(JoinPhase.joining)) return;
    const ref = this._o.ref();
    const { epoch, ...request } = this._o.request();
    const sent = this._o.send({
      type: 'join',
      conv: this._o.conv,
      after: request.after,
      ...(epoch !== undefined ? { epoch } : {}),
      ...(request.tail !== undefined ? { tail: request.tail } : {}),
      ref,
    });
    if (!sent) return;
    // A reply to a join that this one supersedes is ignored; this one's reply follows.
    if (this._ref !== null) this._o.requests.cancel(this._ref);
    this._ref = ref;
    this._set(JoinPhase.joining);
    this._o.requests.register(ref, this._o.timeoutMs, (result) => {
      if (this._ref === ref) this._ref = null;
      this._settled(result, request);
    });
  }

  /** A fresh connection: the backoff starts over. */
  welcomed(): void {
    this._attempt = 0;
  }

  /** The connection is gone or the conversation disposed: nothing is joined (a refusal stays). */
  idle(): void {
    if (this._phase !== JoinPhase.refused) this._set(JoinPhase.idle);
  }

  /** Removed from the conversation (banned, or the token no longer allows it), or known to be refused: for good. */
  refuse(): void {
    this._set(JoinPhase.refused);
  }

  /** A refusal may be over (the user has a new token): one more join, which may be refused again. */
  reopen(): void {
    if (this._phase !== JoinPhase.refused) return;
    this._set(JoinPhase.idle);
    this._attempt = 0;
    this.join();
  }

  private _settled(result: Settled<R>, request: JoinRequest): void {
    switch (result.kind) {
      case 'reply':
        if (result.reply.type !== 'joined') return;
        this._attempt = 0;
        this._set(JoinPhase.joined);
        this._o.onJoined(result.reply as unknown as JoinedFrame, request);
        return;
      case 'error':
        if (RETRYABLE_ERRORS.has(result.code as ErrorCode)) return this._retryLater();
        // Asking again would get the same answer (forbidden, banned, too_many, bad_frame): no loop.
        this._set(JoinPhase.refused);
        this._o.onRefused(result.code);
        return;
      case 'timeout':
        // No answer (lost between tabs, or with a relay instance): ask again.
        this._set(JoinPhase.idle);
        this.join();
        return;
      case 'dropped':
        return;
    }
  }

  /** Joining failed for a passing reason (store unavailable): try again after a backoff. */
  private _retryLater(): void {
    if (!this._set(JoinPhase.retrying)) return;
    this._retryTimer = this._o.clock.setTimeout(() => {
      this._retryTimer = undefined;
      if (this._phase === JoinPhase.retrying) this.join();
    }, backoffDelay(this._attempt++, this._o.backoff));
  }

  /** The only place the phase changes; false (and nothing changes) if the table does not allow it. */
  private _set(next: JoinPhase): boolean {
    const previous = this._phase;
    if (previous === next && next !== JoinPhase.joining) return true;
    if (!JOIN_TRANSITIONS[previous].includes(next)) return false;
    this._phase = next;
    if (previous === JoinPhase.retrying) {
      this._o.clock.clearTimeout(this._retryTimer);
      this._retryTimer = undefined;
    }
    if (next === JoinPhase.idle || next === JoinPhase.refused) {
      if (this._ref !== null) this._o.requests.cancel(this._ref);
      this._ref = null;
    }
    return true;
  }
}
