/**
 * Typing indicators. Two views:
 * - the typists of THIS relay (it owns their expiry): `active:true` renews a user's
 *   indicator; it is forwarded at most once per `fanOutIntervalMs` per user and
 *   conversation (renewals in between only push the expiry back), and ends with
 *   `active:false` on expiry, on a stored message, or when the user's last connection leaves;
 * - who is typing anywhere (from the bus), for `joined.typing`, forgotten after the expiry in
 *   case the owning relay died.
 */
import type { Clock, TimerHandle } from './ports.js';

export interface TypingOptions {
  clock: Clock;
  expiryMs: number;
  fanOutIntervalMs: number;
  publish(conv: string, user: string, active: boolean): void;
}

interface OwnedTypist {
  expiry: TimerHandle;
  lastPublished: number;
  /** The value of the typing counter at this user's latest `active:true` (see messageStored). */
  lastStart: number;
}

export class Typing {
  private readonly _owned = new Map<string, OwnedTypist>();
  private readonly _seen = new Map<string, Map<string, TimerHandle>>();
  /** Counts every `active:true` this relay took, so a message can tell typing that began after it. */
  private _starts = 0;

  constructor(private readonly _o: TypingOptions) {}

  /** A user of this relay is typing (or still is). */
  start(conv: string, user: string): void {
    const key = typingKey(conv, user);
    const { clock } = this._o;
    const now = clock.now();
    const owned = this._owned.get(key);
    clock.clearTimeout(owned?.expiry);
    const expiry = clock.setTimeout(() => this.stop(conv, user), this._o.expiryMs);
    const lastStart = ++this._starts;
    if (owned && now - owned.lastPublished < this._o.fanOutIntervalMs) {
      owned.expiry = expiry;
      owned.lastStart = lastStart;
      return;
    }
    this._owned.set(key, { expiry, lastPublished: now, lastStart });
    this._o.publish(conv, user, true);
  }

  /** Taken when a message is sent, handed to messageStored once it is stored. */
  mark(): number {
    return this._starts;
  }

  /**
   * A message of this user was stored: their typing ends, unless they started typing again
   * after sending it (`mark` taken at the send). The commit takes a few ms, so the next words'
   * `active:true` can arrive before it; that renewal was not forwarded (the interval), and the
   * message ends the indicator on every screen, so typing is announced again instead.
   */
  messageStored(conv: string, user: string, sentAt: number): void {
    const owned = this._owned.get(typingKey(conv, user));
    if (!owned || owned.lastStart <= sentAt) {
      this.stop(conv, user);
      return;
    }
    owned.lastPublished = this._o.clock.now();
    this._o.publish(conv, user, true);
  }

  /** Ends a user's typing if this relay owns it, telling everyone. */
  stop(conv: string, user: string): void {
    const key = typingKey(conv, user);
    const owned = this._owned.get(key);
    if (!owned) return;
    this._o.clock.clearTimeout(owned.expiry);
    this._owned.delete(key);
    this._o.publish(conv, user, false);
  }

  /** A typing event from the bus (any relay). */
  observe(conv: string, user: string, active: boolean): void {
    const { clock } = this._o;
    let typists = this._seen.get(conv);
    clock.clearTimeout(typists?.get(user));
    if (!active) {
      typists?.delete(user);
      if (typists?.size === 0) this._seen.delete(conv);
      return;
    }
    if (!typists) {
      typists = new Map();
      this._seen.set(conv, typists);
    }
    // Renewals reach the bus at most every fanOutInterval (twice that with jitter), so this
    // outlives them; it only fires for a relay that died while its user typed.
    typists.set(user, clock.setTimeout(() => this.observe(conv, user, false), this._o.expiryMs + this._o.fanOutIntervalMs));
  }

  typists(conv: string): string[] {
    return [...(this._seen.get(conv)?.keys() ?? [])];
  }

  /** Forgets a conversation this relay no longer follows. */
  forget(conv: string): void {
    for (const timer of this._seen.get(conv)?.values() ?? []) this._o.clock.clearTimeout(timer);
    this._seen.delete(conv);
  }

  dispose(): void {
    for (const owned of this._owned.values()) this._o.clock.clearTimeout(owned.expiry);
    this._owned.clear();
    for (const conv of [...this._seen.keys()]) this.forget(conv);
  }
}

function typingKey(conv: string, user: string): string {
  return `${conv}\u0000${user}`;
}
