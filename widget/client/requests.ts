/**
 * The one registry that matches replies to requests by `ref` (as centrifuge-js's
 * `_registerCall`): every request the core sends that expects an answer (join, gap fill,
 * older page) registers here with a timeout, and the reply, an error with its ref, the
 * timeout or the loss of the connection settles it exactly once.
 */
import type { Clock, TimerHandle } from './clock.js';

export type Settled<T> = { kind: 'reply'; reply: T } | { kind: 'error'; code: string; message: string } | { kind: 'timeout' } | { kind: 'dropped' };

interface Pending<T> {
  timer: TimerHandle;
  settle: (result: Settled<T>) => void;
}

export class Requests<T> {
  private readonly _pending = new Map<string, Pending<T>>();

  constructor(private readonly _clock: Clock) {}

  get size(): number {
    return this._pending.size;
  }

  has(ref: unknown): boolean {
    return typeof ref === 'string' && this._pending.has(ref);
  }

  /** Registers `ref`; `settle` runs once, with the reply, an error, a timeout, or `dropped`. */
  register(ref: string, timeoutMs: number, settle: (result: Settled<T>) => void): void {
    this.cancel(ref);
    const timer = this._clock.setTimeout(() => this._settle(ref, { kind: 'timeout' }), timeoutMs);
    this._pending.set(ref, { timer, settle });
  }

  /** A reply arrived: true if it answered a registered request. */
  reply(ref: unknown, reply: T): boolean {
    return typeof ref === 'string' && this._settle(ref, { kind: 'reply', reply });
  }

  /** An error frame arrived: true if it answered a registered request. */
  fail(ref: unknown, code: string, message: string): boolean {
    return typeof ref === 'string' && this._settle(ref, { kind: 'error', code, message });
  }

  /** Forgets `ref` without settling it (superseded). */
  cancel(ref: string): void {
    const pending = this._pending.get(ref);
    if (!pending) return;
    this._clock.clearTimeout(pending.timer);
    this._pending.delete(ref);
  }

  /** The connection is gone: every pending request settles as `dropped`. */
  dropAll(): void {
    for (const ref of [...this._pending.keys()]) this._settle(ref, { kind: 'dropped' });
  }

  private _settle(ref: string, result: Settled<T>): boolean {
    const pending = this._pending.get(ref);
    if (!pending) return false;
    this._clock.clearTimeout(pending.timer);
    this._pending.delete(ref);
    pending.settle(result);
    return true;
  }
}
