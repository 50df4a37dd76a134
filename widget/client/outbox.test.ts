import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errorOf, Outbox, type OutboxEntry } from './outbox.js';
import { FakeClock } from './test/fake-clock.js';
import { MemoryStorage } from './test/memory-storage.js';

const KEY = 'chat-room:outbox:test';

function setup(storage = new MemoryStorage(), clock = new FakeClock(), window = 20) {
  return { storage, clock, outbox: new Outbox({ storage, key: KEY, clock, window }) };
}

const entry = (n: number): OutboxEntry => ({ id: `m${n}`, conv: 'c1', text: `hello ${n}`, ts: 1000 + n });
const ids = (entries: readonly OutboxEntry[]) => entries.map((e) => e.id);
const stored = (storage: MemoryStorage) => (storage.outbox(`${KEY}|`) ?? []).map((e) => e.id);

/** A storage without `keys()` (a custom one): the outbox keeps the array format. */
class ArrayStorage extends MemoryStorage {
  declare keys: never;
  constructor() {
    super();
    Object.defineProperty(this, 'keys', { value: undefined });
  }
}

describe('outbox', () => {
  test('outbox - an entry is in storage before it is handed out to send', async () => {
    const { storage, outbox } = setup();
    let open!: () => void;
    storage.gate = new Promise((resolve) => (open = resolve));
    const saved = outbox.add(entry(1));
    await Promise.resolve();
    assert.deepEqual(outbox.takeSendable(), [], 'nothing to send while the write is pending');
    open();
    await saved;
    assert.deepEqual(stored(storage), ['m1']);
    assert.deepEqual(ids(outbox.takeSendable()), ['m1']);
  });

  test('outbox - entries survive a reload, in order, and are sent again with the same ids', async () => {
    const { storage, clock, outbox } = setup();
    for (const n of [1, 2, 3]) await outbox.add(entry(n));
    assert.deepEqual(ids(outbox.takeSendable()), ['m1', 'm2', 'm3']);
    const reloaded = new Outbox({ storage, key: KEY, clock });
    await reloaded.load();
    assert.deepEqual(ids(reloaded.entries), ['m1', 'm2', 'm3']);
    assert.deepEqual(reloaded.entries[1], entry(2));
    assert.deepEqual(ids(reloaded.takeSendable()), ['m1', 'm2', 'm3']);
  });

  test('outbox - loaded entries come before ones added before the load finished', async () => {
    const { storage, clock, outbox } = setup();
    await outbox.add(entry(1));
    const reloaded = new Outbox({ storage, key: KEY, clock });
    const added = reloaded.add(entry(2));
    await reloaded.load();
    await added;
    assert.deepEqual(ids(reloaded.entries), ['m1', 'm2']);
  });

  test('outbox - removed only on ack (from memory and storage)', async () => {
    const { storage, outbox } = setup();
    for (const n of [1, 2]) await outbox.add(entry(n));
    outbox.takeSendable();
    outbox.connectionLost();
    assert.deepEqual(stored(storage), ['m1', 'm2']);
    assert.equal(outbox.ack('m1')?.id, 'm1');
    assert.equal(outbox.ack('m1'), undefined);
    await outbox.settled();
    assert.deepEqual(stored(storage), ['m2']);
    outbox.ack('m2');
    await outbox.settled();
    assert.equal(storage.data.size, 0);
  });

  test('outbox - at most `window` sends are unacked at once, in order', async () => {
    const { outbox } = setup(undefined, undefined, 20);
    for (let n = 1; n <= 50; n++) await outbox.add(entry(n));
    const first = outbox.takeSendable();
    assert.deepEqual(ids(first), Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    assert.deepEqual(outbox.takeSendable(), []);
    for (const n of [1, 2, 3]) outbox.ack(`m${n}`);
    assert.deepEqual(ids(outbox.takeSendable()), ['m21', 'm22', 'm23']);
  });

  test('outbox - a lost connection puts in-flight entries back in the queue, in order', async () => {
    const { outbox } = setup();
    for (const n of [1, 2, 3]) await outbox.add(entry(n));
    outbox.takeSendable();
    outbox.ack('m1');
    outbox.connectionLost();
    assert.deepEqual(ids(outbox.takeSendable()), ['m2', 'm3']);
  });

  test('outbox - a retryable error waits out a backoff, and later messages do not overtake it', async () => {
    const { clock, outbox } = setup();
    await outbox.add(entry(1));
    assert.deepEqual(ids(outbox.takeSendable()), ['m1']);
    await outbox.add(entry(2));
    outbox.retryLater('m1');
    assert.deepEqual(outbox.takeSendable(), [], 'm2 waits behind m1');
    const at = outbox.nextRetryAt();
    assert.ok(at !== null && at > clock.now());
    clock.advance(at - clock.now());
    assert.deepEqual(ids(outbox.takeSendable()), ['m1', 'm2']);
  });

  test('outbox - a refused message is failed (and saved so) until retried or discarded', async () => {
    const { storage, clock, outbox } = setup();
    for (const n of [1, 2]) await outbox.add(entry(n));
    outbox.takeSendable();
    outbox.fail('m1', { code: 'text_too_long', params: { max: 10 } });
    outbox.connectionLost();
    assert.deepEqual(ids(outbox.takeSendable()), ['m2'], 'a failed message does not block the next');
    await outbox.settled();
    const reloaded = new Outbox({ storage, key: KEY, clock });
    await reloaded.load();
    assert.deepEqual(errorOf(reloaded.entries[0]!), { code: 'text_too_long', params: { max: 10 } });
    assert.deepEqual(ids(reloaded.takeSendable()), ['m2']);
    assert.equal(reloaded.retry('m1'), true);
    assert.equal(errorOf(reloaded.entries[0]!), undefined);
    assert.deepEqual(ids(reloaded.takeSendable()), ['m1']);
    reloaded.fail('m1', { code: 'forbidden' });
    assert.equal(reloaded.discard('m1'), true);
    await reloaded.settled();
    assert.deepEqual(stored(storage), ['m2']);
  });

  test('outbox - a message that cannot be saved is still sent', async () => {
    const storage = new MemoryStorage();
    storage.setItem = async () => {
      throw new Error('quota exceeded');
    };
    const errors: unknown[] = [];
    const outbox = new Outbox({ storage, key: KEY, clock: new FakeClock(), onStorageError: (e) => errors.push(e) });
    await outbox.add(entry(1));
    assert.equal(errors.length, 1);
    assert.deepEqual(ids(outbox.takeSendable()), ['m1']);
  });

  test('outbox - garbage in storage is ignored, not trusted', async () => {
    const storage = new MemoryStorage();
    storage.data.set(KEY, [{ id: 'bad id with spaces', conv: 'c1', ts: 1 }]);
    storage.data.set(`${KEY}|x`, { entry: { id: 'x', conv: 'c1', ts: 'no' }, n: 0 });
    storage.data.set(`${KEY}|y`, { entry: { id: 'not-y', conv: 'c1', ts: 1 }, n: 0 });
    const outbox = new Outbox({ storage, key: KEY, clock: new FakeClock() });
    await outbox.load();
    assert.equal(outbox.size, 0);
  });

  test('outbox - two tabs writing the shared storage at once lose none of each other’s entries', async () => {
    const storage = new MemoryStorage();
    const clock = new FakeClock();
    const tabA = new Outbox({ storage, key: KEY, clock });
    const tabB = new Outbox({ storage, key: KEY, clock });
    await Promise.all([tabA.load(), tabB.load()]);
    // Interleaved: each write of one tab lands between writes of the other.
    await Promise.all([tabA.add(entry(1)), tabB.add(entry(2)), tabA.add(entry(3)), tabB.add(entry(4))]);
    tabA.ack('m1');
    await Promise.all([tabA.settled(), tabB.settled()]);
    assert.deepEqual(stored(storage), ['m2', 'm3', 'm4']);
    const reloaded = new Outbox({ storage, key: KEY, clock });
    await reloaded.load();
    assert.deepEqual(ids(reloaded.entries), ['m2', 'm3', 'm4']);
  });

  test('outbox - an outbox of an earlier version (one array) is loaded and moved to one key per entry', async () => {
    const storage = new MemoryStorage();
    storage.data.set(KEY, [entry(1), { ...entry(2), error: 'refused by an old relay' }]);
    const outbox = new Outbox({ storage, key: KEY, clock: new FakeClock() });
    await outbox.load();
    assert.deepEqual(ids(outbox.entries), ['m1', 'm2']);
    assert.deepEqual(errorOf(outbox.entries[1]!), { code: 'internal' });
    assert.equal(storage.data.has(KEY), false, 'the array is gone');
    assert.deepEqual(stored(storage), ['m1', 'm2']);
    await outbox.add(entry(3));
    const reloaded = new Outbox({ storage, key: KEY, clock: new FakeClock() });
    await reloaded.load();
    assert.deepEqual(ids(reloaded.entries), ['m1', 'm2', 'm3']);
  });

  test('outbox - a storage without keys() keeps the array format', async () => {
    const storage = new ArrayStorage();
    const clock = new FakeClock();
    const outbox = new Outbox({ storage, key: KEY, clock });
    for (const n of [1, 2]) await outbox.add(entry(n));
    assert.deepEqual(ids(storage.data.get(KEY) as OutboxEntry[]), ['m1', 'm2']);
    outbox.ack('m1');
    await outbox.settled();
    const reloaded = new Outbox({ storage, key: KEY, clock });
    await reloaded.load();
    assert.deepEqual(ids(reloaded.entries), ['m2']);
  });
});
