import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPostgres, type PostgresServer } from '../test/services.js';
import { storeConformance } from './conformance.js';
import { PostgresStore } from './postgres.js';
import { StoreUnavailableError, type AppendInput, type AppendResult, type Store } from './types.js';

let server: PostgresServer | undefined;
const urls = new Map<Store, string>();
const track = (store: PostgresStore, url: string) => (urls.set(store, url), store);

storeConformance('PostgresStore', {
  async create() {
    server ??= await startPostgres({ fast: true });
    const url = await server.createDatabase();
    return track(await PostgresStore.connect(url), url);
  },
  async reopen(store) {
    const url = urls.get(store)!;
    await store.close();
    return track(await PostgresStore.connect(url), url);
  },
  async share(store) {
    const url = urls.get(store)!;
    return track(await PostgresStore.connect(url), url);
  },
  // The server is shared with the tests below and disposed by them.
});

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
const input = (conv: string, id: string, from = alice, text = `text of ${id}`): AppendInput => ({ conv, id, from, text, ts: Date.now() });
const seqOf = (r: AppendResult) => (r.kind === 'stored' ? r.message.seq : r.kind === 'duplicate' ? r.seq : -1);

describe('PostgresStore - several instances over one database', () => {
  let pg: PostgresServer;
  before(async () => {
    pg = server ?? (await startPostgres({ fast: true }));
  });
  after(() => pg.dispose());

  test('migrations - relays starting at once migrate once and agree on the epoch', async () => {
    const db = await pg.createDatabase();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.connect(db)));
    const epochs = new Set(await Promise.all(stores.map((s) => s.epoch())));
    assert.equal(epochs.size, 1);
    assert.deepEqual(
      stores.map((s) => s.schemaVersion),
      stores.map(() => 2),
    );
    await Promise.all(stores.map((s) => s.close()));
    const again = await PostgresStore.connect(db);
    assert.ok(epochs.has(await again.epoch()));
    await again.close();
  });

  test('epoch - a new database gets a new epoch', async () => {
    const [a, b] = await Promise.all([PostgresStore.connect(await pg.createDatabase()), PostgresStore.connect(await pg.createDatabase())]);
    assert.notEqual(await a.epoch(), await b.epoch());
    await Promise.all([a.close(), b.close()]);
  });

  test('append - concurrent batches from three instances: seqs 1..N, each id once, resends are duplicates', async () => {
    const db = await pg.createDatabase();
    const stores = await Promise.all([PostgresStore.connect(db), PostgresStore.connect(db), PostgresStore.connect(db)]);
    const conv = 'shared';
    const perStore = 600;
    // Every store sends its own ids, and also ids of the store before it (a client that
    // resends through another relay), all at once.
    const results = await Promise.all(
      stores.flatMap((store, s) =>
        Array.from({ length: perStore }, (_, i) => {
          const owner = i % 3 === 0 ? (s + 2) % 3 : s;
          return store.append(input(conv, `s${owner}-${i}`)).then((r) => ({ id: `s${owner}-${i}`, r }));
        }),
      ),
    );
    const seqById = new Map<string, number>();
    for (const { id, r } of results) {
      assert.notEqual(r.kind, 'conflict');
      const seq = seqOf(r);
      const known = seqById.get(id);
      if (known !== undefined) assert.equal(seq, known, `${id} got two seqs`);
      seqById.set(id, seq);
    }
    const head = await stores[0]!.head(conv);
    assert.equal(head, seqById.size);
    const page = await stores[1]!.range(conv, 0, 10_000);
    assert.deepEqual(
      page.messages.map((m) => m.seq),
      Array.from({ length: head }, (_, i) => i + 1),
    );
    assert.equal(new Set(page.messages.map((m) => m.id)).size, head);
    for (const m of page.messages) assert.equal(seqById.get(m.id), m.seq);
    await Promise.all(stores.map((s) => s.close()));
  });

  test('append - group commit: the appends and changes of one event-loop turn go to the server as one statement, in call order', async () => {
    const sizes: number[] = [];
    const store = await PostgresStore.connect(await pg.createDatabase(), { onBatch: (size) => sizes.push(size) });
    const batches: number[] = [];
    const original = store.writeBatch.bind(store);
    store.writeBatch = (batch) => {
      batches.push(batch.length);
      return original(batch);
    };
    const appends = Array.from({ length: 500 }, (_, i) => store.append(input('g', `m${i}`)));
    const edit = store.change({ conv: 'g', id: 'm0', by: alice, authority: 'member', change: { kind: 'edit', text: 'fixed' }, ts: 1 });
    const results = await Promise.all(appends);
    assert.deepEqual(
      results.map(seqOf),
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    const edited = await edit;
    assert.equal(edited.kind === 'stored' && edited.update.seq, 501);
    assert.deepEqual(batches, [501]);
    assert.deepEqual(sizes, [501]);
    await store.close();
  });

  test('setCursor - concurrent receipts through two instances end at the highest', async () => {
    const db = await pg.createDatabase();
    const [a, b] = await Promise.all([PostgresStore.connect(db), PostgresStore.connect(db)]);
    await a.addMember('c', bob);
    for (let i = 0; i < 50; i++) await a.append(input('c', `m${i}`));
    await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).setCursor('c', 'bob', { delivered: i + 1, read: i })));
    assert.deepEqual(await b.members('c'), [{ id: 'bob', name: 'Bob', delivered: 50, read: 49, since: 0 }]);
    await Promise.all([a.close(), b.close()]);
  });

  test('append - an item PostgreSQL cannot store fails alone, not its whole batch', async () => {
    const store = await PostgresStore.connect(await pg.createDatabase());
    const settled = await Promise.allSettled([
      store.append(input('p', 'good-1')),
      store.append(input('p', 'bad', alice, 'nul \u0000 inside')),
      store.append(input('p', 'good-2')),
    ]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const rejected = settled[1] as PromiseRejectedResult;
    assert.ok(!(rejected.reason instanceof StoreUnavailableError), 'a bad item is not an outage');
    assert.deepEqual(
      (await store.range('p', 0, 10)).messages.map((m) => [m.seq, m.id]),
      [
        [1, 'good-1'],
        [2, 'good-2'],
      ],
    );
    await store.close();
  });

  test('availability - rejects with StoreUnavailableError while the server is down, recovers after', async () => {
    const store = await PostgresStore.connect(await pg.createDatabase());
    await store.append(input('u', 'before'));
    await pg.stop();
    try {
      await assert.rejects(store.append(input('u', 'during')), StoreUnavailableError);
      await assert.rejects(store.range('u', 0, 10), StoreUnavailableError);
      await assert.rejects(store.setCursor('u', 'alice', { read: 1 }), StoreUnavailableError);
    } finally {
      await pg.start();
    }
    const during = await store.append(input('u', 'during'));
    assert.equal(seqOf(during), 2);
    assert.deepEqual(await store.append(input('u', 'before')), { kind: 'duplicate', seq: 1, ts: (await store.range('u', 0, 1)).messages[0]!.ts });
    await store.close();
  });

  test('connect - an unreachable server is StoreUnavailableError at startup', async () => {
    const db = await pg.createDatabase();
    await pg.stop();
    try {
      await assert.rejects(PostgresStore.connect(db, { connectTimeout: 2 }), StoreUnavailableError);
    } finally {
      await pg.start();
    }
  });
});
