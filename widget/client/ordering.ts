/**
 * The ordering buffer: the relay numbers the events of a conversation (new messages and, since
 * v1.1, changes to them) 1, 2, 3 … without gaps, but the bus between relay instances may lose
 * or reorder them. The buffer hands them out gap-free and ascending, and holds whatever arrived
 * early until the missing seqs are filled in. It keeps nothing it handed out (the timeline
 * keeps the messages). Pure: no I/O, no timers.
 */
export interface Sequenced {
  readonly seq: number;
}

/** Missing seqs `after + 1 … before - 1` block events that already arrived. */
export interface Gap {
  after: number;
  before: number;
}

/** Early arrivals kept at most; beyond this a hostile or broken relay could grow memory without bound. */
export const MAX_PENDING = 5000;

export class OrderingBuffer<T extends Sequenced> {
  private _last = 0;
  private readonly _pending = new Map<number, T>();

  /** The highest seq handed out (everything up to it was, in order). */
  get last(): number {
    return this._last;
  }

  get pendingCount(): number {
    return this._pending.size;
  }

  /** Starts over after `last`: early arrivals are dropped (they are asked for again if still wanted). */
  reset(last: number): void {
    this._last = Math.max(0, Math.floor(last));
    this._pending.clear();
  }

  /** Feeds one event; returns those that became due, in ascending order (possibly none). */
  push(item: T): T[] {
    const next = this._last + 1;
    if (!Number.isInteger(item.seq) || item.seq < next || this._pending.has(item.seq)) return [];
    if (item.seq > next) {
      if (this._pending.size < MAX_PENDING) this._pending.set(item.seq, item);
      return [];
    }
    const due = [item];
    this._last = item.seq;
    for (let seq = this._last + 1; this._pending.has(seq); seq++) {
      const waiting = this._pending.get(seq)!;
      this._pending.delete(seq);
      this._last = seq;
      due.push(waiting);
    }
    return due;
  }

  pushAll(items: Iterable<T>): T[] {
    const due: T[] = [];
    for (const item of items) due.push(...this.push(item));
    return due;
  }

  /** The first range that must be fetched before early arrivals can be handed out, or null. */
  gap(): Gap | null {
    if (this._pending.size === 0) return null;
    let lowest = Infinity;
    for (const seq of this._pending.keys()) lowest = Math.min(lowest, seq);
    return { after: this._last, before: lowest };
  }
}
