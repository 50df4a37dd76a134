import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { storeConformance } from './conformance.js';
import { InlineSqliteStore } from './sqlite-inline.js';
import { SqliteStore } from './sqlite.js';

import type { Store } from './types.js';

/** A fixture over database files in temp dirs: each create() a new file, reopen() the same one. */
function sqliteFixture(open: (path: string) => Promise<Store>) {
  const dirs: string[] = [];
  const paths = new Map<Store, string>();
  const track = (store: Store, path: string) => (paths.set(store, path), store);
  return {
    async create() {
      const dir = await mkdtemp(join(tmpdir(), 'chat-sqlite-'));
      dirs.push(dir);
      const path = join(dir, 'chat.db');
      return track(await open(path), path);
    },
    async reopen(store: Store) {
      const path = paths.get(store)!;
      await store.close();
      return track(await open(path), path);
    },
    async cleanup() {
      await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    },
  };
}

storeConformance(
  'SqliteStore',
  sqliteFixture((path) => SqliteStore.open({ path })),
);
storeConformance(
  'InlineSqliteStore',
  sqliteFixture(async (path) => new InlineSqliteStore({ path })),
);

test('SqliteStore - a new database file gets a new epoch', async () => {
  const base = await mkdtemp(join(tmpdir(), 'chat-sqlite-epoch-'));
  const a = new SqliteStore({ path: join(base, 'a.db') });
  const b = new SqliteStore({ path: join(base, 'b.db') });
  assert.notEqual(await a.epoch(), await b.epoch());
  await a.close();
  await b.close();
  await rm(base, { recursive: true, force: true });
});

test('SqliteStore - a database that cannot be opened fails open() and every operation', async () => {
  const base = await mkdtemp(join(tmpdir(), 'chat-sqlite-bad-'));
  // A directory where the database file should be.
  await assert.rejects(SqliteStore.open({ path: base }));
  const store = new SqliteStore({ path: base });
  await assert.rejects(store.head('c'));
  await store.close();
  await rm(base, { recursive: true, force: true });
});

test('SqliteStore - in memory, reads go through the worker: interleaved with writes they answer in order and see the writes before them', async () => {
  const store = await SqliteStore.open({ path: ':memory:' });
  const from = { id: 'a', name: 'A' };
  const order: string[] = [];
  const track = <T>(label: string, p: Promise<T>) => p.then((v) => (order.push(label), v));
  const [, head1, , member, page, head2] = await Promise.all([
    track('append1', store.append({ conv: 'c', id: 'm1', from, text: 'x', ts: 1 })),
    track('head1', store.head('c')),
    track('append2', store.append({ conv: 'c', id: 'm2', from, text: 'y', ts: 2 })),
    track('member', store.addMember('c', from)),
    track('range', store.range('c', 0, 10)),
    track('head2', store.head('c')),
  ]);
  assert.equal(head1, 1);
  assert.equal(head2, 2);
  assert.equal(member.isNew, true);
  assert.deepEqual(page.messages.map((m) => m.id), ['m1', 'm2']);
  assert.deepEqual(order, ['append1', 'head1', 'append2', 'member', 'range', 'head2']);
  await store.close();
});

test('SqliteStore - on a file, reads see only committed appends, and every append once it resolved', async () => {
  const base = await mkdtemp(join(tmpdir(), 'chat-sqlite-read-'));
  const store = await SqliteStore.open({ path: join(base, 'chat.db') });
  const from = { id: 'a', name: 'A' };
  const pending = Array.from({ length: 50 }, (_, i) => store.append({ conv: 'c', id: `m${i}`, from, text: 'x', ts: i }));
  // Nothing is committed yet: the appends leave in this turn's message to the worker.
  assert.equal(await store.head('c'), 0);
  await Promise.all(pending);
  assert.equal(await store.head('c'), 50);
  assert.equal((await store.range('c', 0, 100)).messages.length, 50);
  await store.close();
  await rm(base, { recursive: true, force: true });
});

test('SqliteStore - commit window: an idle store commits its first append alone; what arrives in later turns within the window goes in one transaction', async () => {
  const base = await mkdtemp(join(tmpdir(), 'chat-sqlite-window-'));
  const batches: number[] = [];
  const store = await SqliteStore.open({ path: join(base, 'chat.db'), commitWindowMs: 1000, onBatch: (size) => batches.push(size) });
  const from = { id: 'a', name: 'A' };
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const first = store.append({ conv: 'c', id: 'm0', from, text: 'x', ts: 0 });
  const later: Promise<unknown>[] = [];
  for (let i = 1; i <= 5; i++) {
    await turn();
    later.push(store.append({ conv: 'c', id: `m${i}`, from, text: 'x', ts: i }));
  }
  await Promise.all([first, ...later]);
  assert.deepEqual(batches, [1, 5]);
  // Every acknowledged append is committed: a second connection (the main thread's reader) sees them.
  assert.equal(await store.head('c'), 6);
  await store.close();
  await rm(base, { recursive: true, force: true });
});
