/**
 * The outbox: own messages, and own changes to messages (edit, delete, react), not yet
 * acknowledged by the relay. Each is written to storage
 * BEFORE its first send, so a message typed offline or lost with a crashed tab is sent on
 * the next visit; it is resent with the same id (the relay deduplicates by id) until the
 * relay acks it (a change is harmless to repeat: the relay acks one that changes nothing).
 * Sending itself is the client's job: the outbox decides what may go next: messages in the
 * order they were written, a change only after everything before it about the same message
 * (so a change to an own message still being sent goes after its ack).
 *
 * Storage: ONE KEY PER ENTRY (`<outbox key>|<entry id>`), listed with `keys()`. The tabs of a
 * browser share the outbox's storage, and an outbox stored as one array under one key lost
 * entries whenever two tabs wrote it at once (each wrote its own copy of the array). With a
 * key per entry a tab only ever writes or removes its own entries' keys, so no write can undo
 * another tab's. (Routing every write through the leader tab was the alternative; it would
 * make saving a message depend on another tab answering, and the entry must be stored before
 * it is sent.) Outboxes of earlier versions (the array under the outbox key itself) are moved
 * to per-entry keys on load. A storage without `keys()` keeps the array format.
 */
import * as v from 'valibot';
import { Emoji, FileRef, Id } from '../../protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { Clock } from './clock.js';
import { ClientErrorCode, type ChatError } from './errors.js';
import type { KeyValueStorage } from './types.js';

const MessageEntry = v.object({
  id: Id,
  conv: Id,
  text: v.optional(v.string()),
  file: v.optional(FileRef),
  /** The id of the message this one answers (v1.1). */
  reply: v.optional(Id),
  ts: v.number(),
  /** Set once the relay refused the message for good (a code; older versions stored text, read as `internal`). */
  error: v.optional(
    v.union([
      v.object({ code: v.string(), params: v.optional(v.record(v.string(), v.union([v.string(), v.number()]))) }),
      v.pipe(v.string(), v.transform((): ChatError => ({ code: ClientErrorCode.internal }))),
    ]),
  ),
});
/** A change to message `target` (v1.1); its own `id` names the entry, not the message. */
const ChangeEntry = v.object({
  id: Id,
  conv: Id,
  ts: v.number(),
  change: v.variant('type', [
    v.object({ type: v.literal('edit'), target: Id, text: v.string() }),
    v.object({ type: v.literal('delete'), target: Id }),
    v.object({ type: v.literal('react'), target: Id, emoji: Emoji, on: v.boolean() }),
  ]),
});
/** A change first: a message entry has no `change`, and an object schema would drop it from a change. */
const StoredEntry = v.union([ChangeEntry, MessageEntry]);
export type MessageEntry = v.InferOutput<typeof MessageEntry>;
export type ChangeEntry = v.InferOutput<typeof ChangeEntry>;
export type OutboxEntry = MessageEntry | ChangeEntry;

export function isChange(entry: OutboxEntry): entry is ChangeEntry {
  return 'change' in entry;
}

/** Why the relay refused a message for good (changes refused are dropped, never kept failed). */
export function errorOf(entry: OutboxEntry): ChatError | undefined {
  return isChange(entry) ? undefined : entry.error;
}

/** The message an entry is about: its own id for a message, the target for a change. */
export function subjectOf(entry: OutboxEntry): string {
  return isChange(entry) ? entry.change.target : entry.id;
}
const StoredOutbox = v.array(StoredEntry);
/** A per-entry record: the entry and its place among the entries written in the same millisecond. */
const StoredRecord = v.object({ entry: StoredEntry, n: v.number() });

/**
 * Where an entry is in its life: being written to storage; queued to send; sent and
 * awaiting the ack; waiting out a backoff after a retryable error; failed for good.
 */
export const Flow = {
  persisting: 'persisting',
  queued: 'queued',
  inFlight: 'in_flight',
  waiting: 'waiting',
  failed: 'failed',
} as const;
export type Flow = (typeof Flow)[keyof typeof Flow];

interface Slot {
  entry: OutboxEntry;
  flow: Flow;
  attempts: number;
  retryAt: number;
  /** Its place among entries of the same millisecond, in storage. */
  n: number;
}

export interface OutboxOptions {
  storage: KeyValueStorage;
  key: string;
  clock: Clock;
  /** Most unacked sends at once, to stay under the relay's rate limit. */
  window?: number;
  backoff?: BackoffOptions;
  /** Storage failures are reported, not thrown: a message is still sent when it cannot be saved. */
  onStorageError?: (error: unknown) => void;
}

export class Outbox {
  private readonly _slots: Slot[] = [];
  private readonly _o: OutboxOptions;
  private readonly _window: number;
  private _writing: Promise<void> = Promise.resolve();
  private _nextWrite: Promise<void> | null = null;
  private _added = 0;

  constructor(options: OutboxOptions) {
    this._o = options;
    this._window = Math.max(1, options.window ?? 20);
  }

  /** Entries in the order they were written. */
  get entries(): readonly OutboxEntry[] {
    return this._slots.map((s) => s.entry);
  }

  get size(): number {
    return this._slots.length;
  }

  has(id: string): boolean {
    return this._slot(id) !== undefined;
  }

  flowOf(id: string): Flow | undefined {
    return this._slot(id)?.flow;
  }

  /** Reads what earlier visits (and other tabs) left behind; those come before anything added since construction. */
  async load(): Promise<void> {
    let found: OutboxEntry[];
    try {
      found = this._perEntry ? await this._loadEntries() : await this._loadArray();
    } catch (error) {
      this._o.onStorageError?.(error);
      return;
    }
    const loaded = found
      .filter((entry) => !this.has(entry.id))
      .map((entry, n): Slot => ({ entry, flow: errorOf(entry) ? Flow.failed : Flow.queued, attempts: 0, retryAt: 0, n }));
    this._slots.unshift(...loaded);
  }

  /** The array format: every entry under the outbox key (a storage without `keys()`, or an earlier version's outbox). */
  private async _loadArray(): Promise<OutboxEntry[]> {
    const parsed = v.safeParse(StoredOutbox, (await this._o.storage.getItem<unknown>(this._o.key)) ?? []);
    return parsed.success ? parsed.output : [];
  }

  private async _loadEntries(): Promise<OutboxEntry[]> {
    const storage = this._o.storage;
    const prefix = this._entryPrefix;
    const keys = (await storage.keys!()).filter((key) => key.startsWith(prefix));
    const records: Array<v.InferOutput<typeof StoredRecord>> = [];
    for (const key of keys) {
      const parsed = v.safeParse(StoredRecord, await storage.getItem<unknown>(key));
      // Garbage is not trusted (nor sent), and left alone: it is not this version's to delete.
      if (parsed.success && key === this._keyOf(parsed.output.entry.id)) records.push(parsed.output);
    }
    records.sort((a, b) => a.entry.ts - b.entry.ts || a.n - b.n);
    const entries = records.map((r) => r.entry);
    // An earlier version's outbox: each entry moves to its own key, then the array goes.
    const legacy = await this._loadArray();
    if (legacy.length > 0) {
      const held = new Set(entries.map((e) => e.id));
      const moved = legacy.filter((entry) => !held.has(entry.id));
      for (const [i, entry] of moved.entries()) await storage.setItem(this._keyOf(entry.id), { entry, n: i });
      await storage.removeItem(this._o.key);
      entries.unshift(...moved);
    }
    return entries;
  }

  /** Adds a message; resolves once it is in storage, and only then is it handed out to send. */
  async add(entry: OutboxEntry): Promise<void> {
    const slot: Slot = { entry, flow: errorOf(entry) ? Flow.failed : Flow.persisting, attempts: 0, retryAt: 0, n: this._added++ };
    this._slots.push(slot);
    await this._save(slot.entry.id);
    if (slot.flow === Flow.persisting) this._setFlow(slot, Flow.queued);
  }

  /**
   * The entries to send now, in order, marked in flight. Stops at the first entry that is
   * not yet saved or is waiting out a backoff, so messages never overtake each other.
   */
  takeSendable(): OutboxEntry[] {
    const now = this._o.clock.now();
    let inFlight = this._slots.filter((s) => s.flow === Flow.inFlight).length;
    const taken: OutboxEntry[] = [];
    /** Messages some earlier entry (in flight, failed or just taken) is about: a change to them waits. */
    const busy = new Set<string>();
    for (const slot of this._slots) {
      const subject = subjectOf(slot.entry);
      const waits = isChange(slot.entry) && busy.has(subject);
      busy.add(subject);
      if (inFlight >= this._window) break;
      if (slot.flow === Flow.failed || slot.flow === Flow.inFlight) continue;
      if (slot.flow === Flow.persisting) break;
      if (slot.flow === Flow.waiting && slot.retryAt > now) break;
      if (waits) continue;
      this._setFlow(slot, Flow.inFlight);
      slot.attempts++;
      inFlight++;
      taken.push(slot.entry);
    }
    return taken;
  }

  /** When the earliest backoff ends (to schedule the next `takeSendable`), or null. */
  nextRetryAt(): number | null {
    const waiting = this._slots.filter((s) => s.flow === Flow.waiting).map((s) => s.retryAt);
    return waiting.length > 0 ? Math.min(...waiting) : null;
  }

  /** The relay stored it: forget it. Returns the entry, or undefined if it was not here. */
  ack(id: string): OutboxEntry | undefined {
    const index = this._slots.findIndex((s) => s.entry.id === id);
    if (index < 0) return undefined;
    const [slot] = this._slots.splice(index, 1);
    void this._save(id);
    return slot!.entry;
  }

  /** A retryable error (rate limited, relay busy): send again after a backoff. */
  retryLater(id: string): void {
    const slot = this._slot(id);
    if (!slot || slot.flow === Flow.failed) return;
    slot.retryAt = this._o.clock.now() + backoffDelay(slot.attempts - 1, this._o.backoff);
    this._setFlow(slot, Flow.waiting);
  }

  /** The relay refused message `id` for good; kept (and saved) so the user can retry or discard it. */
  fail(id: string, error: ChatError): void {
    const slot = this._slot(id);
    if (!slot || isChange(slot.entry)) return;
    slot.entry = { ...slot.entry, error };
    this._setFlow(slot, Flow.failed);
    void this._save(id);
  }

  /** The user asked to send a failed message again (same id). */
  retry(id: string): boolean {
    const slot = this._slot(id);
    if (!slot || slot.flow !== Flow.failed || isChange(slot.entry)) return false;
    const { error: _dropped, ...entry } = slot.entry;
    slot.entry = entry;
    slot.attempts = 0;
    this._setFlow(slot, Flow.queued);
    void this._save(id);
    return true;
  }

  discard(id: string): boolean {
    const index = this._slots.findIndex((s) => s.entry.id === id);
    if (index < 0) return false;
    this._slots.splice(index, 1);
    void this._save(id);
    return true;
  }

  /**
   * A send got no ack in time: it goes again (same id: the relay deduplicates). A frame can be
   * lost between tabs when the tab holding the shared connection goes away.
   */
  requeue(id: string): void {
    const slot = this._slot(id);
    if (slot?.flow === Flow.inFlight) this._setFlow(slot, Flow.queued);
  }

  /** The socket went away: nothing is in flight any more; everything unacked goes again after the next join. */
  connectionLost(): void {
    for (const slot of this._slots) {
      if (slot.flow === Flow.inFlight) this._setFlow(slot, Flow.queued);
    }
  }

  /** Resolves once every change so far is in storage. */
  async settled(): Promise<void> {
    await (this._nextWrite ?? this._writing);
  }

  private _slot(id: string): Slot | undefined {
    return this._slots.find((s) => s.entry.id === id);
  }

  /** The only place an entry's flow changes. */
  private _setFlow(slot: Slot, flow: Flow): void {
    slot.flow = flow;
  }

  private get _perEntry(): boolean {
    return typeof this._o.storage.keys === 'function';
  }

  private get _entryPrefix(): string {
    return `${this._o.key}|`;
  }

  private _keyOf(id: string): string {
    return `${this._entryPrefix}${encodeURIComponent(id)}`;
  }

  /**
   * Stores entry `id` as it is now (removes it when it is gone). Writes are serialized, so a
   * removal never lands before the write it follows. In the array format, changes made while
   * one write runs share the next.
   */
  private _save(id: string): Promise<void> {
    if (!this._perEntry) return this._saveArray();
    const storage = this._o.storage;
    const key = this._keyOf(id);
    const write = this._writing.then(async () => {
      const slot = this._slot(id);
      try {
        if (slot) await storage.setItem(key, { entry: slot.entry, n: slot.n });
        else await storage.removeItem(key);
      } catch (error) {
        this._o.onStorageError?.(error);
      }
    });
    this._writing = write;
    return write;
  }

  private _saveArray(): Promise<void> {
    if (this._nextWrite) return this._nextWrite;
    const write = this._writing.then(async () => {
      this._nextWrite = null;
      const entries = this.entries;
      try {
        if (entries.length === 0) await this._o.storage.removeItem(this._o.key);
        else await this._o.storage.setItem(this._o.key, entries);
      } catch (error) {
        this._o.onStorageError?.(error);
      }
    });
    this._nextWrite = write;
    this._writing = write;
    return write;
  }
}
