/**
 * Restores seq order of one conversation's events as they reach this relay. With several
 * relays a conversation's messages reach NATS over different connections, and NATS keeps
 * order only per publisher, so seq 8 may arrive before seq 7. An event ahead of the next
 * expected seq waits (at most `waitMs`, in case the missing one was lost on the bus:
 * clients then fill the gap from history); everything else goes straight through. With
 * one relay nothing ever waits.
 */
import type { Clock, TimerHandle } from './ports.js';

export const REORDER_WAIT_MS = 100;
/** Events held at once; past this the wait is cut short (a flood cannot grow the map). */
const MAX_HELD = 10_000;

export class Sequencer<T> {
  /** The seq to deliver next; null until the head is known. */
  private _next: number | null = null;
  private _maxSeen = 0;
  private readonly _held = new Map<number, T>();
  private _timer: TimerHandle | undefined;

  constructor(
    private readonly _deliver: (item: T) => void,
    private readonly _clock: Clock,
    private readonly _waitMs = REORDER_WAIT_MS,
  ) {}

  /** The first head read after subscribing tells which seq the bus should bring next. */
  knowHead(head: number): void {
    if (this._next === null) this._next = Math.max(head, this._maxSeen) + 1;
  }

  push(seq: number, item: T): void {
    this._maxSeen = Math.max(this._maxSeen, seq);
    if (this._next === null || seq < this._next) return this._deliver(item);
    if (seq > this._next) {
      this._held.set(seq, item);
      if (this._held.size > MAX_HELD) return this._releaseHeld();
      this._timer ??= this._clock.setTimeout(() => this._releaseHeld(), this._waitMs);
      return;
    }
    this._deliver(item);
    this._next = seq + 1;
    for (let held = this._held.get(this._next); held !== undefined; held = this._held.get(this._next)) {
      this._held.delete(this._next);
      this._deliver(held);
      this._next++;
    }
    if (this._held.size === 0) this._stopTimer();
  }

  dispose(): void {
    this._stopTimer();
    this._held.clear();
  }

  /** The missing seq did not come in time: deliver what waited, in order, and move on. */
  private _releaseHeld(): void {
    this._stopTimer();
    const waiting = [...this._held.entries()].sort(([a], [b]) => a - b);
    this._held.clear();
    for (const [seq, item] of waiting) {
      this._deliver(item);
      this._next = Math.max(this._next ?? 0, seq + 1);
    }
  }

  private _stopTimer(): void {
    this._clock.clearTimeout(this._timer);
    this._timer = undefined;
  }
}
