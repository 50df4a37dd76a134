/**
 * Order and loss accounting of one client in one conversation. Pure (no sockets, no clock)
 * so that unit tests can feed it synthetic sequences: a checker that miscounts would make
 * every load test meaningless.
 *
 * The relay numbers each conversation 1, 2, 3, … without gaps, so the expected deliveries
 * of a client are every seq above the point it joined from, up to the conversation's final
 * head; what it holds is kept as a watermark (everything up to it received) plus the few
 * seqs received above it.
 */

export const Delivery = {
  /** A new seq arriving live: a fan-out latency sample. */
  live: 'live',
  /** A new seq replayed after a (re)join: counts for loss, not for latency. */
  catchup: 'catchup',
  /** A seq this client already held, outside a catch-up: the target sent it twice. */
  duplicate: 'duplicate',
  /** A seq already held, replayed during a catch-up the client asked for: legitimate. */
  redelivered: 'redelivered',
  /** Before the first join, or at or below the seq the client joined from. */
  unexpected: 'unexpected',
} as const;
export type Delivery = (typeof Delivery)[keyof typeof Delivery];

export interface Tally {
  expected: number;
  unique: number;
  lost: number;
  duplicated: number;
  reordered: number;
  redelivered: number;
  unexpected: number;
  catchup: number;
}

export function emptyTally(): Tally {
  return { expected: 0, unique: 0, lost: 0, duplicated: 0, reordered: 0, redelivered: 0, unexpected: 0, catchup: 0 };
}

export function addTally(into: Tally, from: Tally): Tally {
  for (const key of Object.keys(into) as Array<keyof Tally>) into[key] += from[key];
  return into;
}

export class SeqChecker {
  /** Seqs at or below this were never expected; -1 until the first join. */
  private _baseline = -1;
  /** Every seq in (baseline, watermark] was received. */
  private _watermark = 0;
  /** Received seqs above the watermark (only non-empty while something is missing or out of order). */
  private readonly _ahead = new Set<number>();
  private _highest = 0;
  /** Seqs at or below this are replays of the latest (re)join, in which going back is legitimate. */
  private _catchUpUntil = 0;
  private _rejoined = false;
  unique = 0;
  duplicated = 0;
  reordered = 0;
  redelivered = 0;
  unexpected = 0;
  catchup = 0;

  get joined(): boolean {
    return this._baseline >= 0;
  }

  /** Where a rejoin should resume from (`join after`): everything up to it is held. */
  get watermark(): number {
    return this._watermark;
  }

  /**
   * The target confirmed a join. `after` is what the client asked to be replayed from (for
   * a first join with no replay, the head itself); `head` the conversation's head then.
   */
  onJoined(head: number, after: number): void {
    if (this._baseline < 0) {
      this._baseline = after;
      this._watermark = after;
      this._highest = after;
    } else {
      this._rejoined = true;
    }
    this._catchUpUntil = Math.max(this._catchUpUntil, head);
  }

  receive(seq: number): Delivery {
    if (this._baseline < 0 || seq <= this._baseline) {
      this.unexpected++;
      return Delivery.unexpected;
    }
    const inCatchUp = seq <= this._catchUpUntil;
    if (seq <= this._watermark || this._ahead.has(seq)) {
      if (inCatchUp && this._rejoined) {
        this.redelivered++;
        return Delivery.redelivered;
      }
      this.duplicated++;
      return Delivery.duplicate;
    }
    this.unique++;
    if (seq < this._highest && !inCatchUp) this.reordered++;
    if (seq > this._highest) this._highest = seq;
    if (seq === this._watermark + 1) {
      this._watermark = seq;
      while (this._ahead.delete(this._watermark + 1)) this._watermark++;
    } else {
      this._ahead.add(seq);
    }
    if (inCatchUp) {
      this.catchup++;
      return Delivery.catchup;
    }
    return Delivery.live;
  }

  /** Highest seq received (or the join point): the conversation's head is at least this. */
  get highest(): number {
    return this._highest;
  }

  /** The account once the conversation's final head is known (the highest seq anyone saw). */
  tally(head: number): Tally {
    const expected = this._baseline < 0 ? 0 : Math.max(0, head - this._baseline);
    // Only seqs up to `head` count; more would mean `head` is stale, not that less was lost.
    let held = 0;
    if (this._baseline >= 0) {
      if (this._watermark >= head) held = Math.max(0, head - this._baseline);
      else {
        held = this._watermark - this._baseline;
        for (const seq of this._ahead) if (seq <= head) held++;
      }
    }
    return {
      expected,
      unique: this.unique,
      lost: Math.max(0, expected - held),
      duplicated: this.duplicated,
      reordered: this.reordered,
      redelivered: this.redelivered,
      unexpected: this.unexpected,
      catchup: this.catchup,
    };
  }
}
