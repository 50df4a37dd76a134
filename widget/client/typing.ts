/**
 * Typing indicators, both ways. Outgoing: renew `active:true` at most every 2 s while the
 * user types, `active:false` after 3 s idle or at once when asked. Incoming: who is typing,
 * with a local expiry as a safety net in case the relay's `active:false` is lost.
 */
import { Limits } from '../../protocol/index.js';
import type { Clock, TimerHandle } from './clock.js';

export const TypingDefaults = { renewMs: Limits.typingRenewMs, idleMs: 3000, remoteExpiryMs: 7000 } as const;

export class TypingSender {
  private _active = false;
  private _lastSentAt = -Infinity;
  private _idleTimer: TimerHandle | undefined;

  /** `send` returns false when the frame could not go out (not joined): then nothing is assumed active. */
  constructor(
    private readonly _clock: Clock,
    private readonly _send: (active: boolean) => boolean,
    private readonly _timing: { renewMs: number; idleMs: number } = TypingDefaults,
  ) {}

  get active(): boolean {
    return this._active;
  }

  /** A keystroke. */
  typed(): void {
    const now = this._clock.now();
    if (!this._active || now - this._lastSentAt >= this._timing.renewMs) {
      if (this._send(true)) {
        this._active = true;
        this._lastSentAt = now;
      }
    }
    this._clock.clearTimeout(this._idleTimer);
    this._idleTimer = this._clock.setTimeout(() => this.stopped(), this._timing.idleMs);
  }

  /** Focus lost, text sent, or idle: tell the others now if they think the user is typing. */
  stopped(): void {
    this._clock.clearTimeout(this._idleTimer);
    this._idleTimer = undefined;
    if (!this._active) return;
    this._active = false;
    this._send(false);
  }

  /** The connection went away: the relay forgets the indicator by itself, so just reset. */
  reset(): void {
    this._clock.clearTimeout(this._idleTimer);
    this._idleTimer = undefined;
    this._active = false;
  }
}

export class TypingWatcher {
  private readonly _typing = new Map<string, TimerHandle>();

  constructor(
    private readonly _clock: Clock,
    private readonly _onChange: () => void,
    private readonly _expiryMs: number = TypingDefaults.remoteExpiryMs,
  ) {}

  /** User ids typing now, in the order they started. */
  get users(): string[] {
    return [...this._typing.keys()];
  }

  set(user: string, active: boolean): void {
    const had = this._typing.has(user);
    this._clock.clearTimeout(this._typing.get(user));
    if (active) {
      this._typing.set(
        user,
        this._clock.setTimeout(() => this.set(user, false), this._expiryMs),
      );
    } else this._typing.delete(user);
    if (had !== active) this._onChange();
  }

  /** The full list from `joined`. */
  replace(users: readonly string[]): void {
    const next = new Set(users);
    for (const user of this.users) if (!next.has(user)) this.set(user, false);
    for (const user of next) this.set(user, true);
  }

  clear(): void {
    this.replace([]);
  }
}
