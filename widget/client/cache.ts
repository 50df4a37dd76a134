/**
 * The history cache: the newest messages of a conversation, the epoch of the store they
 * came from, and the receipt cursors, so a reload renders at once and then only catches up
 * from the last seq. Writes are debounced: a burst of messages costs one write.
 *
 * Two records, so that a reload reads, checks and shows the newest page before the rest:
 * - under `key`, the newest messages (CacheDefaults.tail to tailMax of them) with the epoch,
 *   self, members and the log seq held (caches of earlier versions hold every message here);
 * - under `key|older`, the messages before those (up to cap − tail), with the seq of the first
 *   message of the newest record (`next`) and the epoch: a record that does not end right where
 *   the newest one starts (a write lost between the two, an earlier visit's) is not used.
 * The older record is written again only when what it holds changed (a message in it edited,
 * an older page loaded, the newest grew past tailMax): a new message costs a write of the
 * newest record only.
 */
import * as v from 'valibot';
import { Member, MessageFrame, User } from '../../protocol/index.js';
import { Debounced, type Clock } from './clock.js';
import type { KeyValueStorage } from './types.js';

const CachedHistory = v.object({
  /** Cached messages are only valid for the store they came from: a new epoch means the store was replaced. */
  epoch: v.string(),
  self: v.nullable(User),
  members: v.array(Member),
  /** Messages in their current state, ascending; since v1.1 updates take seqs too, so there may be holes between them. */
  messages: v.array(MessageFrame),
  /** The log seq held (v1.1; caches of earlier versions end with their last message). */
  last: v.optional(v.number()),
});
export type CachedHistory = v.InferOutput<typeof CachedHistory>;

const OlderHistory = v.object({
  epoch: v.string(),
  /** The seq of the first message of the newest record: these end right before it. */
  next: v.number(),
  messages: v.array(MessageFrame),
});
type OlderHistory = v.InferOutput<typeof OlderHistory>;

/** What the conversation holds, for a write: every message held (ascending), the newest `cap` are kept. */
export interface HistoryContent {
  epoch: string;
  self: User | null;
  members: Member[];
  messages: readonly MessageFrame[];
  last: number;
}

/**
 * 1,000 messages of typical length are ~250 KB of IndexedDB: enough for a reload to show a long conversation at
 * once. The newest record holds `tail` to `tailMax` of them (at most cap − tail + tailMax in all).
 */
export const CacheDefaults = { cap: 1000, tail: 50, tailMax: 150, debounceMs: 1000 } as const;

export interface HistoryCacheOptions {
  storage: KeyValueStorage;
  key: string;
  clock: Clock;
  debounceMs?: number;
  onStorageError?: (error: unknown) => void;
  /**
   * The newest record as read before the core was loaded (the entry starts that read at once), if any: used
   * instead of reading it again. Rejects when that read failed (then the storage is asked).
   */
  early?: () => Promise<unknown> | undefined;
}

export class HistoryCache {
  private readonly _o: HistoryCacheOptions;
  private readonly _debounced: Debounced;
  private _source: (() => HistoryContent | null) | null = null;
  private _writing: Promise<unknown> = Promise.resolve();
  /** The older record as stored: the message objects the timeline holds (compared by identity). */
  private _older: { epoch: string; messages: readonly MessageFrame[] } | null = null;
  /** An older record may be stored (one of an earlier visit, say): a write without one removes it. */
  private _olderStored = true;
  /** The newest record as stored (JSON): the same again is not written (a rejoin that brought nothing new). */
  private _stored = '';

  constructor(options: HistoryCacheOptions) {
    this._o = options;
    this._debounced = new Debounced(options.clock, options.debounceMs ?? CacheDefaults.debounceMs, () => this._queue(() => this._write()));
  }

  private get _olderKey(): string {
    return `${this._o.key}|older`;
  }

  /** The newest record, or null when there is none or it is unreadable. Older messages: `loadOlder`. */
  async load(): Promise<CachedHistory | null> {
    const storage = this._o.storage;
    let stored: unknown;
    try {
      const early = this._o.early?.();
      stored = await (early ? early.catch(() => storage.getItem<unknown>(this._o.key)) : storage.getItem<unknown>(this._o.key));
    } catch (error) {
      this._o.onStorageError?.(error);
    }
    const parsed = v.safeParse(CachedHistory, stored);
    if (!parsed.success || !isAscending(parsed.output.messages, parsed.output.last)) return null;
    this._stored = JSON.stringify(parsed.output);
    return parsed.output;
  }

  /** The messages older than those of `newest` (what `load` returned), ascending; empty when none belong to it. */
  async loadOlder(newest: CachedHistory): Promise<MessageFrame[]> {
    const first = newest.messages[0];
    let stored: unknown;
    try {
      stored = first && (await this._o.storage.getItem<unknown>(this._olderKey));
    } catch (error) {
      this._o.onStorageError?.(error);
    }
    const parsed = v.safeParse(OlderHistory, stored);
    if (!first || !parsed.success) return [];
    const { epoch, next, messages } = parsed.output;
    if (epoch !== newest.epoch || next !== first.seq || !isAscending(messages, next - 1)) return [];
    this._older = { epoch, messages };
    return messages;
  }

  /** Writes wait for `restored` (the older messages being put into the timeline), so none is made of the newest alone. */
  holdWritesUntil(restored: Promise<unknown>): void {
    this._queue(() => restored);
  }

  /** Something changed: write what `source` returns then, soon, once. */
  schedule(source: () => HistoryContent | null): void {
    this._source = source;
    this._debounced.schedule();
  }

  /** Writes a scheduled change now (the client is going away). */
  async flush(): Promise<void> {
    this._debounced.flush();
    await this._writing;
  }

  /** The cached history is of a replaced store: forget it (and any write still scheduled). */
  async clear(): Promise<void> {
    this._debounced.cancel();
    this._source = this._older = null;
    this._olderStored = false;
    this._stored = '';
    const storage = this._o.storage;
    this._queue(() => Promise.all([storage.removeItem(this._o.key), storage.removeItem(this._olderKey)]));
    await this._writing;
  }

  cancel(): void {
    this._debounced.cancel();
  }

  /** One storage step after the other; a failure is reported and the next step still runs. */
  private _queue(step: () => unknown): void {
    this._writing = this._writing.then(step).catch((error: unknown) => this._o.onStorageError?.(error));
  }

  /** What to write is decided when the write's turn comes (after the older messages were restored, say). */
  private async _write(): Promise<void> {
    const content = this._source?.();
    const all = content?.messages ?? [];
    if (!content || all.length === 0) return;
    const storage = this._o.storage;
    let cut = this._keptOlder(content);
    if (cut < 0) {
      // A new split. The older record is written first: a newest record never names older messages that are not stored.
      const kept = all.slice(-CacheDefaults.cap);
      const older = kept.length > CacheDefaults.tailMax ? kept.slice(0, -CacheDefaults.tail) : [];
      cut = all.length - kept.length + older.length;
      this._older = null;
      if (older.length > 0) {
        await storage.setItem<OlderHistory>(this._olderKey, { epoch: content.epoch, next: all[cut]!.seq, messages: older });
        this._older = { epoch: content.epoch, messages: older };
      } else if (this._olderStored) await storage.removeItem(this._olderKey);
      this._olderStored = older.length > 0;
    }
    const newest: CachedHistory = { ...content, messages: all.slice(cut) };
    const json = JSON.stringify(newest);
    if (json === this._stored) return;
    this._stored = '';
    await storage.setItem(this._o.key, newest);
    this._stored = json;
  }

  /**
   * Where the newest record starts when the stored older record can stay as it is (it holds exactly the messages
   * before the newest ones, unchanged, and no older message that should be cached is missing from it), else -1.
   */
  private _keptOlder(content: HistoryContent): number {
    const older = this._older?.epoch === content.epoch ? this._older.messages : [];
    const all = content.messages;
    const start = older.length > 0 ? all.indexOf(older[0]!) : -1;
    const cut = start + older.length;
    const newest = all.length - cut;
    const fits =
      start >= 0 &&
      newest >= 1 &&
      newest <= CacheDefaults.tailMax &&
      // Messages before it were loaded since (an older page): they belong in the cache while it has room.
      (start === 0 || older.length + newest >= CacheDefaults.cap) &&
      older.every((m, i) => all[start + i] === m);
    return fits ? cut : -1;
  }
}

function isAscending(messages: readonly { seq: number }[], last: number | undefined): boolean {
  return messages.every((m, i) => (i === 0 || m.seq > messages[i - 1]!.seq) && (last === undefined || m.seq <= last));
}
