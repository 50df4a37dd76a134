/**
 * SQLite committed on the main thread: the store as it was before the commit worker. Group
 * commit batches the writes of one event-loop turn (in call order, as the worker does), but the
 * event loop waits for every fsync. Kept for `npm run bench:append`, which measures it against
 * the worker pipeline (SqliteStore), and for tests that want a store without a thread.
 */
import type { LogEvent, Member, User } from '../../protocol/index.js';
import { Batcher } from './batcher.js';
import { diskErrors, SqliteDatabase } from './sqlite-db.js';
import { runGroupResults, type Op } from './sqlite-ops.js';
import type {
  AppendInput,
  AppendResult,
  Ban,
  ChangeInput,
  ChangeResult,
  CursorUpdate,
  Page,
  QueuedWebhook,
  Store,
  StoredMessage,
} from './types.js';

export interface InlineSqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. */
  path: string;
  /** Largest number of writes committed in one transaction. */
  maxBatch?: number;
}

export class InlineSqliteStore implements Store {
  private readonly _db: SqliteDatabase;
  private readonly _batcher: Batcher<Op, unknown>;

  constructor(options: InlineSqliteStoreOptions) {
    this._db = new SqliteDatabase(options.path);
    this._batcher = new Batcher((ops) => runGroupResults(this._db, ops), options.maxBatch ?? 1000);
  }

  async epoch(): Promise<string> {
    return this._db.epoch;
  }

  append(input: AppendInput): Promise<AppendResult> {
    return this._batcher.add({ t: 'append', input }) as Promise<AppendResult>;
  }

  /** Appends a batch in one transaction, synchronously. Public for the benchmark. */
  appendBatch(batch: readonly AppendInput[]): AppendResult[] {
    return this._db.appendBatch(batch);
  }

  change(input: ChangeInput): Promise<ChangeResult> {
    return this._write({ t: 'change', input }) as Promise<ChangeResult>;
  }

  async range(conv: string, after: number, limit: number): Promise<Page<LogEvent>> {
    return diskErrors(() => this._db.range(conv, after, limit));
  }

  async before(conv: string, before: number, limit: number): Promise<Page> {
    return diskErrors(() => this._db.before(conv, before, limit));
  }

  async message(conv: string, id: string): Promise<StoredMessage | null> {
    return diskErrors(() => this._db.message(conv, id));
  }

  async head(conv: string): Promise<number> {
    return diskErrors(() => this._db.head(conv));
  }

  addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }> {
    return this._write({ t: 'addMember', conv, user }) as Promise<{ member: Member; isNew: boolean }>;
  }

  setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null> {
    return this._write({ t: 'setCursor', conv, userId, update }) as Promise<Member | null>;
  }

  async members(conv: string): Promise<Member[]> {
    return diskErrors(() => this._db.members(conv, Date.now()));
  }

  setSeen(conv: string, userId: string, ts: number): Promise<void> {
    return this._write({ t: 'setSeen', conv, userId, ts }) as Promise<void>;
  }

  ban(ban: Ban): Promise<void> {
    return this._write({ t: 'ban', ban }) as Promise<void>;
  }

  unban(conv: string, userId: string): Promise<boolean> {
    return this._write({ t: 'unban', conv, userId }) as Promise<boolean>;
  }

  async banOf(conv: string, userId: string, now: number): Promise<Ban | null> {
    return diskErrors(() => this._db.banOf(conv, userId, now));
  }

  enableWebhooks(): void {
    // Nothing is written outside the batcher, so flipping it now covers every later write.
    this._db.enableWebhooks();
  }

  claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<QueuedWebhook[]> {
    return this._write({ t: 'claim', owner, now, leaseMs, limit }) as Promise<QueuedWebhook[]>;
  }

  completeWebhook(id: string, owner: string): Promise<void> {
    return this._write({ t: 'complete', id, owner }) as Promise<void>;
  }

  failWebhook(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    return this._write({ t: 'fail', id, owner, retryAt, error }) as Promise<void>;
  }

  async webhookBacklog(): Promise<number> {
    return diskErrors(() => this._db.webhookBacklog());
  }

  async close(): Promise<void> {
    await this._batcher.close();
    this._db.close();
  }

  /** Every write settles straight from the batcher, so writes settle in call order (acks go out in order). */
  private _write(op: Op): Promise<unknown> {
    return this._batcher.add(op);
  }
}
