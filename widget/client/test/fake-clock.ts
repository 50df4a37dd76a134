/** A clock whose time moves only when a test says so. */
import type { Clock, TimerHandle } from '../clock.js';

interface Timer {
  at: number;
  order: number;
  callback: () => void;
}

export class FakeClock implements Clock {
  private _now = 1_000_000;
  private _nextId = 1;
  private readonly _timers = new Map<number, Timer>();

  now(): number {
    return this._now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this._nextId++;
    this._timers.set(id, { at: this._now + Math.max(0, ms), order: id, callback });
    return id;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (typeof handle === 'number') this._timers.delete(handle);
  }

  get pendingTimers(): number {
    return this._timers.size;
  }

  /** Moves time forward, firing due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this._now + ms;
    for (;;) {
      let next: [number, Timer] | undefined;
      for (const entry of this._timers) {
        const [, t] = entry;
        if (t.at > end) continue;
        if (!next || t.at < next[1].at || (t.at === next[1].at && t.order < next[1].order)) next = entry;
      }
      if (!next) break;
      this._timers.delete(next[0]);
      this._now = next[1].at;
      next[1].callback();
    }
    this._now = end;
  }
}
