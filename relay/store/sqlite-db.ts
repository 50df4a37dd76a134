/**
 * The SQLite database itself, synchronous (better-sqlite3): schema, statements and the
 * operations of the Store contract. It runs wherever a store puts it: in the commit worker
 * (sqlite-worker.ts, the default, so that the event loop never waits for an fsync) or on the
 * main thread (InlineSqliteStore in sqlite-inline.ts, the old way, kept for the benchmark).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { FileRef, Member, User } from '../../protocol/index.js';
import { advanceCursor } from './cursor.js';
import { messageFromInput, messageFromRow, type MessageRow } from './rows.js';
import { StoreUnavailableError, type AppendInput, type AppendResult, type CursorUpdate, type Page, type StoredMessage } from './types.js';

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE conversations (id TEXT PRIMARY KEY, head INTEGER NOT NULL);
   CREATE TABLE messages (
     conv TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
     sender TEXT NOT NULL, sender_name TEXT NOT NULL,
     text TEXT, file TEXT, ts INTEGER NOT NULL,
     PRIMARY KEY (conv, seq), UNIQUE (conv, id)
   ) WITHOUT ROWID;
   CREATE TABLE members (
     conv TEXT NOT NULL, user TEXT NOT NULL, name TEXT NOT NULL,
     delivered INTEGER NOT NULL DEFAULT 0, read INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (conv, user)
   ) WITHOUT ROWID;`,
];

/** As SQLite returns it: the file reference is JSON text. */
type SqliteMessageRow = Omit<MessageRow, 'file'> & { file: string | null };

interface MemberRow {
  user: string;
  name: string;
  delivered: number;
  read: number;
}

/**
 * SQLite result codes that say the disk, not the request, is the problem (full, I/O error,
 * locked for longer than busy_timeout, read-only): the client gets `unavailable` and retries,
 * as with a PostgreSQL outage, instead of `internal`.
 */
const UNAVAILABLE_CODES = /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CANTOPEN|READONLY|PROTOCOL)/;

export function isDiskError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_CODES.test(code);
}

export function diskErrors<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (isDiskError(error)) {
      throw new StoreUnavailableError(`SQLite: ${(error as { code: string }).code}`, { cause: error });
    }
    throw error;
  }
}

const rowToMessage = (row: SqliteMessageRow): StoredMessage =>
  messageFromRow({ ...row, file: row.file === null ? null : (JSON.parse(row.file) as FileRef) });

const toMember = (row: MemberRow): Member => ({
  id: row.user,
  name: row.name,
  delivered: Number(row.delivered),
  read: Number(row.read),
});

/** An append's outcome without the message, which the caller rebuilds from its own input. */
export type AppendOutcome = { kind: 'stored'; seq: number; ts: number } | { kind: 'duplicate'; seq: number; ts: number } | { kind: 'conflict' };

export function toAppendResult(input: AppendInput, outcome: AppendOutcome): AppendResult {
  return outcome.kind === 'stored' ? { kind: 'stored', message: messageFromInput(input, outcome.seq, outcome.ts) } : outcome;
}

/**
 * The read statements, on any connection: the writer's own, or a read-only connection of
 * the main thread (WAL lets it read committed data while the worker writes and syncs).
 */
export class SqliteReader {
  private readonly _stmts;

  constructor(private readonly _db: Database.Database) {
    this._stmts = {
      range: _db.prepare<[string, number, number], SqliteMessageRow>('SELECT * FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?'),
      before: _db.prepare<[string, number, number], SqliteMessageRow>(
        'SELECT * FROM messages WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      ),
      head: _db.prepare<[string], { head: number }>('SELECT head FROM conversations WHERE id = ?'),
      members: _db.prepare<[string], MemberRow>('SELECT user, name, delivered, read FROM members WHERE conv = ? ORDER BY user'),
    };
  }

  /** A read-only connection to an existing database file (the worker created and migrated it). */
  static open(path: string): SqliteReader {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return new SqliteReader(db);
  }

  range(conv: string, after: number, limit: number): Page {
    const rows = this._stmts.range.all(conv, after, limit + 1);
    return { messages: rows.slice(0, limit).map(rowToMessage), more: rows.length > limit };
  }

  before(conv: string, before: number, limit: number): Page {
    const rows = this._stmts.before.all(conv, before, limit + 1);
    return { messages: rows.slice(0, limit).reverse().map(rowToMessage), more: rows.length > limit };
  }

  head(conv: string): number {
    return Number(this._stmts.head.get(conv)?.head ?? 0);
  }

  members(conv: string): Member[] {
    return this._stmts.members.all(conv).map(toMember);
  }

  close(): void {
    if (this._db.open) this._db.close();
  }
}

export class SqliteDatabase {
  readonly epoch: string;
  private readonly _db: Database.Database;
  private readonly _stmts;
  private readonly _reader: SqliteReader;
  private readonly _begin: Database.Statement;
  private readonly _commit: Database.Statement;
  private readonly _rollback: Database.Statement;

  /** Database file; ':memory:' for a throwaway store. */
  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this._db = new Database(path);
    this._db.pragma('journal_mode = WAL');
    // FULL: an ack promises durability, also across power loss; group commit pays for the fsync.
    this._db.pragma('synchronous = FULL');
    this._db.pragma('busy_timeout = 5000');
    this._migrate();
    const db = this._db;
    this._stmts = {
      findById: db.prepare<[string, string], { seq: number; sender: string; ts: number }>(
        'SELECT seq, sender, ts FROM messages WHERE conv = ? AND id = ?',
      ),
      bumpHead: db.prepare<[string], { head: number }>(
        `INSERT INTO conversations (id, head) VALUES (?, 1)
         ON CONFLICT (id) DO UPDATE SET head = head + 1 RETURNING head`,
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (conv, seq, id, sender, sender_name, text, file, ts)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      member: db.prepare<[string, string], MemberRow>(
        'SELECT user, name, delivered, read FROM members WHERE conv = ? AND user = ?',
      ),
      insertMember: db.prepare('INSERT INTO members (conv, user, name) VALUES (?, ?, ?)'),
      renameMember: db.prepare('UPDATE members SET name = ? WHERE conv = ? AND user = ?'),
      updateCursor: db.prepare('UPDATE members SET delivered = ?, read = ? WHERE conv = ? AND user = ?'),
    };
    this._reader = new SqliteReader(db);
    this._begin = db.prepare('BEGIN IMMEDIATE');
    this._commit = db.prepare('COMMIT');
    this._rollback = db.prepare('ROLLBACK');
    this.epoch = this._loadEpoch();
  }

  private _migrate(): void {
    const version = this._db.pragma('user_version', { simple: true }) as number;
    for (let v = version; v < MIGRATIONS.length; v++) {
      this._db.transaction(() => {
        this._db.exec(MIGRATIONS[v]!);
        this._db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  private _loadEpoch(): string {
    const row = this._db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'epoch'").get();
    if (row) return row.value;
    const epoch = randomUUID();
    this._db.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").run(epoch);
    return epoch;
  }

  get open(): boolean {
    return this._db.open;
  }

  get inTransaction(): boolean {
    return this._db.inTransaction;
  }

  /**
   * Runs `work` in one write transaction (one fsync at COMMIT). Whatever `work` throws rolls
   * it back and is rethrown; a disk error as StoreUnavailableError.
   */
  transaction<T>(work: () => T): T {
    return diskErrors(() => {
      this._begin.run();
      try {
        const result = work();
        this._commit.run();
        return result;
      } catch (error) {
        // A disk error may already have rolled the transaction back.
        if (this._db.inTransaction) this._rollback.run();
        throw error;
      }
    });
  }

  /** One append, inside the caller's transaction. */
  appendOne(input: AppendInput): AppendOutcome {
    const existing = this._stmts.findById.get(input.conv, input.id);
    if (existing) {
      return existing.sender === input.from.id ? { kind: 'duplicate', seq: Number(existing.seq), ts: Number(existing.ts) } : { kind: 'conflict' };
    }
    const { head } = this._stmts.bumpHead.get(input.conv)!;
    this._stmts.insertMessage.run(
      input.conv,
      head,
      input.id,
      input.from.id,
      input.from.name,
      input.text ?? null,
      input.file ? JSON.stringify(input.file) : null,
      input.ts,
    );
    return { kind: 'stored', seq: Number(head), ts: input.ts };
  }

  /** A batch of appends in one transaction. */
  appendBatch(batch: readonly AppendInput[]): AppendResult[] {
    return this.transaction(() => batch.map((input) => toAppendResult(input, this.appendOne(input))));
  }

  range(conv: string, after: number, limit: number): Page {
    return this._reader.range(conv, after, limit);
  }

  before(conv: string, before: number, limit: number): Page {
    return this._reader.before(conv, before, limit);
  }

  head(conv: string): number {
    return this._reader.head(conv);
  }

  /** Inside the caller's transaction. */
  addMember(conv: string, user: User): { member: Member; isNew: boolean } {
    const row = this._stmts.member.get(conv, user.id);
    if (!row) {
      this._stmts.insertMember.run(conv, user.id, user.name);
      return { member: { id: user.id, name: user.name, delivered: 0, read: 0 }, isNew: true };
    }
    if (row.name !== user.name) this._stmts.renameMember.run(user.name, conv, user.id);
    return { member: { ...toMember(row), name: user.name }, isNew: false };
  }

  /** Inside the caller's transaction. */
  setCursor(conv: string, userId: string, update: CursorUpdate): Member | null {
    const row = this._stmts.member.get(conv, userId);
    if (!row) return null;
    const next = advanceCursor(toMember(row), update, this.head(conv));
    if (!next) return null;
    this._stmts.updateCursor.run(next.delivered, next.read, conv, userId);
    return next;
  }

  members(conv: string): Member[] {
    return this._reader.members(conv);
  }

  close(): void {
    if (this._db.open) this._db.close();
  }
}
