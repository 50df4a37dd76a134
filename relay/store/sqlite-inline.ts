/**
 * SQLite committed on the main thread: the store as it was before the commit worker. Group
 * commit batches the appends of one event-loop turn, but the event loop waits for every
 * fsync. Kept for `npm run bench:append`, which measures it against the worker pipeline
 * (SqliteStore), and for tests that want a store without a thread.
 */
import type { Member, User } from '../../protocol/index.js';
import { Batcher } from './batcher.js';
import { diskErrors, SqliteDatabase } from './sqlite-db.js';
import type { AppendInput, AppendResult, CursorUpdate, Page, Store } from './types.js';

export interface InlineSqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. */
  path: string;
  /** Largest number of appends committed in one transaction. */
  maxBatch?: number;
}

export class InlineSqliteStore implements Store {
  private readonly _db: SqliteDatabase;
  private readonly _batcher: Batcher<AppendInput, AppendResult>;

  constructor(options: InlineSqliteStoreOptions) {
    this._db = new SqliteDatabase(options.path);
    this._batcher = new Batcher((batch) => this.appendBatch(batch), options.maxBatch ?? 1000);
  }

  async epoch(): Promise<string> {
    return this._db.epoch;
  }

  append(input: AppendInput): Promise<AppendResult> {
    return this._batcher.add(input);
  }

  /** Appends a batch in one transaction, synchronously. Public for the benchmark. */
  appendBatch(batch: readonly AppendInput[]): AppendResult[] {
    return this._db.appendBatch(batch);
  }

  async range(conv: string, after: number, limit: number): Promise<Page> {
    return diskErrors(() => this._db.range(conv, after, limit));
  }

  async before(conv: string, before: number, limit: number): Promise<Page> {
    return diskErrors(() => this._db.before(conv, before, limit));
  }

  async head(conv: string): Promise<number> {
    return diskErrors(() => this._db.head(conv));
  }

  async addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }> {
    return this._db.transaction(() => this._db.addMember(conv, user));
  }

  async setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null> {
    return this._db.transaction(() => this._db.setCursor(conv, userId, update));
  }

  async members(conv: string): Promise<Member[]> {
    return diskErrors(() => this._db.members(conv));
  }

  async close(): Promise<void> {
    await this._batcher.close();
    this._db.close();
  }
}
