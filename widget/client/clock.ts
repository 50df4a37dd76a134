/**
 * Time as a dependency: every timer of the core goes through a `Clock`, so unit tests drive
 * time by hand instead of sleeping, and nothing depends on Node's or the browser's timer types.
 */
export type TimerHandle = unknown;

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => {
    if (handle !== undefined) globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]);
  },
};

/** Runs `action` once, `delayMs` after the first `schedule()` of a burst (a trailing throttle). */
export class Debounced {
  private _timer: TimerHandle | undefined;

  constructor(
    private readonly _clock: Clock,
    private readonly _delayMs: number,
    private readonly _action: () => void,
  ) {}

  get pending(): boolean {
    return this._timer !== undefined;
  }

  schedule(): void {
    if (this._timer !== undefined) return;
    this._timer = this._clock.setTimeout(() => {
      this._timer = undefined;
      this._action();
    }, this._delayMs);
  }

  /** Runs the pending action now (e.g. before the page goes away). */
  flush(): void {
    if (this._timer === undefined) return;
    this.cancel();
    this._action();
  }

  cancel(): void {
    this._clock.clearTimeout(this._timer);
    this._timer = undefined;
  }
}
