/**
 * Migration: databases created by the v1.0 relay (schema as of commit 4a63d8e, copied below as
 * fixtures, not imported, so that later edits of the live migrations cannot hide a break) keep
 * working when a v1.1 relay opens them: history as it was, members with since = 0, and every
 * v1.1 feature on the old messages. PostgreSQL also keeps serving a v1.0 relay that still runs
 * during a rolling upgrade (its chat_append stays).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { startPostgres, type PostgresServer } from '../test/services.js';
import { PostgresStore } from './postgres.js';
import { SCHEMA_VERSION } from './sqlite-db.js';
import { SqliteStore } from './sqlite.js';
import { Authority, type Store } from './types.js';

/** The SQLite schema of the v1.0 relay (its migration 1, at user_version 1). */
const SQLITE_V1 = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
  ) WITHOUT ROWID;`;

/** The PostgreSQL schema of the v1.0 relay (its migration 1, recorded in chat_migrations). */
const POSTGRES_V1 = `
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
`;

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
const file = { url: '/files/abcdefghijklmnopqrstuv', name: 'a.png', size: 10, type: 'image/png' };
const EPOCH = 'feedc0de-0000-4000-8000-000000000001';

/** What the v1.0 relay had stored: conversation c with three messages (one with a file), two members. */
const OLD_HISTORY = [
  { type: 'msg', conv: 'c', seq: 1, id: 'm1', from: alice, text: 'first', ts: 1000 },
  { type: 'msg', conv: 'c', seq: 2, id: 'm2', from: bob, text: 'second', file, ts: 2000 },
  { type: 'msg', conv: 'c', seq: 3, id: 'm3', from: alice, text: 'x'.repeat(300), ts: 3000 },
];

/** The checks every migrated store must pass, whatever the database. */
async function checkMigrated(store: Store): Promise<void> {
  assert.equal(await store.epoch(), EPOCH);
  assert.deepEqual((await store.range('c', 0, 10)).messages, OLD_HISTORY);
  assert.deepEqual((await store.before('c', 99, 10)).messages, OLD_HISTORY);
  assert.equal(await store.head('c'), 3);
  assert.deepEqual(await store.members('c'), [
    { id: 'alice', name: 'Alice', delivered: 3, read: 2, since: 0 },
    { id: 'bob', name: 'Bob', delivered: 1, read: 0, since: 0 },
  ]);
  // Idempotency from v1.0 holds: a resend is a duplicate.
  assert.deepEqual(await store.append({ conv: 'c', id: 'm1', from: alice, text: 'first', ts: 9 }), { kind: 'duplicate', seq: 1, ts: 1000 });
  // v1.1 on old messages.
  store.enableWebhooks();
  const reply = await store.append({ conv: 'c', id: 'm4', from: bob, text: 'answer', ts: 4000, reply: 'm3' });
  assert.ok(reply.kind === 'stored');
  assert.deepEqual(reply.message.reply, { id: 'm3', seq: 3, from: alice, text: 'x'.repeat(200) });
  const edited = await store.change({ conv: 'c', id: 'm1', by: alice, authority: Authority.member, change: { kind: 'edit', text: 'first!' }, ts: 5000 });
  assert.ok(edited.kind === 'stored');
  assert.deepEqual(edited.message, { ...OLD_HISTORY[0], text: 'first!', edited: 5000, rev: 5 });
  const reacted = await store.change({ conv: 'c', id: 'm2', by: alice, authority: Authority.member, change: { kind: 'react', emoji: '👍', on: true }, ts: 6000 });
  assert.ok(reacted.kind === 'stored' && reacted.update.seq === 6);
  const deleted = await store.change({ conv: 'c', id: 'm3', by: bob, authority: Authority.moderator, change: { kind: 'delete' }, ts: 7000 });
  assert.ok(deleted.kind === 'stored' && deleted.message.deleted === true);
  assert.deepEqual((await store.message('c', 'm4'))?.reply, { id: 'm3', seq: 3, from: alice, deleted: true });
  assert.deepEqual(await store.change({ conv: 'c', id: 'm2', by: bob, authority: Authority.member, change: { kind: 'edit', text: 'second' }, ts: 1 }), {
    kind: 'unchanged',
    seq: 6,
    ts: 6000,
  });
  const { member, isNew } = await store.addMember('c', { id: 'carol', name: 'Carol' });
  assert.equal(isNew, true);
  assert.equal(member.since, 7);
  await store.setSeen('c', 'alice', 8000);
  await store.ban({ conv: 'c', user: 'bob' });
  assert.deepEqual(
    (await store.members('c')).map((m) => [m.id, m.since, m.seen, m.banned]),
    [
      ['alice', 0, 8000, undefined],
      ['bob', 0, undefined, true],
      ['carol', 7, undefined, undefined],
    ],
  );
  assert.deepEqual(
    (await store.range('c', 3, 10)).messages.map((e) => [e.seq, e.type, e.id]),
    [
      [4, 'msg', 'm4'],
      [5, 'update', 'm1'],
      [6, 'update', 'm2'],
      [7, 'update', 'm3'],
    ],
  );
  assert.equal(await store.webhookBacklog(), 5);
  const [first] = await store.claimWebhooks('r', Date.now(), 1000, 10);
  assert.equal(first?.event.type, 'message.created');
  assert.equal((first?.event.data as { id: string }).id, 'm4');
}

describe('migration - a SQLite database written by the v1.0 relay', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-migrate-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function createV1(path: string): void {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(SQLITE_V1);
    db.pragma('user_version = 1');
    db.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").run(EPOCH);
    db.prepare("INSERT INTO conversations (id, head) VALUES ('c', 3)").run();
    const insert = db.prepare('INSERT INTO messages (conv, seq, id, sender, sender_name, text, file, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const m of OLD_HISTORY) insert.run(m.conv, m.seq, m.id, m.from.id, m.from.name, m.text, m.file ? JSON.stringify(m.file) : null, m.ts);
    db.prepare("INSERT INTO members (conv, user, name, delivered, read) VALUES ('c', 'alice', 'Alice', 3, 2), ('c', 'bob', 'Bob', 1, 0)").run();
    db.close();
  }

  test('migration - opened by SqliteStore: history as it was, since 0, v1.1 features on old messages, user_version raised', async () => {
    const path = join(dir, 'v1.db');
    createV1(path);
    const store = await SqliteStore.open({ path });
    try {
      await checkMigrated(store);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    db.close();
    const again = await SqliteStore.open({ path });
    assert.equal(await again.head('c'), 7, 'a second open migrates nothing twice');
    await again.close();
  });

  test('migration - a database from a newer relay is refused, not damaged', async () => {
    const path = join(dir, 'future.db');
    createV1(path);
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(SqliteStore.open({ path }), /schema version/);
  });
});

describe('migration - a PostgreSQL database written by the v1.0 relay', () => {
  let pg: PostgresServer;
  before(async () => {
    pg = await startPostgres({ fast: true });
  });
  after(() => pg.dispose());

  async function createV1(): Promise<string> {
    const url = await pg.createDatabase();
    const sql = postgres(url, { onnotice: () => undefined });
    await sql.begin(async (tx) => {
      await tx`CREATE TABLE chat_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
      await tx.unsafe(POSTGRES_V1);
      await tx`INSERT INTO chat_migrations (version) VALUES (1)`;
      await tx`UPDATE chat_meta SET value = ${EPOCH} WHERE key = 'epoch'`;
    });
    // Stored the way the v1.0 relay stored them: through its chat_append.
    await oldAppend(sql, OLD_HISTORY);
    await sql`INSERT INTO chat_members (conv, user_id, name, delivered, read) VALUES ('c', 'alice', 'Alice', 3, 2), ('c', 'bob', 'Bob', 1, 0)`;
    await sql.end();
    return url;
  }

  async function oldAppend(sql: postgres.Sql, messages: ReadonlyArray<{ conv: string; id: string; from: { id: string; name: string }; text?: string; file?: unknown; ts: number }>) {
    const batch = JSON.stringify(messages.map((m) => ({ conv: m.conv, id: m.id, sender: m.from.id, name: m.from.name, text: m.text, file: m.file, ts: m.ts })));
    return sql<{ r_kind: string; r_seq: string }[]>`SELECT r_kind, r_seq FROM chat_append(${batch}::text::jsonb)`;
  }

  test('migration - opened by PostgresStore: history as it was, since 0, v1.1 features on old messages, version 2 recorded', async () => {
    const url = await createV1();
    const store = await PostgresStore.connect(url);
    try {
      assert.equal(store.schemaVersion, 2);
      await checkMigrated(store);
    } finally {
      await store.close();
    }
    const sql = postgres(url);
    assert.deepEqual(
      (await sql<{ version: number }[]>`SELECT version FROM chat_migrations ORDER BY version`).map((r) => r.version),
      [1, 2],
    );
    await sql.end();
  });

  test('migration - rolling upgrade: a v1.0 relay still appending next to a v1.1 relay keeps seqs gap-free', async () => {
    const url = await createV1();
    const store = await PostgresStore.connect(url);
    const sql = postgres(url);
    try {
      await store.change({ conv: 'c', id: 'm1', by: alice, authority: Authority.member, change: { kind: 'react', emoji: '🎉', on: true }, ts: 1 });
      const [old] = await oldAppend(sql, [{ conv: 'c', id: 'old-relay', from: bob, text: 'from v1.0', ts: 2 }]);
      assert.deepEqual(old, { r_kind: 'stored', r_seq: '5' });
      const next = await store.append({ conv: 'c', id: 'new-relay', from: alice, text: 'from v1.1', ts: 3 });
      assert.ok(next.kind === 'stored' && next.message.seq === 6);
      assert.deepEqual(
        (await store.range('c', 3, 10)).messages.map((e) => [e.seq, e.type, e.id]),
        [
          [4, 'update', 'm1'],
          [5, 'msg', 'old-relay'],
          [6, 'msg', 'new-relay'],
        ],
      );
      const edited = await store.change({ conv: 'c', id: 'old-relay', by: bob, authority: Authority.member, change: { kind: 'edit', text: 'edited' }, ts: 4 });
      assert.ok(edited.kind === 'stored' && edited.message.text === 'edited');
    } finally {
      await sql.end();
      await store.close();
    }
  });
});
