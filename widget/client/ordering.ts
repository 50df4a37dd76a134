/**
 * The ordering buffer: the relay numbers messages 1, 2, 3 … without gaps, but the bus
 * between relay instances may lose or reorder events. The buffer turns whatever arrives
 * into a gap-free ascending run (`items`, seqs `base + 1 … last`) and holds everything
 * that arrived early until the missing seqs are filled in. Pure: no I/O, no timers.
 */
export interface Sequenced {
  readonly seq: number;
}

/** Missing seqs `after + 1 … before - 1` block messages that already arrived. */
export interface Gap {
  after: number;
  before: number;
}

/** Early arrivals kept at most; beyond this a hostile or broken relay could grow memory without bound. */
const MAX_PENDING = 5000;

export class OrderingBuffer<T extends Sequenced> {
  private _items: T[] = [];
  private _base = 0;
  private readonly _pending = new Map<number, T>();

  /** The gap-free ascending run the view may show. */
  get items(): readonly T[] {
    return this._items;
  }

  /** The seq just before the first item: older messages exist on the relay when it is above 0. */
  get base(): number {
    return this._base;
  }

  /** The highest contiguous seq held (`base` when empty). */
  get last(): number {
    return this._base + this._items.length;
  }

  get pendingCount(): number {
    return this._pending.size;
  }

  /**
   * Starts over after `base`, optionally with a contiguous run `base + 1 …` already known
   * (e.g. from the cache); anything that does not continue the run is dropped.
   */
  reset(base: number, items: readonly T[] = []): void {
    this._base = Math.max(0, Math.floor(base));
    this._items = [];
    this._pending.clear();
    for (const item of items) {
      if (item.seq !== this.last + 1) break;
      this._items.push(item);
    }
  }

  /** Feeds one message; returns those that became visible, in ascending order (possibly none). */
  push(item: T): T[] {
    const next = this.last + 1;
    if (!Number.isInteger(item.seq) || item.seq < next || this._pending.has(item.seq)) return [];
    if (item.seq > next) {
      if (this._pending.size < MAX_PENDING) this._pending.set(item.seq, item);
      return [];
    }
    const accepted = [item];
    this._items.push(item);
    for (let seq = this.last + 1; this._pending.has(seq); seq++) {
      const waiting = this._pending.get(seq)!;
      this._pending.delete(seq);
      this._items.push(waiting);
      accepted.push(waiting);
    }
    return accepted;
  }

  pushAll(items: Iterable<T>): T[] {
    const accepted: T[] = [];
    for (const item of items) accepted.push(...this.push(item));
    return accepted;
  }

  /** The first range that must be fetched before early arrivals can be shown, or null. */
  gap(): Gap | null {
    if (this._pending.size === 0) return null;
    let lowest = Infinity;
    for (const seq of this._pending.keys()) lowest = Math.min(lowest, seq);
    return { after: this.last, before: lowest };
  }

  /**
   * Adds an older page (ascending): only the messages that extend the run downwards without
   * a hole are taken. Returns those taken, ascending.
   */
  prepend(older: readonly T[]): T[] {
    const taken: T[] = [];
    for (let i = older.length - 1; i >= 0; i--) {
      const item = older[i]!;
      if (item.seq > this._base) continue;
      if (item.seq !== this._base) break;
      taken.push(item);
      this._base--;
    }
    taken.reverse();
    this._items = [...taken, ...this._items];
    return taken;
  }

  /** Keeps only the newest `count` items (the cache stores a bounded tail). */
  newest(count: number): { base: number; items: T[] } {
    const items = this._items.slice(Math.max(0, this._items.length - count));
    return { base: this.last - items.length, items };
  }
}
