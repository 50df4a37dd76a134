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
import type { FileRef, LogEvent, Member, QuotedMessage, UpdateFrame, User, WebhookEvent, WebhookEventType } from '../../protocol/index.js';
import { decideChange } from './changes.js';
import { advanceCursor } from './cursor.js';
import {
  memberFromRow,
  messageFromInput,
  messageFromRow,
  quoteFromRow,
  updateFrame,
  updateFromRow,
  webhookLogId,
  webhookMemberId,
  type MemberRow,
  type MessageRow,
  type ReactionPairs,
  type UpdateRow,
} from './rows.js';
import {
  StoreUnavailableError,
  type AppendInput,
  type AppendResult,
  type Ban,
  type ChangeInput,
  type ChangeResult,
  type CursorUpdate,
  type Page,
  type QueuedWebhook,
  type StoredMessage,
} from './types.js';

/**
 * Versioned with `PRAGMA user_version`, applied in order at open, each in its own transaction.
 * Never edit a released entry: add one. Version 1 is the v1.0 schema (databases created before
 * v1.1 are at 1 and get 2 when a v1.1 relay opens them).
 */
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
  // v1.1: the log of changes (updates share the head with messages), the materialised current
  // state of each message, members' since/seen, bans, and the durable webhook queue. `is_head`
  // marks the oldest queued event of each conversation, the only one that may be claimed, so a
  // claim reads an index of due heads instead of grouping the whole queue.
  `ALTER TABLE messages ADD COLUMN edited INTEGER;
   ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE messages ADD COLUMN reactions TEXT;
   ALTER TABLE messages ADD COLUMN reply_seq INTEGER;
   ALTER TABLE messages ADD COLUMN rev INTEGER;
   CREATE TABLE updates (
     conv TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
     by_id TEXT NOT NULL, by_name TEXT NOT NULL, ts INTEGER NOT NULL,
     kind TEXT NOT NULL, text TEXT, emoji TEXT, on_ INTEGER,
     PRIMARY KEY (conv, seq)
   ) WITHOUT ROWID;
   ALTER TABLE members ADD COLUMN since INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE members ADD COLUMN seen INTEGER;
   CREATE TABLE bans (
     conv TEXT NOT NULL, user TEXT NOT NULL, until INTEGER,
     PRIMARY KEY (conv, user)
   ) WITHOUT ROWID;
   CREATE TABLE webhooks (
     qid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, conv TEXT NOT NULL, body TEXT NOT NULL,
     is_head INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0,
     lease_owner TEXT, lease_until INTEGER, last_error TEXT
   );
   CREATE INDEX webhooks_conv ON webhooks (conv, qid);
   CREATE INDEX webhooks_due ON webhooks (next_attempt_at, qid) WHERE is_head = 1;`,
];

/** The schema version this code migrates to. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Pages in the WAL before a commit also checkpoints them into the database file (SQLite's
 * default is 1,000). A checkpoint reads every distinct page of the WAL back and writes it
 * once; the hot pages of a busy store (each conversation's newest leaf of `messages` and of
 * its id index) are rewritten in the WAL by every commit, so a longer WAL copies each of them
 * once per checkpoint instead of once per ~300 messages. Measured in loadtest/README.md (issue
 * #10, part 4): 20,000 appends in commits of 8 over 200 conversations, 1,000 -> 10,000 pages:
 * pread64 per append 1.5 -> 0.24, pwrite64 8.2 -> 7.0, checkpoint fsyncs ~200 -> ~30.
 * The WAL then stays under ~40 MiB (10,000 pages of 4 KiB plus frame headers).
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/**
 * A WAL that grew past this (a checkpoint held back by a long read) is truncated back to it
 * once checkpointed, so the file does not keep its largest size for ever.
 */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** Longest failure text kept with a queued webhook. */
const MAX_ERROR_CHARS = 1000;

/** As SQLite returns them: file references and reactions are JSON text, flags 0/1. */
type SqliteMessageRow = Omit<MessageRow, 'file' | 'q_file' | 'reactions'> & {
  file: string | null;
  q_file?: string | null;
  reactions?: string | null;
};

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

const parseJson = <T>(text: string | null | undefined): T | null => (text == null ? null : (JSON.parse(text) as T));

/** The message columns, without the quote (most messages quote nothing: their quote is looked up apart). */
const MESSAGE_COLUMNS = 'conv, seq, id, sender, sender_name, text, file, ts, edited, deleted, reactions, reply_seq, rev';
const QUOTE_COLUMNS = 'id AS q_id, sender AS q_sender, sender_name AS q_sender_name, text AS q_text, file AS q_file, deleted AS q_deleted';
type SqliteQuoteRow = Pick<SqliteMessageRow, 'q_id' | 'q_sender' | 'q_sender_name' | 'q_text' | 'q_file' | 'q_deleted'>;

/** JSON text to values, in place (the row is ours: better-sqlite3 made it for this call). */
function toMessage(row: SqliteMessageRow, quote: SqliteQuoteRow | undefined): StoredMessage {
  const parsed = row as unknown as MessageRow;
  parsed.file = parseJson<FileRef>(row.file);
  parsed.reactions = parseJson<ReactionPairs>(row.reactions);
  if (quote) Object.assign(parsed, quote, { q_file: parseJson<FileRef>(quote.q_file) });
  return messageFromRow(parsed);
}

const toUpdate = (row: UpdateRow): UpdateFrame => updateFromRow(row);

/** An append's outcome without the message, which the caller rebuilds from its own input. */
export type AppendOutcome =
  | { kind: 'stored'; seq: number; ts: number; reply?: QuotedMessage }
  | { kind: 'duplicate'; seq: number; ts: number }
  | { kind: 'conflict' }
  | { kind: 'reply_not_found' };

export function toAppendResult(input: AppendInput, outcome: AppendOutcome): AppendResult {
  return outcome.kind === 'stored' ? { kind: 'stored', message: messageFromInput(input, outcome.seq, outcome.ts, outcome.reply) } : outcome;
}

/**
 * The read statements, on any connection: the writer's own, or a read-only connection of
 * the main thread (WAL lets it read committed data while the worker writes and syncs).
 */
export class SqliteReader {
  private readonly _stmts;

  /** Runs reads in one read transaction: one snapshot, so no update goes missing between two messages. */
  private readonly _snapshot: <T>(work: () => T) => T;

  constructor(private readonly _db: Database.Database) {
    this._stmts = {
      range: _db.prepare<[string, number, number], SqliteMessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ),
      rangeUpdates: _db.prepare<[string, number, number], UpdateRow>(
        'SELECT conv, seq, id, by_id, by_name, ts, kind, text, emoji, on_ FROM updates WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      before: _db.prepare<[string, number, number], SqliteMessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
      ),
      quote: _db.prepare<[string, number], SqliteQuoteRow>(`SELECT ${QUOTE_COLUMNS} FROM messages WHERE conv = ? AND seq = ?`),
      byId: _db.prepare<[string, string], SqliteMessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND id = ?`),
      bySeq: _db.prepare<[string, number], SqliteMessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq = ?`),
      head: _db.prepare<[string], { head: number }>('SELECT head FROM conversations WHERE id = ?'),
      members: _db.prepare<[number, string], MemberRow>(
        `SELECT mb.user, mb.name, mb.delivered, mb.read, mb.since, mb.seen, b.user IS NOT NULL AS banned
         FROM members AS mb LEFT JOIN bans AS b ON b.conv = mb.conv AND b.user = mb.user AND (b.until IS NULL OR b.until > ?)
         WHERE mb.conv = ? ORDER BY mb.user`,
      ),
      banOf: _db.prepare<[string, string, number], { until: number | null }>(
        'SELECT until FROM bans WHERE conv = ? AND user = ? AND (until IS NULL OR until > ?)',
      ),
      backlog: _db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM webhooks'),
    };
    const snapshot = _db.transaction((work: () => unknown) => work());
    this._snapshot = <T>(work: () => T) => snapshot(work) as T;
  }

  /** A read-only connection to an existing database file (the worker created and migrated it). */
  static open(path: string): SqliteReader {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return new SqliteReader(db);
  }

  range(conv: string, after: number, limit: number): Page<LogEvent> {
    const [messages, updates] = this._snapshot(() => {
      const found = this._stmts.range.all(conv, after, limit + 1);
      return [found.map((row) => this._message(row)), this._stmts.rangeUpdates.all(conv, after, limit + 1)] as const;
    });
    // Both ascending: merge them and keep the first limit + 1 (one more tells `more`).
    const events: LogEvent[] = [];
    let m = 0;
    let u = 0;
    while (events.length <= limit && (m < messages.length || u < updates.length)) {
      const update = updates[u];
      if (m < messages.length && (update === undefined || messages[m]!.seq < Number(update.seq))) events.push(messages[m++]!);
      else events.push(toUpdate(updates[u++]!));
    }
    const more = events.length > limit;
    if (more) events.length = limit;
    return { messages: events, more };
  }

  before(conv: string, before: number, limit: number): Page {
    const [rows, messages] = this._snapshot(() => {
      const found = this._stmts.before.all(conv, before, limit + 1);
      return [found.length, found.slice(0, limit).reverse().map((row) => this._message(row))] as const;
    });
    return { messages, more: rows > limit };
  }

  message(conv: string, id: string): StoredMessage | null {
    return this._snapshot(() => {
      const row = this._stmts.byId.get(conv, id);
      return row ? this._message(row) : null;
    });
  }

  messageAt(conv: string, seq: number): StoredMessage | null {
    const row = this._stmts.bySeq.get(conv, seq);
    return row ? this._message(row) : null;
  }

  head(conv: string): number {
    return Number(this._stmts.head.get(conv)?.head ?? 0);
  }

  members(conv: string, now: number): Member[] {
    return this._stmts.members.all(now, conv).map(memberFromRow);
  }

  banOf(conv: string, user: string, now: number): Ban | null {
    const row = this._stmts.banOf.get(conv, user, now);
    if (!row) return null;
    return row.until === null ? { conv, user } : { conv, user, until: Number(row.until) };
  }

  webhookBacklog(): number {
    return Number(this._stmts.backlog.get()?.n ?? 0);
  }

  close(): void {
    if (this._db.open) this._db.close();
  }

  /** A message row with its quote looked up (in the caller's snapshot). */
  private _message(row: SqliteMessageRow): StoredMessage {
    return toMessage(row, row.reply_seq == null ? undefined : this._stmts.quote.get(row.conv, Number(row.reply_seq)));
  }
}

interface StateRow {
  seq: number;
  sender: string;
  text: string | null;
  deleted: number;
  reactions: string | null;
  rev: number | null;
  ts: number;
}

export class SqliteDatabase {
  readonly epoch: string;
  private readonly _db: Database.Database;
  private readonly _stmts;
  private readonly _reader: SqliteReader;
  private readonly _begin: Database.Statement;
  private readonly _commit: Database.Statement;
  private readonly _rollback: Database.Statement;
  private _webhooks = false;

  /** Database file; ':memory:' for a throwaway store. */
  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this._db = new Database(path);
    this._db.pragma('journal_mode = WAL');
    // FULL: an ack promises durability, also across power loss; group commit pays for the fsync.
    this._db.pragma('synchronous = FULL');
    this._db.pragma('busy_timeout = 5000');
    this._db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    this._db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    this._migrate();
    const db = this._db;
    this._stmts = {
      findById: db.prepare<[string, string], { seq: number; sender: string; ts: number }>(
        'SELECT seq, sender, ts FROM messages WHERE conv = ? AND id = ?',
      ),
      quoteById: db.prepare<[string, string], { reply_seq: number; q_id: string; q_sender: string; q_sender_name: string; q_text: string | null; q_file: string | null; q_deleted: number }>(
        `SELECT seq AS reply_seq, id AS q_id, sender AS q_sender, sender_name AS q_sender_name, text AS q_text, file AS q_file, deleted AS q_deleted
         FROM messages WHERE conv = ? AND id = ?`,
      ),
      bumpHead: db.prepare<[string], { head: number }>(
        `INSERT INTO conversations (id, head) VALUES (?, 1)
         ON CONFLICT (id) DO UPDATE SET head = head + 1 RETURNING head`,
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (conv, seq, id, sender, sender_name, text, file, ts, reply_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      state: db.prepare<[string, string], StateRow>('SELECT seq, sender, text, deleted, reactions, rev, ts FROM messages WHERE conv = ? AND id = ?'),
      updateTs: db.prepare<[string, number], { ts: number }>('SELECT ts FROM updates WHERE conv = ? AND seq = ?'),
      insertUpdate: db.prepare(
        'INSERT INTO updates (conv, seq, id, by_id, by_name, ts, kind, text, emoji, on_) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      applyEdit: db.prepare('UPDATE messages SET text = ?, edited = ?, rev = ? WHERE conv = ? AND seq = ?'),
      applyDelete: db.prepare('UPDATE messages SET text = NULL, file = NULL, deleted = 1, rev = ? WHERE conv = ? AND seq = ?'),
      applyReact: db.prepare('UPDATE messages SET reactions = ?, rev = ? WHERE conv = ? AND seq = ?'),
      member: db.prepare<[string, string], MemberRow>(
        'SELECT user, name, delivered, read, since, seen FROM members WHERE conv = ? AND user = ?',
      ),
      insertMember: db.prepare('INSERT INTO members (conv, user, name, since) VALUES (?, ?, ?, ?)'),
      renameMember: db.prepare('UPDATE members SET name = ? WHERE conv = ? AND user = ?'),
      updateCursor: db.prepare('UPDATE members SET delivered = ?, read = ? WHERE conv = ? AND user = ?'),
      setSeen: db.prepare('UPDATE members SET seen = ? WHERE conv = ? AND user = ? AND (seen IS NULL OR seen < ?)'),
      ban: db.prepare('INSERT INTO bans (conv, user, until) VALUES (?, ?, ?) ON CONFLICT (conv, user) DO UPDATE SET until = excluded.until'),
      unban: db.prepare('DELETE FROM bans WHERE conv = ? AND user = ?'),
      queuedFor: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM webhooks WHERE conv = ? LIMIT 1'),
      enqueue: db.prepare('INSERT OR IGNORE INTO webhooks (id, conv, body, is_head) VALUES (?, ?, ?, ?)'),
      due: db.prepare<[number, number, number], { qid: number; id: string; body: string; attempts: number }>(
        `SELECT qid, id, body, attempts FROM webhooks
         WHERE is_head = 1 AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
         ORDER BY next_attempt_at, qid LIMIT ?`,
      ),
      lease: db.prepare('UPDATE webhooks SET lease_owner = ?, lease_until = ? WHERE qid = ?'),
      queued: db.prepare<[string], { qid: number; conv: string; lease_owner: string | null }>('SELECT qid, conv, lease_owner FROM webhooks WHERE id = ?'),
      dequeue: db.prepare('DELETE FROM webhooks WHERE qid = ?'),
      promote: db.prepare('UPDATE webhooks SET is_head = 1 WHERE qid = (SELECT MIN(qid) FROM webhooks WHERE conv = ?)'),
      retry: db.prepare(
        `UPDATE webhooks SET attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, next_attempt_at = ?, last_error = ?
         WHERE id = ? AND lease_owner = ?`,
      ),
    };
    this._reader = new SqliteReader(db);
    this._begin = db.prepare('BEGIN IMMEDIATE');
    this._commit = db.prepare('COMMIT');
    this._rollback = db.prepare('ROLLBACK');
    this.epoch = this._loadEpoch();
  }

  private _migrate(): void {
    const version = this._db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) throw new Error(`the database has schema version ${version}; this relay knows up to ${MIGRATIONS.length}`);
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

  /** From now on every stored event is also queued as a webhook event, in its own transaction. */
  enableWebhooks(): void {
    this._webhooks = true;
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
    let reply: QuotedMessage | undefined;
    let replySeq: number | null = null;
    if (input.reply !== undefined) {
      const quoted = this._stmts.quoteById.get(input.conv, input.reply);
      if (!quoted) return { kind: 'reply_not_found' };
      replySeq = Number(quoted.reply_seq);
      reply = quoteFromRow({ ...quoted, q_file: parseJson<FileRef>(quoted.q_file) }, replySeq);
    }
    const { head } = this._stmts.bumpHead.get(input.conv)!;
    const seq = Number(head);
    this._stmts.insertMessage.run(
      input.conv,
      seq,
      input.id,
      input.from.id,
      input.from.name,
      input.text ?? null,
      input.file ? JSON.stringify(input.file) : null,
      input.ts,
      replySeq,
    );
    if (this._webhooks) {
      this._enqueue(webhookLogId(this.epoch, input.conv, seq), input.conv, 'message.created', input.ts, messageFromInput(input, seq, input.ts, reply));
    }
    return reply ? { kind: 'stored', seq, ts: input.ts, reply } : { kind: 'stored', seq, ts: input.ts };
  }

  /** A batch of appends in one transaction. */
  appendBatch(batch: readonly AppendInput[]): AppendResult[] {
    return this.transaction(() => batch.map((input) => toAppendResult(input, this.appendOne(input))));
  }

  /** One edit, delete or reaction, inside the caller's transaction (the checks see what the batch wrote before it). */
  change(input: ChangeInput): ChangeResult {
    const row = this._stmts.state.get(input.conv, input.id);
    if (!row) return { kind: 'not_found' };
    const decision = decideChange(
      { sender: row.sender, text: row.text, deleted: row.deleted === 1, reactions: parseJson<ReactionPairs>(row.reactions) },
      input,
    );
    if (decision.kind === 'unchanged') {
      if (row.rev === null) return { kind: 'unchanged', seq: Number(row.seq), ts: Number(row.ts) };
      const rev = Number(row.rev);
      return { kind: 'unchanged', seq: rev, ts: Number(this._stmts.updateTs.get(input.conv, rev)?.ts ?? row.ts) };
    }
    if (decision.kind !== 'apply') return decision;
    const { change, conv } = input;
    const seq = Number(this._stmts.bumpHead.get(conv)!.head);
    this._stmts.insertUpdate.run(
      conv,
      seq,
      input.id,
      input.by.id,
      input.by.name,
      input.ts,
      change.kind,
      change.kind === 'edit' ? change.text : null,
      change.kind === 'react' ? change.emoji : null,
      change.kind === 'react' ? Number(change.on) : null,
    );
    if (change.kind === 'edit') this._stmts.applyEdit.run(change.text, input.ts, seq, conv, row.seq);
    else if (change.kind === 'delete') this._stmts.applyDelete.run(seq, conv, row.seq);
    else this._stmts.applyReact.run(decision.reactions ? JSON.stringify(decision.reactions) : null, seq, conv, row.seq);
    const message = this._reader.messageAt(conv, Number(row.seq))!;
    if (this._webhooks) {
      this._enqueue(webhookLogId(this.epoch, conv, seq), conv, change.kind === 'delete' ? 'message.deleted' : 'message.updated', input.ts, message);
    }
    return { kind: 'stored', update: updateFrame(conv, seq, input.id, input.by, input.ts, change), message };
  }

  range(conv: string, after: number, limit: number): Page<LogEvent> {
    return this._reader.range(conv, after, limit);
  }

  before(conv: string, before: number, limit: number): Page {
    return this._reader.before(conv, before, limit);
  }

  message(conv: string, id: string): StoredMessage | null {
    return this._reader.message(conv, id);
  }

  head(conv: string): number {
    return this._reader.head(conv);
  }

  /** Inside the caller's transaction. */
  addMember(conv: string, user: User): { member: Member; isNew: boolean } {
    const row = this._stmts.member.get(conv, user.id);
    if (!row) {
      const since = this.head(conv);
      this._stmts.insertMember.run(conv, user.id, user.name, since);
      const member: Member = { id: user.id, name: user.name, delivered: 0, read: 0, since };
      if (this._webhooks) this._enqueue(webhookMemberId(this.epoch, conv, user.id), conv, 'member.joined', Date.now(), member);
      return { member, isNew: true };
    }
    if (row.name !== user.name) this._stmts.renameMember.run(user.name, conv, user.id);
    return { member: { ...memberFromRow(row), name: user.name }, isNew: false };
  }

  /** Inside the caller's transaction. */
  setCursor(conv: string, userId: string, update: CursorUpdate): Member | null {
    const row = this._stmts.member.get(conv, userId);
    if (!row) return null;
    const next = advanceCursor(memberFromRow(row), update, this.head(conv));
    if (!next) return null;
    this._stmts.updateCursor.run(next.delivered, next.read, conv, userId);
    return next;
  }

  members(conv: string, now: number): Member[] {
    return this._reader.members(conv, now);
  }

  /** Inside the caller's transaction. */
  setSeen(conv: string, userId: string, ts: number): void {
    this._stmts.setSeen.run(ts, conv, userId, ts);
  }

  /** Inside the caller's transaction. */
  ban(ban: Ban): void {
    this._stmts.ban.run(ban.conv, ban.user, ban.until ?? null);
  }

  /** Inside the caller's transaction. */
  unban(conv: string, userId: string): boolean {
    return this._stmts.unban.run(conv, userId).changes > 0;
  }

  banOf(conv: string, userId: string, now: number): Ban | null {
    return this._reader.banOf(conv, userId, now);
  }

  /** Inside the caller's transaction (one writer, so no two claims overlap). */
  claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): QueuedWebhook[] {
    const rows = this._stmts.due.all(now, now, limit);
    for (const row of rows) this._stmts.lease.run(owner, now + leaseMs, row.qid);
    return rows.map((row) => ({ id: row.id, event: JSON.parse(row.body) as WebhookEvent, attempts: Number(row.attempts) }));
  }

  /** Inside the caller's transaction. */
  completeWebhook(id: string, owner: string): void {
    const row = this._stmts.queued.get(id);
    if (!row || row.lease_owner !== owner) return;
    this._stmts.dequeue.run(row.qid);
    this._stmts.promote.run(row.conv);
  }

  /** Inside the caller's transaction. */
  failWebhook(id: string, owner: string, retryAt: number, error: string): void {
    this._stmts.retry.run(retryAt, error.slice(0, MAX_ERROR_CHARS), id, owner);
  }

  webhookBacklog(): number {
    return this._reader.webhookBacklog();
  }

  close(): void {
    if (this._db.open) this._db.close();
  }

  /** Queues an event behind the conversation's earlier ones (it is the head when there are none). */
  private _enqueue(id: string, conv: string, type: WebhookEventType, ts: number, data: WebhookEvent['data']): void {
    const event: WebhookEvent = { id, type, conv, ts, data };
    const isHead = this._stmts.queuedFor.get(conv) === undefined ? 1 : 0;
    this._stmts.enqueue.run(id, conv, JSON.stringify(event), isHead);
  }
}
