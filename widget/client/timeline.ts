/**
 * The timeline of one conversation, as the view will show it. The relay's log numbers every
 * event (a new message, or since v1.1 an update: a change to an earlier message) with one
 * gap-free seq; the ordering buffer hands the events out in order, and the timeline keeps the
 * messages in their current state: a message is appended, an update is applied to the message
 * it names (only when its seq is above the message's `rev`, so replay and live delivery never
 * apply a change twice; an update for a message not held is skipped: the message arrives later
 * in its current state, or is older than what is held). Also: own messages the relay acked
 * whose `msg` has not arrived yet, older pages prepended, and where the unread divider goes.
 * Pure: no I/O, no timers, no clock; the conversation feeds it and reads it (property-tested
 * in timeline.test.ts).
 */
import { OrderingBuffer, type Gap } from './ordering.js';

export type { Gap };

export interface TimelineMessage {
  readonly type?: 'msg';
  readonly seq: number;
  readonly id: string;
  readonly from: { readonly id: string };
}

export interface TimelineUpdate {
  readonly type: 'update';
  readonly seq: number;
  /** The message it changes. */
  readonly id: string;
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

/** Applies `update` to `message`: the message in its new state, or null when it does not apply (already in, by `rev`). */
export type ApplyUpdate<M, U> = (message: M, update: U) => M | null;

const isUpdate = <M extends TimelineMessage, U extends TimelineUpdate>(event: M | U): event is U => event.type === 'update';

export class Timeline<M extends TimelineMessage, E = unknown, U extends TimelineUpdate = TimelineUpdate> {
  private readonly _events = new OrderingBuffer<M | U>();
  /** Messages with seq in (`_base`, last], ascending: every one of them the relay has, in its current state. */
  private _messages: M[] = [];
  private _base = 0;
  private readonly _byId = new Map<string, M>();
  private readonly _acked = new Map<string, Acked<E>>();
  private _unread: UnreadMark | null = null;
  private _version = 0;

  constructor(private readonly _apply: ApplyUpdate<M, U> = () => null) {}

  /** The messages held, ascending by seq, with nothing missing between them. */
  get items(): readonly M[] {
    return this._messages;
  }

  /** Older messages may exist on the relay when this is above 0: the held ones start after it. */
  get base(): number {
    return this._base;
  }

  /** The highest seq of the log held without a hole (`base` when nothing arrived). */
  get last(): number {
    return this._events.last;
  }

  get pendingCount(): number {
    return this._events.pendingCount;
  }

  /** Rises whenever what the timeline shows changed (a message added, changed or prepended, a reset). */
  get version(): number {
    return this._version;
  }

  get unreadMark(): UnreadMark | null {
    return this._unread;
  }

  /** Whether the run shows the message `id`. */
  has(id: string): boolean {
    return this._byId.has(id);
  }

  /** The message `id` in its current state, if held. */
  message(id: string): M | undefined {
    return this._byId.get(id);
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
    return this._events.gap();
  }

  /**
   * Starts over after `base` with the messages `items` (ascending; e.g. from the cache), the
   * log held up to `last` (default: the last item's seq). `forgetAcked`: the seqs mean
   * something else now (the store was replaced); otherwise acks the run passed are dropped.
   */
  reset(base: number, items: readonly M[] = [], forgetAcked = false, last?: number): void {
    this._base = Math.max(0, Math.floor(base));
    this._messages = [];
    this._byId.clear();
    for (const item of items) {
      if (item.seq <= (this._messages.at(-1)?.seq ?? this._base) || (last !== undefined && item.seq > last)) break;
      this._add(item);
    }
    this._events.reset(last ?? this._messages.at(-1)?.seq ?? this._base);
    if (forgetAcked) this._acked.clear();
    else this._pruneAcked();
    this._version++;
  }

  /** Feeds events (live, replayed or a gap's page); returns the messages that became visible, ascending. */
  push(events: Iterable<M | U>): M[] {
    const added: M[] = [];
    for (const event of this._events.pushAll(events)) {
      if (isUpdate<M, U>(event)) this._update(event);
      else if (!this._byId.has(event.id)) {
        this._add(event);
        added.push(event);
        // Its `msg` proves the relay stored it, even if the ack was lost with a connection.
        this._acked.delete(event.id);
      }
    }
    if (added.length > 0) {
      this._pruneAcked();
      this._version++;
    }
    return added;
  }

  /**
   * An older page (messages only, ascending: the relay's answer to `history before`): the
   * messages right below `before`, so they extend the held run downwards. A page for another
   * `before` than `base + 1` is stale (the run was reset meanwhile) and ignored. Returns what was
   * taken; `more: false` says nothing is older.
   */
  prepend(older: readonly M[], before: number, more = true): M[] {
    if (before !== this._base + 1) return [];
    const taken: M[] = [];
    for (const item of older) {
      if (item.seq > this._base || item.seq <= (taken.at(-1)?.seq ?? 0) || this._byId.has(item.id)) continue;
      taken.push(item);
    }
    if (taken.length === 0 && more) return [];
    for (const item of taken) this._byId.set(item.id, item);
    this._messages = [...taken, ...this._messages];
    this._base = more && taken.length > 0 ? taken[0]!.seq - 1 : 0;
    this._version++;
    return taken;
  }

  /** The relay acked own message `entry` at `seq`: shown as sent until its `msg` takes its place in the run. */
  ack(id: string, entry: E, seq: number, ts: number): void {
    if (!this._byId.has(id) && seq > this.last) this._acked.set(id, { entry, seq, ts });
  }

  /** Where the divider goes: the user's read cursor and the head, when the conversation was (re)opened. */
  markOpened(read: number, head: number): void {
    this._unread = { read, head };
  }

  /** The first message from others after the read cursor, up to the head seen when opened; null when none. */
  firstUnreadSeq(selfId: string): number | null {
    if (!this._unread) return null;
    const { read, head } = this._unread;
    for (const message of this._messages) {
      if (message.seq > head) break;
      if (message.seq > read && message.from.id !== selfId) return message.seq;
    }
    return null;
  }

  /**
   * Messages from others after `read`. What is below the held run counts too (it is not on
   * this device), as an upper bound: seqs below the run cannot be told apart into messages
   * and updates. `below: false` counts only what is held (the rest is on its way from storage).
   */
  unreadCount(selfId: string, read: number, below = true): number {
    const cursor = Math.max(read, this._unread?.read ?? 0);
    let count = below ? Math.max(0, this._base - cursor) : 0;
    for (const message of this._messages) if (message.seq > cursor && message.from.id !== selfId) count++;
    return count;
  }

  /** The newest `count` messages, the base below them and the log seq held (the cache stores a bounded tail). */
  newest(count: number): { base: number; items: M[]; last: number } {
    const items = this._messages.slice(Math.max(0, this._messages.length - count));
    const base = items.length < this._messages.length ? items[0]!.seq - 1 : this._base;
    return { base, items, last: this.last };
  }

  private _add(message: M): void {
    this._messages.push(message);
    this._byId.set(message.id, message);
  }

  private _update(update: U): void {
    const message = this._byId.get(update.id);
    if (!message) return;
    const changed = this._apply(message, update);
    if (!changed || changed === message) return;
    const index = this._indexOf(message.seq);
    if (index < 0) return;
    this._messages[index] = changed;
    this._byId.set(changed.id, changed);
    this._version++;
  }

  /** Binary search by seq (the messages are ascending). */
  private _indexOf(seq: number): number {
    let low = 0;
    let high = this._messages.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const at = this._messages[mid]!.seq;
      if (at === seq) return mid;
      if (at < seq) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  /** Acked messages the run has moved past without showing (it jumped ahead) are gone from view anyway. */
  private _pruneAcked(): void {
    for (const [id, acked] of this._acked) if (acked.seq <= this.last) this._acked.delete(id);
  }
}
