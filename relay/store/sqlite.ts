/**
 * The default store: embedded SQLite (better-sqlite3) in WAL mode. better-sqlite3 is
 * synchronous, which suits a single relay process well: a transaction of a whole batch of
 * appends takes microseconds plus one fsync, and nothing else can interleave with it.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { FileRef, Member, User } from '../../protocol/index.js';
import { Batcher } from './batcher.js';
import { advanceCursor } from './cursor.js';
import { messageFromInput, messageFromRow, type MessageRow } from './rows.js';
import { StoreUnavailableError, type AppendInput, type AppendResult, type CursorUpdate, type Page, type Store, type StoredMessage } from './types.js';

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

function diskErrors<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
      throw new StoreUnavailableError(`SQLite: ${code}`, { cause: error });
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

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. */
  path: string;
  /** Largest number of appends committed in one transaction. */
  maxBatch?: number;
}

export class SqliteStore implements Store {
  private readonly _db: Database.Database;
  private readonly _epoch: string;
  private readonly _batcher: Batcher<AppendInput, AppendResult>;
  private readonly _stmts;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this._db = new Database(options.path);
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
         VALUES (@conv, @seq, @id, @sender, @sender_name, @text, @file, @ts)`,
      ),
      range: db.prepare<[string, number, number], SqliteMessageRow>(
        'SELECT * FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      before: db.prepare<[string, number, number], SqliteMessageRow>(
        'SELECT * FROM messages WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
      ),
      head: db.prepare<[string], { head: number }>('SELECT head FROM conversations WHERE id = ?'),
      member: db.prepare<[string, string], MemberRow>(
        'SELECT user, name, delivered, read FROM members WHERE conv = ? AND user = ?',
      ),
      insertMember: db.prepare('INSERT INTO members (conv, user, name) VALUES (?, ?, ?)'),
      renameMember: db.prepare('UPDATE members SET name = ? WHERE conv = ? AND user = ?'),
      updateCursor: db.prepare('UPDATE members SET delivered = ?, read = ? WHERE conv = ? AND user = ?'),
      members: db.prepare<[string], MemberRow>(
        'SELECT user, name, delivered, read FROM members WHERE conv = ? ORDER BY user',
      ),
    };
    this._epoch = this._loadEpoch();
    this._batcher = new Batcher((batch) => this.appendBatch(batch), options.maxBatch ?? 1000);
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

  async epoch(): Promise<string> {
    return this._epoch;
  }

  append(input: AppendInput): Promise<AppendResult> {
    return this._batcher.add(input);
  }

  /** Appends a batch in one transaction. Public for the group-commit benchmark. */
  appendBatch(batch: readonly AppendInput[]): AppendResult[] {
    return diskErrors(() => this._appendBatch(batch));
  }

  private _appendBatch(batch: readonly AppendInput[]): AppendResult[] {
    return this._db.transaction((items: readonly AppendInput[]) =>
      items.map((input): AppendResult => {
        const existing = this._stmts.findById.get(input.conv, input.id);
        if (existing) {
          return existing.sender === input.from.id
            ? { kind: 'duplicate', seq: Number(existing.seq), ts: Number(existing.ts) }
            : { kind: 'conflict' };
        }
        const { head } = this._stmts.bumpHead.get(input.conv)!;
        this._stmts.insertMessage.run({
          conv: input.conv,
          seq: head,
          id: input.id,
          sender: input.from.id,
          sender_name: input.from.name,
          text: input.text ?? null,
          file: input.file ? JSON.stringify(input.file) : null,
          ts: input.ts,
        });
        return { kind: 'stored', message: messageFromInput(input, head, input.ts) };
      }),
    )(batch);
  }

  async range(conv: string, after: number, limit: number): Promise<Page> {
    const rows = this._stmts.range.all(conv, after, limit + 1);
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).map(rowToMessage), more };
  }

  async before(conv: string, before: number, limit: number): Promise<Page> {
    const rows = this._stmts.before.all(conv, before, limit + 1);
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(rowToMessage), more };
  }

  async head(conv: string): Promise<number> {
    return Number(this._stmts.head.get(conv)?.head ?? 0);
  }

  async addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }> {
    return diskErrors(this._db.transaction(() => {
      const row = this._stmts.member.get(conv, user.id);
      if (!row) {
        this._stmts.insertMember.run(conv, user.id, user.name);
        return { member: { id: user.id, name: user.name, delivered: 0, read: 0 }, isNew: true };
      }
      if (row.name !== user.name) this._stmts.renameMember.run(user.name, conv, user.id);
      return { member: { ...toMember(row), name: user.name }, isNew: false };
    }));
  }

  async setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null> {
    return diskErrors(this._db.transaction((): Member | null => {
      const row = this._stmts.member.get(conv, userId);
      if (!row) return null;
      const head = Number(this._stmts.head.get(conv)?.head ?? 0);
      const next = advanceCursor(toMember(row), update, head);
      if (!next) return null;
      this._stmts.updateCursor.run(next.delivered, next.read, conv, userId);
      return next;
    }));
  }

  async members(conv: string): Promise<Member[]> {
    return this._stmts.members.all(conv).map(toMember);
  }

  async close(): Promise<void> {
    await this._batcher.close();
    if (this._db.open) this._db.close();
  }
}
