import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { storeConformance } from './conformance.js';
import { SqliteStore } from './sqlite.js';

let dir = '';
storeConformance('SqliteStore', {
  async create() {
    dir = await mkdtemp(join(tmpdir(), 'chat-sqlite-'));
    return new SqliteStore({ path: join(dir, 'chat.db') });
  },
  async reopen(store) {
    await store.close();
    return new SqliteStore({ path: join(dir, 'chat.db') });
  },
  async cleanup() {
    await rm(dir, { recursive: true, force: true });
  },
});

test('SqliteStore - a new database file gets a new epoch', async () => {
  const base = await mkdtemp(join(tmpdir(), 'chat-sqlite-epoch-'));
  const a = new SqliteStore({ path: join(base, 'a.db') });
  const b = new SqliteStore({ path: join(base, 'b.db') });
  assert.notEqual(await a.epoch(), await b.epoch());
  await a.close();
  await b.close();
  await rm(base, { recursive: true, force: true });
});
