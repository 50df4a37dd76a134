/**
 * The shared store for several relay instances: PostgreSQL through the `postgres` package.
 *
 * Sequencing across instances: a conversation's `head` row is the only source of seqs, and
 * every append locks it before it reads or writes anything of that conversation, so two
 * instances can never hand out the same seq and a retried id is always seen as a duplicate.
 * Group commit, pipelined as in the SQLite store: the appends that arrive while one batch
 * is being committed go to the server, the moment it answers, as ONE statement — a call of
 * the `chat_append` function with the whole batch as JSON — which is one round trip and one
 * implicit transaction (one WAL flush), however many messages it carries. One batch is in
 * flight at a time, so seqs follow call order. Nothing here blocks the event loop: the
 * driver is asynchronous, and reads go through the pool alongside.
 *
 * Availability: when the server cannot be reached every operation rejects with
 * StoreUnavailableError (the hub answers `unavailable`, clients retry); the pool reconnects
 * by itself on the next operation once the server is back.
 */
import postgres from 'postgres';
import type { Member, User } from '../../protocol/index.js';
import { Batcher } from './batcher.js';
import { messageFromInput, messageFromRow, type MessageRow } from './rows.js';
import { advanceCursor } from './cursor.js';
import { StoreUnavailableError, type AppendInput, type AppendResult, type CursorUpdate, type Page, type Store } from './types.js';

type Sql = postgres.Sql<Record<string, never>>;

/**
 * Versioned migrations, applied in order, each once, in one transaction under an advisory
 * lock (so relays starting together neither race nor apply anything twice). Never edit a
 * released entry: add a new one. Identifier columns use the "C" collation so ordering
 * matches SQLite's (byte order) whatever the database's locale.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE chat_meta (key text PRIMARY KEY, value text NOT NULL);
      INSERT INTO chat_meta (key, value) VALUES ('epoch', gen_random_uuid()::text);
      CREATE TABLE chat_conversations (
        id text COLLATE "C" PRIMARY KEY,
        head bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE chat_messages (
        conv text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        sender text COLLATE "C" NOT NULL,
        sender_name text NOT NULL,
        text text,
        file jsonb,
        ts bigint NOT NULL,
        PRIMARY KEY (conv, seq),
        UNIQUE (conv, id)
      );
      CREATE TABLE chat_members (
        conv text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        delivered bigint NOT NULL DEFAULT 0,
        read bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (conv, user_id)
      );
      -- One call appends a whole batch (JSON array of {conv,id,sender,name,text?,file?,ts})
      -- and returns one row per item, in order. It first locks every conversation of the
      -- batch in one fixed order (no deadlock between instances); after that, whoever
      -- appended to them before us has committed, and because a VOLATILE function takes a
      -- fresh snapshot per statement, the duplicate check below sees their rows.
      CREATE FUNCTION chat_append(batch jsonb)
      RETURNS TABLE (r_kind text, r_seq bigint, r_ts bigint)
      LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        item jsonb;
        prior record;
        next_seq bigint;
      BEGIN
        INSERT INTO chat_conversations AS c (id)
          SELECT DISTINCT e->>'conv' FROM jsonb_array_elements(batch) AS e ORDER BY 1
          ON CONFLICT (id) DO NOTHING;
        PERFORM 1 FROM chat_conversations AS c
          WHERE c.id IN (SELECT e->>'conv' FROM jsonb_array_elements(batch) AS e)
          ORDER BY c.id FOR UPDATE;
        FOR item IN SELECT e FROM jsonb_array_elements(batch) AS e LOOP
          SELECT m.seq, m.sender, m.ts INTO prior
            FROM chat_messages AS m WHERE m.conv = item->>'conv' AND m.id = item->>'id';
          IF FOUND THEN
            IF prior.sender = item->>'sender' THEN
              r_kind := 'duplicate'; r_seq := prior.seq; r_ts := prior.ts;
            ELSE
              r_kind := 'conflict'; r_seq := NULL; r_ts := NULL;
            END IF;
          ELSE
            UPDATE chat_conversations AS c SET head = c.head + 1
              WHERE c.id = item->>'conv' RETURNING c.head INTO next_seq;
            INSERT INTO chat_messages (conv, seq, id, sender, sender_name, text, file, ts)
              VALUES (item->>'conv', next_seq, item->>'id', item->>'sender', item->>'name',
                      item->>'text', item->'file', (item->>'ts')::bigint);
            r_kind := 'stored'; r_seq := next_seq; r_ts := (item->>'ts')::bigint;
          END IF;
          RETURN NEXT;
        END LOOP;
      END
      $fn$;
    `,
  },
];

/** Arbitrary but fixed: the advisory lock that serializes migrations across relays. */
const MIGRATION_LOCK = 7_236_213_491_108_431;

interface MemberRow {
  user_id: string;
  name: string;
  delivered: string | number;
  read: string | number;
}

const toMember = (row: MemberRow): Member => ({
  id: row.user_id,
  name: row.name,
  delivered: Number(row.delivered),
  read: Number(row.read),
});

/** Error codes that mean "the database is not reachable right now", not "this request is wrong". */
const UNREACHABLE_CODES = new Set([
  // postgres.js
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  // node sockets and DNS
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // SQLSTATE: read-only transaction (a failover left us on a standby)
  '25006',
]);

export function isUnavailableError(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  // SQLSTATE classes 08 (connection exception), 53 (insufficient resources, e.g. too many
  // connections) and 57P (the server is shutting down or starting up).
  return UNREACHABLE_CODES.has(code) || code.startsWith('08') || code.startsWith('53') || code.startsWith('57P');
}

/** Deadlock or serialization failure: the transaction was rolled back and can simply run again. */
const isRetryable = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
};

export interface PostgresStoreOptions {
  /** Connections in the pool. */
  max?: number;
  /** Largest number of appends sent in one statement. */
  maxBatch?: number;
  /** Seconds to wait for a connection before an operation fails as unavailable. */
  connectTimeout?: number;
}

/** What the batcher hands back per item: a result, or the error of just that item. */
type Outcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

export class PostgresStore implements Store {
  private readonly _batcher: Batcher<AppendInput, Outcome>;

  private constructor(
    private readonly _sql: Sql,
    private readonly _epoch: string,
    /** The schema version found in the database after migrating (may be newer than ours during a rolling upgrade). */
    readonly schemaVersion: number,
    maxBatch: number,
  ) {
    this._batcher = new Batcher((batch) => this._appendBatch(batch), maxBatch);
  }

  /** Connects, migrates the schema (idempotent, safe when several relays start at once) and loads the epoch. */
  static async connect(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql: Sql = postgres(url, {
      max: options.max ?? 10,
      connect_timeout: options.connectTimeout ?? 5,
      // Notices like "relation already exists, skipping" are not worth a log line.
      onnotice: () => undefined,
      // Otherwise a short outage would leave idle sockets that fail the next query.
      idle_timeout: 60,
    });
    try {
      const schemaVersion = await migrate(sql);
      const [row] = await sql<{ value: string }[]>`SELECT value FROM chat_meta WHERE key = 'epoch'`;
      if (!row) throw new Error('chat_meta has no epoch');
      return new PostgresStore(sql, row.value, schemaVersion, options.maxBatch ?? 1000);
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => undefined);
      if (isUnavailableError(error)) throw new StoreUnavailableError(`PostgreSQL is unreachable: ${describe(error)}`, { cause: error });
      throw error;
    }
  }

  async epoch(): Promise<string> {
    return this._epoch;
  }

  async append(input: AppendInput): Promise<AppendResult> {
    const outcome = await this._batcher.add(input);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  async range(conv: string, after: number, limit: number): Promise<Page> {
    const rows = await this._guard(
      this._sql<MessageRow[]>`SELECT * FROM chat_messages WHERE conv = ${conv} AND seq > ${after} ORDER BY seq LIMIT ${limit + 1}`,
    );
    return { messages: rows.slice(0, limit).map(messageFromRow), more: rows.length > limit };
  }

  async before(conv: string, before: number, limit: number): Promise<Page> {
    const rows = await this._guard(
      this._sql<MessageRow[]>`SELECT * FROM chat_messages WHERE conv = ${conv} AND seq < ${before} ORDER BY seq DESC LIMIT ${limit + 1}`,
    );
    return { messages: rows.slice(0, limit).reverse().map(messageFromRow), more: rows.length > limit };
  }

  async head(conv: string): Promise<number> {
    const [row] = await this._guard(this._sql<{ head: string }[]>`SELECT head FROM chat_conversations WHERE id = ${conv}`);
    return Number(row?.head ?? 0);
  }

  async addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }> {
    // The name is written only when it changed, so a reconnect storm does not rewrite rows.
    // When another instance inserts the same member concurrently, neither branch sees a row
    // in this statement's snapshot; the next attempt does.
    for (let attempt = 0; ; attempt++) {
      const [row] = await this._guard(this._sql<(MemberRow & { inserted: boolean })[]>`
        WITH upsert AS (
          INSERT INTO chat_members (conv, user_id, name) VALUES (${conv}, ${user.id}, ${user.name})
          ON CONFLICT (conv, user_id) DO UPDATE SET name = EXCLUDED.name
            WHERE chat_members.name IS DISTINCT FROM EXCLUDED.name
          RETURNING user_id, name, delivered, read, (xmax = 0) AS inserted
        )
        SELECT * FROM upsert
        UNION ALL
        SELECT user_id, name, delivered, read, false FROM chat_members
          WHERE conv = ${conv} AND user_id = ${user.id} AND NOT EXISTS (SELECT 1 FROM upsert)`);
      if (row) return { member: toMember(row), isNew: row.inserted };
      if (attempt >= 5) throw new Error(`addMember(${conv}, ${user.id}) found no row after ${attempt + 1} attempts`);
    }
  }

  async setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null> {
    // Compare-and-set instead of a locking transaction: two round trips, no lock held
    // between them, and a concurrent receipt from another instance just causes a retry.
    for (let attempt = 0; ; attempt++) {
      const [row] = await this._guard(this._sql<(MemberRow & { head: string | null })[]>`
        SELECT m.user_id, m.name, m.delivered, m.read, c.head
        FROM chat_members AS m LEFT JOIN chat_conversations AS c ON c.id = m.conv
        WHERE m.conv = ${conv} AND m.user_id = ${userId}`);
      if (!row) return null;
      const current = toMember(row);
      const next = advanceCursor(current, update, Number(row.head ?? 0));
      if (!next) return null;
      const updated = await this._guard(this._sql`
        UPDATE chat_members SET delivered = ${next.delivered}, read = ${next.read}
        WHERE conv = ${conv} AND user_id = ${userId} AND delivered = ${current.delivered} AND read = ${current.read}`);
      if (updated.count === 1) return next;
      if (attempt >= 20) throw new Error(`setCursor(${conv}, ${userId}) kept racing after ${attempt + 1} attempts`);
    }
  }

  async members(conv: string): Promise<Member[]> {
    const rows = await this._guard(
      this._sql<MemberRow[]>`SELECT user_id, name, delivered, read FROM chat_members WHERE conv = ${conv} ORDER BY user_id`,
    );
    return rows.map(toMember);
  }

  async close(): Promise<void> {
    await this._batcher.close();
    await this._sql.end({ timeout: 5 });
  }

  /** Appends a batch as one statement. Public for benchmarks. */
  async appendBatch(batch: readonly AppendInput[]): Promise<AppendResult[]> {
    const payload = JSON.stringify(
      batch.map((input) => ({
        conv: input.conv,
        id: input.id,
        sender: input.from.id,
        name: input.from.name,
        text: input.text,
        file: input.file,
        ts: input.ts,
      })),
    );
    for (let attempt = 0; ; attempt++) {
      try {
        const rows = await this._sql<{ r_kind: string; r_seq: string | null; r_ts: string | null }[]>`
          SELECT r_kind, r_seq, r_ts FROM chat_append(${payload}::text::jsonb) WITH ORDINALITY AS r ORDER BY r.ordinality`;
        if (rows.length !== batch.length) throw new Error(`chat_append returned ${rows.length} rows for ${batch.length} items`);
        return rows.map((row, i): AppendResult => {
          if (row.r_kind === 'conflict') return { kind: 'conflict' };
          const seq = Number(row.r_seq);
          const ts = Number(row.r_ts);
          if (row.r_kind === 'duplicate') return { kind: 'duplicate', seq, ts };
          const input = batch[i]!;
          return { kind: 'stored', message: messageFromInput(input, seq, ts) };
        });
      } catch (error) {
        if (isRetryable(error) && attempt < 5) continue;
        throw error;
      }
    }
  }

  private async _appendBatch(batch: AppendInput[]): Promise<Outcome[]> {
    try {
      return (await this.appendBatch(batch)).map((result) => ({ ok: true, result }));
    } catch (error) {
      if (isUnavailableError(error)) {
        const unavailable = new StoreUnavailableError(`PostgreSQL is unreachable: ${describe(error)}`, { cause: error });
        return batch.map(() => ({ ok: false, error: unavailable }));
      }
      if (batch.length === 1) return [{ ok: false, error }];
      // One bad item (e.g. text PostgreSQL cannot hold, like U+0000) must not fail the
      // other senders' messages: the whole statement rolled back, so retry them one by one.
      const outcomes: Outcome[] = [];
      for (const item of batch) {
        const [single] = await this._appendBatch([item]);
        outcomes.push(single!);
      }
      return outcomes;
    }
  }

  private async _guard<T>(query: Promise<T>): Promise<T> {
    try {
      return await query;
    } catch (error) {
      if (isUnavailableError(error)) throw new StoreUnavailableError(`PostgreSQL is unreachable: ${describe(error)}`, { cause: error });
      throw error;
    }
  }
}

async function migrate(sql: Sql): Promise<number> {
  return sql.begin(async (tx) => {
    // Transaction-scoped: released by COMMIT/ROLLBACK, even if this process dies meanwhile.
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS chat_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const applied = new Set((await tx<{ version: number }[]>`SELECT version FROM chat_migrations`).map((r) => r.version));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO chat_migrations (version) VALUES (${migration.version})`;
      applied.add(migration.version);
    }
    return Math.max(...applied);
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${(error as { code?: string }).code ?? error.name}: ${error.message}`;
  return String(error);
}
