/**
 * The history cache's two records: the newest messages (read and shown first on a reload) and
 * the older ones, written only when what they hold changed; records that do not belong together
 * are not used; an early read (the entry's) replaces the cache's own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MessageFrame } from '../../protocol/index.js';
import { CacheDefaults, HistoryCache, type HistoryContent } from './cache.js';
import { FakeClock } from './test/fake-clock.js';
import { MemoryStorage } from './test/memory-storage.js';

const KEY = 'chat-room:history:test';
const OLDER = `${KEY}|older`;
const msg = (seq: number): MessageFrame => ({ type: 'msg', conv: 'c1', seq, id: `m${seq}`, from: { id: 'bob', name: 'Bob' }, text: `t${seq}`, ts: seq });
const run = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));

function setup(options: { storage?: MemoryStorage; early?: () => Promise<unknown> | undefined } = {}) {
  const storage = options.storage ?? new MemoryStorage();
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const cache = new HistoryCache({ storage, key: KEY, clock, onStorageError: (e) => errors.push(e), ...(options.early ? { early: options.early } : {}) });
  return { storage, clock, cache, errors };
}

/** What a conversation would hand the cache: every message it holds. */
const content = (messages: readonly MessageFrame[]): HistoryContent => ({
  epoch: 'e1',
  self: { id: 'alice', name: 'Alice' },
  members: [],
  messages,
  last: messages.at(-1)?.seq ?? 0,
});

async function write(cache: HistoryCache, messages: readonly MessageFrame[]): Promise<void> {
  cache.schedule(() => content(messages));
  await cache.flush();
}

/** Counts the writes of each key. */
function countWrites(storage: MemoryStorage): Map<string, number> {
  const counts = new Map<string, number>();
  const setItem = storage.setItem.bind(storage);
  storage.setItem = async <T>(key: string, value: T) => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return setItem(key, value);
  };
  return counts;
}

describe('history cache', () => {
  test('cache - a long history is stored as the newest messages and an older record, and read back whole', async () => {
    const { storage, cache } = setup();
    const all = run(1, 1200);
    await write(cache, all);
    const newest = storage.data.get(KEY) as { messages: MessageFrame[] };
    const older = storage.data.get(OLDER) as { messages: MessageFrame[]; next: number };
    assert.equal(newest.messages.length, CacheDefaults.tail);
    assert.equal(older.messages.length, CacheDefaults.cap - CacheDefaults.tail, 'the newest cap messages are kept');
    assert.equal(older.next, newest.messages[0]!.seq);

    const { cache: again } = setup({ storage });
    const loaded = await again.load();
    assert.ok(loaded);
    assert.deepEqual(loaded.messages.map((m) => m.seq), run(1151, 1200).map((m) => m.seq));
    const rest = await again.loadOlder(loaded);
    assert.deepEqual([...rest, ...loaded.messages].map((m) => m.seq), run(201, 1200).map((m) => m.seq));
  });

  test('cache - a short history is one record, and an older record of before is removed', async () => {
    const { storage, cache } = setup();
    await write(cache, run(1, 400));
    assert.ok(storage.data.has(OLDER));
    const { cache: fresh } = setup({ storage });
    await write(fresh, run(1, 20));
    assert.equal(storage.data.has(OLDER), false);
    assert.equal((storage.data.get(KEY) as { messages: MessageFrame[] }).messages.length, 20);
  });

  test('cache - new messages rewrite only the newest record until it outgrows tailMax', async () => {
    const { storage, cache } = setup();
    const counts = countWrites(storage);
    let held = run(1, 500);
    await write(cache, held);
    assert.equal(counts.get(OLDER), 1);
    const extra = CacheDefaults.tailMax - CacheDefaults.tail;
    for (let seq = 501; seq <= 500 + extra; seq++) {
      held = [...held, msg(seq)];
      await write(cache, held);
    }
    assert.equal(counts.get(OLDER), 1, 'the older record stayed as it was');
    assert.equal((storage.data.get(KEY) as { messages: unknown[] }).messages.length, CacheDefaults.tailMax);
    held = [...held, msg(501 + extra)];
    await write(cache, held);
    assert.equal(counts.get(OLDER), 2, 'past tailMax the split moves');
    assert.equal((storage.data.get(KEY) as { messages: unknown[] }).messages.length, CacheDefaults.tail);
  });

  test('cache - an edited older message, or an older page loaded, rewrites the older record', async () => {
    const { storage, cache } = setup();
    const counts = countWrites(storage);
    const held = run(101, 500);
    await write(cache, held);
    const edited = [...held];
    edited[10] = { ...edited[10]!, text: 'edited', edited: 1, rev: 501 };
    await write(cache, edited);
    assert.equal(counts.get(OLDER), 2);
    assert.equal((storage.data.get(OLDER) as { messages: MessageFrame[] }).messages[10]!.text, 'edited');
    await write(cache, [...run(51, 100), ...edited]);
    assert.equal(counts.get(OLDER), 3);
    assert.equal((storage.data.get(OLDER) as { messages: MessageFrame[] }).messages[0]!.seq, 51);
  });

  test('cache - an older record that does not end where the newest starts (a write lost between the two) is not used', async () => {
    const { storage, cache } = setup();
    await write(cache, run(1, 400));
    const newest = storage.data.get(KEY) as { messages: MessageFrame[] };
    // As if the newest record had been written by a later split whose older record never made it.
    storage.data.set(KEY, { ...newest, messages: newest.messages.slice(5) });
    const { cache: again } = setup({ storage });
    const loaded = await again.load();
    assert.ok(loaded);
    assert.deepEqual(await again.loadOlder(loaded), []);
    // Of another epoch: not used either.
    storage.data.set(KEY, { ...newest, epoch: 'e2' });
    const { cache: third } = setup({ storage });
    assert.deepEqual(await third.loadOlder((await third.load())!), []);
  });

  test('cache - a record of an earlier version (every message under one key) still loads', async () => {
    const storage = new MemoryStorage();
    storage.data.set(KEY, { epoch: 'e1', self: null, members: [], messages: run(1, 300), last: 300 });
    const { cache } = setup({ storage });
    const loaded = await cache.load();
    assert.equal(loaded?.messages.length, 300);
    assert.deepEqual(await cache.loadOlder(loaded!), []);
  });

  test('cache - the early read replaces the cache own read; a failed one falls back to storage', async () => {
    const storage = new MemoryStorage();
    storage.data.set(KEY, { epoch: 'stored', self: null, members: [], messages: [msg(1)] });
    const early = { epoch: 'early', self: null, members: [], messages: [msg(1), msg(2)] };
    const { cache } = setup({ storage, early: () => Promise.resolve(early) });
    assert.equal((await cache.load())?.epoch, 'early');
    const { cache: failing } = setup({ storage, early: () => Promise.reject(new Error('blocked')) });
    assert.equal((await failing.load())?.epoch, 'stored');
    const { cache: none } = setup({ storage, early: () => Promise.resolve(null) });
    assert.equal(await none.load(), null, 'the early read found nothing: nothing cached');
  });

  test('cache - writes wait until the older messages are restored', async () => {
    const { storage, cache } = setup();
    let restored!: () => void;
    cache.holdWritesUntil(new Promise<void>((resolve) => (restored = resolve)));
    cache.schedule(() => content(run(1, 10)));
    const flushed = cache.flush();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(storage.data.has(KEY), false, 'not written before the restore');
    restored();
    await flushed;
    assert.equal((storage.data.get(KEY) as { messages: unknown[] }).messages.length, 10);
  });

  test('cache - the same newest record again (a rejoin that brought nothing new) is not written', async () => {
    const storage = new MemoryStorage();
    const { cache } = setup({ storage });
    await write(cache, run(1, 400));
    const { cache: again } = setup({ storage });
    const counts = countWrites(storage);
    const loaded = await again.load();
    const held = [...(await again.loadOlder(loaded!)), ...loaded!.messages];
    await write(again, held);
    assert.equal(counts.size, 0, 'nothing written');
    await write(again, [...held, msg(401)]);
    assert.equal(counts.get(KEY), 1);
    assert.equal(counts.get(OLDER), undefined);
  });

  test('cache - clear removes both records', async () => {
    const { storage, cache } = setup();
    await write(cache, run(1, 400));
    await cache.clear();
    assert.equal(storage.data.size, 0);
  });
});
