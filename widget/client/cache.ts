/**
 * The history cache: the newest messages of a conversation, the epoch of the store they
 * came from, and the receipt cursors, so a reload renders at once and then only catches up
 * from the last seq. Writes are debounced: a burst of messages costs one write.
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

/** 1,000 messages of typical length are ~250 KB of IndexedDB: enough for a reload to show a long conversation at once. */
export const CacheDefaults = { cap: 1000, debounceMs: 1000 } as const;

export interface HistoryCacheOptions {
  storage: KeyValueStorage;
  key: string;
  clock: Clock;
  debounceMs?: number;
  onStorageError?: (error: unknown) => void;
}

export class HistoryCache {
  private readonly _o: HistoryCacheOptions;
  private readonly _debounced: Debounced;
  private _source: (() => CachedHistory | null) | null = null;
  private _writing: Promise<void> = Promise.resolve();

  constructor(options: HistoryCacheOptions) {
    this._o = options;
    this._debounced = new Debounced(options.clock, options.debounceMs ?? CacheDefaults.debounceMs, () => this._write());
  }

  /** The cached history, or null when there is none or it is unreadable. */
  async load(): Promise<CachedHistory | null> {
    let stored: unknown;
    try {
      stored = await this._o.storage.getItem<unknown>(this._o.key);
    } catch (error) {
      this._o.onStorageError?.(error);
      return null;
    }
    if (stored === null || stored === undefined) return null;
    const parsed = v.safeParse(CachedHistory, stored);
    if (!parsed.success || !isAscending(parsed.output.messages, parsed.output.last)) return null;
    return parsed.output;
  }

  /** Something changed: write what `source` returns then, soon, once. */
  schedule(source: () => CachedHistory | null): void {
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
    this._source = null;
    this._writing = this._writing.then(() => this._o.storage.removeItem(this._o.key)).catch((error: unknown) => this._o.onStorageError?.(error));
    await this._writing;
  }

  cancel(): void {
    this._debounced.cancel();
  }

  private _write(): void {
    const value = this._source?.();
    if (!value) return;
    this._writing = this._writing
      .then(() => this._o.storage.setItem(this._o.key, value))
      .then(
        () => undefined,
        (error: unknown) => this._o.onStorageError?.(error),
      );
  }
}

function isAscending(messages: readonly { seq: number }[], last: number | undefined): boolean {
  return messages.every((m, i) => (i === 0 || m.seq > messages[i - 1]!.seq) && (last === undefined || m.seq <= last));
}
