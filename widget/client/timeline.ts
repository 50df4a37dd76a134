/**
 * The timeline of one conversation, as the view will show it: the gap-free run of confirmed
 * messages (the ordering buffer of ordering.ts), the ids it holds (so an own message never
 * shows twice), own messages the relay acked whose `msg` has not arrived yet, older pages
 * prepended, and where the unread divider goes. Pure: no I/O, no timers, no clock; the
 * conversation feeds it and reads it (property-tested in timeline.test.ts).
 */
import { OrderingBuffer, type Gap } from './ordering.js';

export type { Gap };

export interface TimelineMessage {
  readonly seq: number;
  readonly id: string;
  readonly from: { readonly id: string };
}

/** An own message the relay acked (seq assigned) that the run does not show yet. */
export interface Acked<E> {
  entry: E;
  seq: number;
  ts: number;
}

/** The user's `read` cursor and the head when the conversation was opened: where the unread divider goes. */
export interface UnreadMark {
  read: number;
  head: number;
}

export class Timeline<M extends TimelineMessage, E = unknown> {
  private readonly _buffer = new OrderingBuffer<M>();
  private readonly _ids = new Set<string>();
  private readonly _acked = new Map<string, Acked<E>>();
  private _unread: UnreadMark | null = null;

  /** The gap-free ascending run of confirmed messages. */
  get items(): readonly M[] {
    return this._buffer.items;
  }

  /** The seq just before the first item: older messages exist on the relay when it is above 0. */
  get base(): number {
    return this._buffer.base;
  }

  /** The highest contiguous seq held (`base` when empty). */
  get last(): number {
    return this._buffer.last;
  }

  get pendingCount(): number {
    return this._buffer.pendingCount;
  }

  get unreadMark(): UnreadMark | null {
    return this._unread;
  }

  /** Whether the run shows the message `id`. */
  has(id: string): boolean {
    return this._ids.has(id);
  }

  /** Whether `id` was acked and waits for its place in the run. */
  isAcked(id: string): boolean {
    return this._acked.has(id);
  }

  /** Acked own messages the run does not show, ascending by seq. */
  acked(): Acked<E>[] {
    return [...this._acked.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The first range that must be fetched before early arrivals can be shown, or null. */
  gap(): Gap | null {
    return this._buffer.gap();
  }

  /**
   * Starts over after `base` with the contiguous start of `items`. `forgetAcked`: the seqs
   * mean something else now (the store was replaced); otherwise acks the run passed are dropped.
   */
  reset(base: number, items: readonly M[] = [], forgetAcked = false): void {
    this._buffer.reset(base, items);
    this._ids.clear();
    for (const item of this._buffer.items) this._ids.add(item.id);
    if (forgetAcked) this._acked.clear();
    else this._pruneAcked();
  }

  /** Feeds messages (live, replayed or a gap's page); returns those that became visible, ascending. */
  push(items: Iterable<M>): M[] {
    const accepted = this._buffer.pushAll(items);
    for (const item of accepted) {
      this._ids.add(item.id);
      // Its `msg` proves the relay stored it, even if the ack was lost with a connection.
      this._acked.delete(item.id);
    }
    if (accepted.length > 0) this._pruneAcked();
    return accepted;
  }

  /** An older page (ascending): takes what extends the run downwards without a hole; returns that, ascending. */
  prepend(older: readonly M[]): M[] {
    const taken = this._buffer.prepend(older);
    for (const item of taken) this._ids.add(item.id);
    return taken;
  }

  /** The relay acked own message `entry` at `seq`: shown as sent until its `msg` takes its place in the run. */
  ack(id: string, entry: E, seq: number, ts: number): void {
    if (!this._ids.has(id) && seq > this.last) this._acked.set(id, { entry, seq, ts });
  }

  /** Where the divider goes: the user's read cursor and the head, when the conversation was (re)opened. */
  markOpened(read: number, head: number): void {
    this._unread = { read, head };
  }

  /** The first message from others after the read cursor, up to the head seen when opened; null when none. */
  firstUnreadSeq(selfId: string): number | null {
    if (!this._unread) return null;
    const { read, head } = this._unread;
    for (const message of this.items) {
      if (message.seq > head) break;
      if (message.seq > read && message.from.id !== selfId) return message.seq;
    }
    return null;
  }

  /** Messages from others after `read`; everything below the run counts (it is not on this device). */
  unreadCount(selfId: string, read: number): number {
    const cursor = Math.max(read, this._unread?.read ?? 0);
    let count = Math.max(0, this.base - cursor);
    for (const message of this.items) if (message.seq > cursor && message.from.id !== selfId) count++;
    return count;
  }

  /** The newest `count` items with their base (the cache stores a bounded tail). */
  newest(count: number): { base: number; items: M[] } {
    return this._buffer.newest(count);
  }

  /** Acked messages the run has moved past without showing (it jumped ahead) are gone from view anyway. */
  private _pruneAcked(): void {
    for (const [id, acked] of this._acked) if (acked.seq <= this.last) this._acked.delete(id);
  }
}
