/**
 * The outbox: own messages not yet acknowledged by the relay. Each is written to storage
 * BEFORE its first send, so a message typed offline or lost with a crashed tab is sent on
 * the next visit; it is resent with the same id (the relay deduplicates by id) until the
 * relay acks it. Sending itself is the client's job: the outbox decides what may go next.
 */
import * as v from 'valibot';
import { FileRef, Id } from '../../protocol/index.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import type { Clock } from './clock.js';
import { ClientErrorCode, type ChatError } from './errors.js';
import type { KeyValueStorage } from './types.js';

const StoredEntry = v.object({
  id: Id,
  conv: Id,
  text: v.optional(v.string()),
  file: v.optional(FileRef),
  ts: v.number(),
  /** Set once the relay refused the message for good (a code; older versions stored text, read as `internal`). */
  error: v.optional(
    v.union([
      v.object({ code: v.string(), params: v.optional(v.record(v.string(), v.union([v.string(), v.number()]))) }),
      v.pipe(v.string(), v.transform((): ChatError => ({ code: ClientErrorCode.internal }))),
    ]),
  ),
});
export type OutboxEntry = v.InferOutput<typeof StoredEntry>;
const StoredOutbox = v.array(StoredEntry);

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

  /** Reads what earlier visits left behind; those come before anything added since construction. */
  async load(): Promise<void> {
    let stored: unknown;
    try {
      stored = await this._o.storage.getItem<unknown>(this._o.key);
    } catch (error) {
      this._o.onStorageError?.(error);
      return;
    }
    const parsed = v.safeParse(StoredOutbox, stored ?? []);
    if (!parsed.success) return;
    const loaded = parsed.output
      .filter((entry) => !this.has(entry.id))
      .map((entry): Slot => ({ entry, flow: entry.error ? Flow.failed : Flow.queued, attempts: 0, retryAt: 0 }));
    this._slots.unshift(...loaded);
  }

  /** Adds a message; resolves once it is in storage, and only then is it handed out to send. */
  async add(entry: OutboxEntry): Promise<void> {
    const slot: Slot = { entry, flow: entry.error ? Flow.failed : Flow.persisting, attempts: 0, retryAt: 0 };
    this._slots.push(slot);
    await this._save();
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
    for (const slot of this._slots) {
      if (inFlight >= this._window) break;
      if (slot.flow === Flow.failed || slot.flow === Flow.inFlight) continue;
      if (slot.flow === Flow.persisting) break;
      if (slot.flow === Flow.waiting && slot.retryAt > now) break;
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
    void this._save();
    return slot!.entry;
  }

  /** A retryable error (rate limited, relay busy): send again after a backoff. */
  retryLater(id: string): void {
    const slot = this._slot(id);
    if (!slot || slot.flow === Flow.failed) return;
    slot.retryAt = this._o.clock.now() + backoffDelay(slot.attempts - 1, this._o.backoff);
    this._setFlow(slot, Flow.waiting);
  }

  /** The relay refused it for good; kept (and saved) so the user can retry or discard it. */
  fail(id: string, error: ChatError): void {
    const slot = this._slot(id);
    if (!slot) return;
    slot.entry = { ...slot.entry, error };
    this._setFlow(slot, Flow.failed);
    void this._save();
  }

  /** The user asked to send a failed message again (same id). */
  retry(id: string): boolean {
    const slot = this._slot(id);
    if (!slot || slot.flow !== Flow.failed) return false;
    const { error: _dropped, ...entry } = slot.entry;
    slot.entry = entry;
    slot.attempts = 0;
    this._setFlow(slot, Flow.queued);
    void this._save();
    return true;
  }

  discard(id: string): boolean {
    const index = this._slots.findIndex((s) => s.entry.id === id);
    if (index < 0) return false;
    this._slots.splice(index, 1);
    void this._save();
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

  /** Writes are serialized and coalesced: changes made while one write runs share the next. */
  private _save(): Promise<void> {
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
