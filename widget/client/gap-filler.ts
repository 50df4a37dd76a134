/**
 * Fills holes in the run: when early messages wait for missing seqs, asks the relay for the
 * missing range (`history after`), one request at a time, through the request registry (so a
 * lost answer times out and is asked again). An answer that filled nothing, or an error,
 * pauses the asking for a while instead of looping.
 */
import { Limits, type HistoryReplyFrame } from '../../protocol/index.js';
import type { Clock, TimerHandle } from './clock.js';
import type { Requests } from './requests.js';
import type { Gap } from './timeline.js';

export interface GapFillerOptions<R> {
  clock: Clock;
  requests: Requests<R>;
  timeoutMs: number;
  /** The hole to fill now, or null (none, or not joined). */
  gap: () => Gap | null;
  ref: () => string;
  /** Sends `history after … limit …`; false if it could not go out. */
  send: (after: number, limit: number, ref: string) => boolean;
  /** Takes the answer's messages; returns whether the hole shrank. */
  fill: (messages: HistoryReplyFrame['messages']) => boolean;
}

export class GapFiller<R extends { type: string }> {
  private readonly _o: GapFillerOptions<R>;
  private _ref: string | null = null;
  private _pause: TimerHandle | undefined;

  constructor(options: GapFillerOptions<R>) {
    this._o = options;
  }

  get asking(): boolean {
    return this._ref !== null;
  }

  get paused(): boolean {
    return this._pause !== undefined;
  }

  /** Asks for the first hole, unless a request is in flight or the asking is paused. */
  check(): void {
    if (this._ref !== null || this._pause !== undefined) return;
    const gap = this._o.gap();
    if (!gap) return;
    const ref = this._o.ref();
    const limit = Math.max(1, Math.min(Limits.maxHistoryLimit, gap.before - gap.after - 1));
    if (!this._o.send(gap.after, limit, ref)) return;
    this._ref = ref;
    this._o.requests.register(ref, this._o.timeoutMs, (result) => {
      this._ref = null;
      switch (result.kind) {
        case 'reply': {
          const reply = result.reply as R | HistoryReplyFrame;
          // An answer that filled nothing: ask again later instead of in a tight loop.
          if (reply.type === 'history' && !this._o.fill((reply as HistoryReplyFrame).messages)) this._pauseAsking();
          return;
        }
        case 'error':
          return this._pauseAsking();
        case 'timeout':
          // No answer (lost with a relay instance, say): ask again.
          return this.check();
        case 'dropped':
          return;
      }
    });
  }

  /** The connection is gone (its requests are dropped by the registry): no pause carries over. */
  stop(): void {
    this._o.clock.clearTimeout(this._pause);
    this._pause = undefined;
  }

  private _pauseAsking(): void {
    this._o.clock.clearTimeout(this._pause);
    this._pause = this._o.clock.setTimeout(() => {
      this._pause = undefined;
      this.check();
    }, this._o.timeoutMs);
  }
}
