/**
 * The Store contract, as tests. Every Store implementation runs this same suite (see
 * sqlite.test.ts and postgres.test.ts), so the hub can rely on the behaviour whichever
 * database is behind it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AppendInput, Store } from './types.js';

export interface StoreFixture {
  /** A store over an empty database. */
  create(): Promise<Store>;
  /** Closes `store` and opens a new one over the same database (a restart). */
  reopen(store: Store): Promise<Store>;
  /** Removes whatever `create` made. */
  cleanup?(): Promise<void>;
}

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
let counter = 0;
/** A conversation id no other test uses, so tests can share one database. */
const freshConv = () => `conv-${process.pid}-${Date.now()}-${counter++}`;
const input = (conv: string, id: string, from = alice, text = `text of ${id}`): AppendInput => ({ conv, id, from, text, ts: 1_700_000_000_000 + counter });

export function storeConformance(name: string, fixture: StoreFixture): void {
  describe(`${name} - Store conformance`, () => {
    let store: Store;
    before(async () => {
      store = await fixture.create();
    });
    after(async () => {
      await store.close();
      await fixture.cleanup?.();
    });

    test('append - assigns 1, 2, 3 … per conversation, independently', async () => {
      const a = freshConv();
      const b = freshConv();
      const r1 = await store.append(input(a, 'm1'));
      const r2 = await store.append(input(b, 'm1'));
      const r3 = await store.append(input(a, 'm2'));
      assert.equal(r1.kind === 'stored' && r1.message.seq, 1);
      assert.equal(r2.kind === 'stored' && r2.message.seq, 1);
      assert.equal(r3.kind === 'stored' && r3.message.seq, 2);
      assert.equal(await store.head(a), 2);
      assert.equal(await store.head(freshConv()), 0);
    });

    test('append - 1,000 concurrent appends get seqs 1..1000 with no gap or repeat, in call order', async () => {
      const conv = freshConv();
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => store.append(input(conv, `m${i}`))));
      const seqs = results.map((r) => (r.kind === 'stored' ? r.message.seq : -1));
      assert.deepEqual(seqs, Array.from({ length: 1000 }, (_, i) => i + 1));
      const page = await store.range(conv, 0, 2000);
      assert.deepEqual(page.messages.map((m) => m.id), Array.from({ length: 1000 }, (_, i) => `m${i}`));
    });

    test('append - keeps text, file, sender and ts exactly', async () => {
      const conv = freshConv();
      const file = { url: '/files/abcdefghijklmnopqrstuv', name: 'ä b.png', size: 1234, type: 'image/png' };
      const text = 'hello 👋 "quoted" \n newline';
      const result = await store.append({ conv, id: 'f1', from: bob, text, file, ts: 1764000000123 });
      assert.equal(result.kind, 'stored');
      const [stored] = (await store.range(conv, 0, 10)).messages;
      assert.deepEqual(stored, { type: 'msg', conv, seq: 1, id: 'f1', from: bob, text, file, ts: 1764000000123 });
      const fileOnly = await store.append({ conv, id: 'f2', from: bob, file, ts: 1 });
      assert.ok(fileOnly.kind === 'stored' && fileOnly.message.text === undefined);
      const [second] = (await store.range(conv, 1, 10)).messages;
      assert.equal(second?.text, undefined);
    });

    test('append - the same (conv, id) from the same sender is a duplicate with the original seq and ts', async () => {
      const conv = freshConv();
      const first = await store.append(input(conv, 'dup'));
      await store.append(input(conv, 'other'));
      const again = await store.append({ ...input(conv, 'dup'), ts: 42, text: 'changed' });
      assert.ok(first.kind === 'stored');
      assert.deepEqual(again, { kind: 'duplicate', seq: first.message.seq, ts: first.message.ts });
      assert.equal(await store.head(conv), 2);
      const page = await store.range(conv, 0, 10);
      assert.equal(page.messages.length, 2);
      assert.equal(page.messages[0]?.text, first.message.text);
    });

    test('append - duplicates inside one concurrent burst are stored once', async () => {
      const conv = freshConv();
      const results = await Promise.all([store.append(input(conv, 'x')), store.append(input(conv, 'x')), store.append(input(conv, 'y'))]);
      assert.deepEqual(results.map((r) => r.kind), ['stored', 'duplicate', 'stored']);
      assert.equal(await store.head(conv), 2);
    });

    test('append - the same id from another sender is a conflict and stores nothing', async () => {
      const conv = freshConv();
      await store.append(input(conv, 'taken', alice));
      const result = await store.append(input(conv, 'taken', bob));
      assert.deepEqual(result, { kind: 'conflict' });
      assert.equal(await store.head(conv), 1);
    });

    test('append - the same id in another conversation is a different message', async () => {
      const [a, b] = [freshConv(), freshConv()];
      await store.append(input(a, 'same'));
      const other = await store.append(input(b, 'same', bob));
      assert.equal(other.kind, 'stored');
    });

    test('range and before - page both ways with correct `more`', async () => {
      const conv = freshConv();
      for (let i = 1; i <= 25; i++) await store.append(input(conv, `p${i}`));
      const first = await store.range(conv, 0, 10);
      assert.deepEqual(first.messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(first.more, true);
      const last = await store.range(conv, 20, 10);
      assert.deepEqual(last.messages.map((m) => m.seq), [21, 22, 23, 24, 25]);
      assert.equal(last.more, false);
      const exact = await store.range(conv, 15, 10);
      assert.equal(exact.messages.length, 10);
      assert.equal(exact.more, false);
      const newest = await store.before(conv, Number.MAX_SAFE_INTEGER, 10);
      assert.deepEqual(newest.messages.map((m) => m.seq), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
      assert.equal(newest.more, true);
      const oldest = await store.before(conv, 6, 10);
      assert.deepEqual(oldest.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
      assert.equal(oldest.more, false);
      assert.deepEqual((await store.range(freshConv(), 0, 10)).messages, []);
    });

    test('members - added on first join, renamed later, listed with cursors', async () => {
      const conv = freshConv();
      const first = await store.addMember(conv, alice);
      assert.deepEqual(first, { member: { id: 'alice', name: 'Alice', delivered: 0, read: 0 }, isNew: true });
      const again = await store.addMember(conv, { id: 'alice', name: 'Alice Liddell' });
      assert.equal(again.isNew, false);
      assert.equal(again.member.name, 'Alice Liddell');
      await store.addMember(conv, bob);
      const members = await store.members(conv);
      assert.deepEqual(members.map((m) => [m.id, m.name]).sort(), [['alice', 'Alice Liddell'], ['bob', 'Bob']]);
    });

    test('setCursor - only forward, clamped to head, read lifts delivered, null when unchanged', async () => {
      const conv = freshConv();
      await store.addMember(conv, bob);
      for (let i = 1; i <= 5; i++) await store.append(input(conv, `c${i}`));
      assert.deepEqual(await store.setCursor(conv, 'bob', { delivered: 3 }), { id: 'bob', name: 'Bob', delivered: 3, read: 0 });
      assert.equal(await store.setCursor(conv, 'bob', { delivered: 2 }), null);
      assert.deepEqual(await store.setCursor(conv, 'bob', { read: 4 }), { id: 'bob', name: 'Bob', delivered: 4, read: 4 });
      assert.equal(await store.setCursor(conv, 'bob', { read: 1, delivered: 1 }), null);
      assert.deepEqual(await store.setCursor(conv, 'bob', { delivered: 99 }), { id: 'bob', name: 'Bob', delivered: 5, read: 4 });
      assert.equal(await store.setCursor(conv, 'nobody', { read: 1 }), null);
      const [member] = await store.members(conv);
      assert.deepEqual(member, { id: 'bob', name: 'Bob', delivered: 5, read: 4 });
    });

    test('durability - messages, idempotency, cursors and epoch survive a restart', async () => {
      const conv = freshConv();
      const epoch = await store.epoch();
      assert.ok(epoch.length > 0);
      const stored = await store.append(input(conv, 'keep'));
      await store.addMember(conv, bob);
      await store.setCursor(conv, 'bob', { read: 1 });
      store = await fixture.reopen(store);
      assert.equal(await store.epoch(), epoch);
      assert.ok(stored.kind === 'stored');
      assert.deepEqual(await store.append(input(conv, 'keep')), { kind: 'duplicate', seq: 1, ts: stored.message.ts });
      assert.deepEqual((await store.members(conv))[0], { id: 'bob', name: 'Bob', delivered: 1, read: 1 });
      const next = await store.append(input(conv, 'next'));
      assert.equal(next.kind === 'stored' && next.message.seq, 2);
    });
  });
}
