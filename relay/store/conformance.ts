/**
 * The Store contract, as tests. Every Store implementation runs this same suite (see
 * sqlite.test.ts and postgres.test.ts), so the hub can rely on the behaviour whichever
 * database is behind it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Limits, type LogEvent, type MessageFrame, type Reactions, type UpdateFrame, type User } from '../../protocol/index.js';
import { Authority, type AppendInput, type AppendResult, type Change, type ChangeInput, type ChangeResult, type Store } from './types.js';

export interface StoreFixture {
  /** A store over a new, empty database. */
  create(): Promise<Store>;
  /** Closes `store` and opens a new one over the same database (a restart). */
  reopen(store: Store): Promise<Store>;
  /**
   * A second store over the same database as `store`, as another relay of a cluster opens it.
   * Absent when the store cannot be shared (SQLite: one relay per file).
   */
  share?(store: Store): Promise<Store>;
  /** Removes whatever `create` made. */
  cleanup?(): Promise<void>;
}

const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
let counter = 0;
/** A conversation id no other test uses, so tests can share one database. */
const freshConv = () => `conv-${process.pid}-${Date.now()}-${counter++}`;
const input = (conv: string, id: string, from = alice, text = `text of ${id}`): AppendInput => ({ conv, id, from, text, ts: 1_700_000_000_000 + counter });

const carol = { id: 'carol', name: 'Carol' };
const server = { id: 'server', name: 'Server' };
const file = { url: '/files/abcdefghijklmnopqrstuv', name: 'a.png', size: 10, type: 'image/png' };
let clock = 1_800_000_000_000;
/** A fresh timestamp for a change (update events keep the ts they were given). */
const tick = () => ++clock;

const msgOf = (event: LogEvent | null | undefined): MessageFrame => {
  assert.ok(event?.type === 'msg', `expected a msg, got ${JSON.stringify(event)}`);
  return event;
};
const stored = (result: AppendResult): MessageFrame => {
  assert.ok(result.kind === 'stored', `expected stored, got ${JSON.stringify(result)}`);
  return result.message;
};
const applied = (result: ChangeResult): { update: UpdateFrame; message: MessageFrame } => {
  assert.ok(result.kind === 'stored', `expected stored, got ${JSON.stringify(result)}`);
  return result;
};
const edit = (text: string): Change => ({ kind: 'edit', text });
const del: Change = { kind: 'delete' };
const react = (emoji: string, on = true): Change => ({ kind: 'react', emoji, on });
const changeOf = (conv: string, id: string, by: User, change: Change, authority: Authority = Authority.member, ts = tick()): ChangeInput => ({
  conv,
  id,
  by,
  authority,
  change,
  ts,
});
const fullLog = async (store: Store, conv: string): Promise<LogEvent[]> => (await store.range(conv, 0, 100_000)).messages;

/** The reactions of message `id` rebuilt from the log's react updates, in seq order. */
function foldReactions(events: readonly LogEvent[], id: string): Reactions | undefined {
  const reactions = new Map<string, string[]>();
  for (const e of events) {
    if (e.type !== 'update' || e.id !== id || !e.react) continue;
    const users = (reactions.get(e.react.emoji) ?? []).filter((u) => u !== e.by.id);
    if (e.react.on) users.push(e.by.id);
    if (users.length > 0) reactions.set(e.react.emoji, users);
    else reactions.delete(e.react.emoji);
  }
  return reactions.size > 0 ? Object.fromEntries(reactions) : undefined;
}

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
      assert.equal(second?.type === 'msg' && second.text, undefined);
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
      assert.equal(msgOf(page.messages[0]).text, first.message.text);
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
      assert.deepEqual(first, { member: { id: 'alice', name: 'Alice', delivered: 0, read: 0, since: 0 }, isNew: true });
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
      const bobAt = (delivered: number, read: number) => ({ id: 'bob', name: 'Bob', delivered, read, since: 0 });
      assert.deepEqual(await store.setCursor(conv, 'bob', { delivered: 3 }), bobAt(3, 0));
      assert.equal(await store.setCursor(conv, 'bob', { delivered: 2 }), null);
      assert.deepEqual(await store.setCursor(conv, 'bob', { read: 4 }), bobAt(4, 4));
      assert.equal(await store.setCursor(conv, 'bob', { read: 1, delivered: 1 }), null);
      assert.deepEqual(await store.setCursor(conv, 'bob', { delivered: 99 }), bobAt(5, 4));
      assert.equal(await store.setCursor(conv, 'nobody', { read: 1 }), null);
      const [member] = await store.members(conv);
      assert.deepEqual(member, bobAt(5, 4));
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
      assert.deepEqual((await store.members(conv))[0], { id: 'bob', name: 'Bob', delivered: 1, read: 1, since: 1 });
      const next = await store.append(input(conv, 'next'));
      assert.equal(next.kind === 'stored' && next.message.seq, 2);
    });
  });
  describe(`${name} - v1.1 log: replies, edits, deletions, reactions`, () => {
    let store: Store;
    before(async () => {
      store = await fixture.create();
    });
    after(async () => {
      await store.close();
    });

    test('append - a reply quotes the message it answers; reply_not_found stores nothing; a resend is a duplicate', async () => {
      const conv = freshConv();
      const question = stored(await store.append(input(conv, 'q1', bob, 'the question')));
      const answer = stored(await store.append({ ...input(conv, 'a1'), reply: 'q1' }));
      assert.deepEqual(answer.reply, { id: 'q1', seq: question.seq, from: bob, text: 'the question' });
      assert.deepEqual(await store.append({ ...input(conv, 'a2'), reply: 'nope' }), { kind: 'reply_not_found' });
      assert.deepEqual(await store.append({ ...input(freshConv(), 'a3'), reply: 'q1' }), { kind: 'reply_not_found' }, 'only a message of the same conversation');
      assert.equal(await store.head(conv), 2);
      const duplicate = { kind: 'duplicate', seq: answer.seq, ts: answer.ts };
      assert.deepEqual(await store.append({ ...input(conv, 'a1'), reply: 'q1' }), duplicate);
      assert.deepEqual(await store.append({ ...input(conv, 'a1'), reply: 'gone' }), duplicate, 'the duplicate check comes first');
      assert.deepEqual(await store.message(conv, 'a1'), answer);
      assert.deepEqual(msgOf((await store.range(conv, 1, 10)).messages[0]), answer);
      assert.deepEqual((await store.before(conv, 99, 10)).messages[1], answer);
      assert.equal(await store.message(conv, 'a2'), null);
    });

    test('append - a quote cuts text to 200 characters, keeps a file, and shows the quoted message as it is now', async () => {
      const conv = freshConv();
      const long = stored(await store.append(input(conv, 'long', bob, '😀'.repeat(250))));
      const picture = stored(await store.append({ conv, id: 'pic', from: bob, file, ts: 5 }));
      const r1 = stored(await store.append({ ...input(conv, 'r1'), reply: 'long' }));
      assert.equal(r1.reply?.text, '😀'.repeat(Limits.maxQuoteChars));
      const r2 = stored(await store.append({ ...input(conv, 'r2'), reply: 'pic' }));
      assert.deepEqual(r2.reply, { id: 'pic', seq: picture.seq, from: bob, file });
      applied(await store.change(changeOf(conv, 'long', bob, edit('short now'))));
      assert.deepEqual((await store.message(conv, 'r1'))?.reply, { id: 'long', seq: long.seq, from: bob, text: 'short now' });
      applied(await store.change(changeOf(conv, 'pic', bob, del)));
      const tombstone = { id: 'pic', seq: picture.seq, from: bob, deleted: true };
      assert.deepEqual((await store.message(conv, 'r2'))?.reply, tombstone);
      assert.deepEqual(msgOf((await store.range(conv, r2.seq - 1, 1)).messages[0]).reply, tombstone);
      const r3 = stored(await store.append({ ...input(conv, 'r3'), reply: 'pic' }));
      assert.deepEqual(r3.reply, tombstone, 'a deleted message may still be answered');
    });

    test('change - edit: the author changes the text, the same text is unchanged, others are refused, the server may edit any', async () => {
      const conv = freshConv();
      const m = stored(await store.append(input(conv, 'e1', alice, 'first')));
      const ts = tick();
      assert.deepEqual(await store.change(changeOf(conv, 'e1', alice, edit('second'), Authority.member, ts)), {
        kind: 'stored',
        update: { type: 'update', conv, seq: 2, id: 'e1', by: alice, ts, edit: { text: 'second' } },
        message: { ...m, text: 'second', edited: ts, rev: 2 },
      });
      assert.deepEqual(await store.change(changeOf(conv, 'e1', alice, edit('second'))), { kind: 'unchanged', seq: 2, ts });
      assert.deepEqual(await store.change(changeOf(conv, 'e1', bob, edit('mine now'))), { kind: 'forbidden', reason: 'not_author' });
      assert.deepEqual(await store.change(changeOf(conv, 'e1', bob, edit('mine now'), Authority.moderator)), { kind: 'forbidden', reason: 'not_author' });
      const byServer = applied(await store.change(changeOf(conv, 'e1', server, edit('moderated'), Authority.server)));
      assert.equal(byServer.update.seq, 3);
      assert.deepEqual(byServer.message, { ...m, text: 'moderated', edited: byServer.update.ts, rev: 3 });
      assert.deepEqual(await store.message(conv, 'e1'), byServer.message);
      assert.deepEqual(await store.change(changeOf(conv, 'nope', alice, edit('x'))), { kind: 'not_found' });
      assert.deepEqual(await store.change(changeOf(freshConv(), 'e1', alice, edit('x'))), { kind: 'not_found' });
      const plain = stored(await store.append(input(conv, 'e2', alice, 'same')));
      assert.deepEqual(await store.change(changeOf(conv, 'e2', alice, edit('same'))), { kind: 'unchanged', seq: plain.seq, ts: plain.ts });
      const fileOnly = stored(await store.append({ conv, id: 'e3', from: alice, file, ts: 7 }));
      assert.deepEqual(applied(await store.change(changeOf(conv, 'e3', alice, edit('caption')))).message.text, 'caption');
      assert.equal(fileOnly.seq, 5);
      assert.equal(await store.head(conv), 6);
    });

    test('change - delete: the author, a moderator or the server; the tombstone has no text or file; again is unchanged; a deleted message is frozen', async () => {
      const conv = freshConv();
      const m = stored(await store.append({ conv, id: 'd1', from: alice, text: 'oops', file, ts: 11 }));
      const reaction = applied(await store.change(changeOf(conv, 'd1', bob, react('👍'))));
      assert.deepEqual(await store.change(changeOf(conv, 'd1', bob, del)), { kind: 'forbidden', reason: 'not_author' });
      const ts = tick();
      const deleted = applied(await store.change(changeOf(conv, 'd1', carol, del, Authority.moderator, ts)));
      assert.deepEqual(deleted.update, { type: 'update', conv, seq: 3, id: 'd1', by: carol, ts, delete: true });
      assert.deepEqual(deleted.message, {
        type: 'msg',
        conv,
        seq: m.seq,
        id: 'd1',
        from: alice,
        ts: 11,
        deleted: true,
        reactions: reaction.message.reactions,
        rev: 3,
      });
      assert.deepEqual(await store.change(changeOf(conv, 'd1', alice, del)), { kind: 'unchanged', seq: 3, ts });
      assert.deepEqual(await store.change(changeOf(conv, 'd1', alice, edit('back'))), { kind: 'forbidden', reason: 'deleted' });
      assert.deepEqual(await store.change(changeOf(conv, 'd1', bob, react('🎉'))), { kind: 'forbidden', reason: 'deleted' });
      assert.deepEqual(await store.change(changeOf(conv, 'd1', bob, react('👍', false))), { kind: 'forbidden', reason: 'deleted' });
      assert.deepEqual(await store.message(conv, 'd1'), deleted.message);
      stored(await store.append(input(conv, 'd2', alice)));
      stored(await store.append(input(conv, 'd3', bob)));
      assert.equal(applied(await store.change(changeOf(conv, 'd2', alice, del))).message.deleted, true);
      assert.equal(applied(await store.change(changeOf(conv, 'd3', server, del, Authority.server))).message.deleted, true);
      assert.deepEqual(
        (await store.before(conv, 99, 10)).messages.map((x) => [x.id, x.deleted, x.text]),
        [
          ['d1', true, undefined],
          ['d2', true, undefined],
          ['d3', true, undefined],
        ],
      );
    });

    test('change - react: users in the order they reacted, off removes, an emoji with no users disappears, the same state is unchanged', async () => {
      const conv = freshConv();
      stored(await store.append(input(conv, 'r', alice)));
      const step = async (by: User, emoji: string, on: boolean) => applied(await store.change(changeOf(conv, 'r', by, react(emoji, on))));
      const first = await step(bob, '👍', true);
      assert.deepEqual(first.update.react, { emoji: '👍', on: true });
      assert.deepEqual(first.message.reactions, { '👍': ['bob'] });
      assert.deepEqual((await step(alice, '👍', true)).message.reactions, { '👍': ['bob', 'alice'] });
      const third = await step(bob, '🎉', true);
      assert.deepEqual(third.message.reactions, { '👍': ['bob', 'alice'], '🎉': ['bob'] });
      assert.deepEqual(Object.keys(third.message.reactions!), ['👍', '🎉']);
      assert.deepEqual(await store.change(changeOf(conv, 'r', bob, react('👍'))), { kind: 'unchanged', seq: third.update.seq, ts: third.update.ts });
      assert.deepEqual((await step(bob, '👍', false)).message.reactions, { '👍': ['alice'], '🎉': ['bob'] });
      assert.deepEqual((await step(bob, '👍', true)).message.reactions, { '👍': ['alice', 'bob'], '🎉': ['bob'] });
      const gone = await step(bob, '🎉', false);
      assert.deepEqual(gone.message.reactions, { '👍': ['alice', 'bob'] });
      assert.deepEqual(await store.change(changeOf(conv, 'r', bob, react('🎉', false))), { kind: 'unchanged', seq: gone.update.seq, ts: gone.update.ts });
      assert.deepEqual(await store.change(changeOf(conv, 'r', carol, react('❤️', false))), { kind: 'unchanged', seq: gone.update.seq, ts: gone.update.ts });
      await step(alice, '👍', false);
      const none = await step(bob, '👍', false);
      assert.equal('reactions' in none.message, false, 'no reactions left: no reactions field');
      const events = await fullLog(store, conv);
      assert.equal(foldReactions(events, 'r'), undefined);
      assert.deepEqual(await store.message(conv, 'r'), none.message);
    });

    test('change - at most 20 distinct emoji on a message: the 21st is too_many_reactions, more users on one of the 20 are fine', async () => {
      const conv = freshConv();
      stored(await store.append(input(conv, 'many', alice)));
      const emoji = Array.from({ length: Limits.maxReactionsPerMessage + 1 }, (_, i) => String.fromCodePoint(0x1f600 + i));
      for (const e of emoji.slice(0, -1)) applied(await store.change(changeOf(conv, 'many', bob, react(e))));
      const head = await store.head(conv);
      assert.deepEqual(await store.change(changeOf(conv, 'many', carol, react(emoji.at(-1)!))), { kind: 'too_many_reactions' });
      assert.equal(await store.head(conv), head, 'a refused change stores nothing');
      const more = applied(await store.change(changeOf(conv, 'many', carol, react(emoji[0]!))));
      assert.deepEqual(Object.keys(more.message.reactions!), emoji.slice(0, -1));
      assert.deepEqual(more.message.reactions![emoji[0]!], ['bob', 'carol']);
      applied(await store.change(changeOf(conv, 'many', bob, react(emoji[3]!, false))));
      assert.equal(applied(await store.change(changeOf(conv, 'many', carol, react(emoji.at(-1)!)))).message.reactions![emoji.at(-1)!]?.length, 1);
    });

    test('range - the log holds msg and update events ascending, each with its type; before holds messages only, in their current state', async () => {
      const conv = freshConv();
      stored(await store.append(input(conv, 'a1')));
      stored(await store.append(input(conv, 'a2', bob)));
      applied(await store.change(changeOf(conv, 'a1', alice, edit('a1 edited'))));
      applied(await store.change(changeOf(conv, 'a2', alice, react('👍'))));
      stored(await store.append(input(conv, 'a3')));
      const deletion = applied(await store.change(changeOf(conv, 'a1', alice, del)));
      const events = await fullLog(store, conv);
      assert.deepEqual(
        events.map((e) => [e.seq, e.type, e.id]),
        [
          [1, 'msg', 'a1'],
          [2, 'msg', 'a2'],
          [3, 'update', 'a1'],
          [4, 'update', 'a2'],
          [5, 'msg', 'a3'],
          [6, 'update', 'a1'],
        ],
      );
      assert.deepEqual(events[0], deletion.message, 'a msg in the log is in its current state');
      assert.deepEqual(events[2], { type: 'update', conv, seq: 3, id: 'a1', by: alice, ts: (events[2] as UpdateFrame).ts, edit: { text: 'a1 edited' } });
      assert.deepEqual(msgOf(events[1]).rev, 4);
      assert.deepEqual(foldReactions(events, 'a2'), msgOf(events[1]).reactions);
      const page = await store.range(conv, 0, 3);
      assert.deepEqual([page.messages.map((e) => e.seq), page.more], [[1, 2, 3], true]);
      const middle = await store.range(conv, 2, 2);
      assert.deepEqual([middle.messages.map((e) => e.seq), middle.more], [[3, 4], true]);
      const last = await store.range(conv, 3, 3);
      assert.deepEqual([last.messages.map((e) => e.seq), last.more], [[4, 5, 6], false]);
      const newest = await store.before(conv, Number.MAX_SAFE_INTEGER, 10);
      assert.deepEqual([newest.messages.map((m) => [m.type, m.seq]), newest.more], [[['msg', 1], ['msg', 2], ['msg', 5]], false]);
      const older = await store.before(conv, 5, 1);
      assert.deepEqual([older.messages.map((m) => m.seq), older.more], [[2], true]);
      assert.equal(await store.head(conv), 6);
    });

    test('change - keeps call order with append: a change sent right after its message finds it', async () => {
      const conv = freshConv();
      const [sent, changed, reacted] = await Promise.all([
        store.append(input(conv, 'fast')),
        store.change(changeOf(conv, 'fast', alice, edit('fixed'))),
        store.change(changeOf(conv, 'fast', bob, react('👀'))),
      ]);
      assert.equal(stored(sent).seq, 1);
      assert.equal(applied(changed).update.seq, 2);
      assert.deepEqual(applied(reacted).message, { ...stored(sent), text: 'fixed', edited: applied(changed).update.ts, reactions: { '👀': ['bob'] }, rev: 3 });
      const [early, late] = await Promise.all([store.change(changeOf(conv, 'slow', alice, edit('x'))), store.append(input(conv, 'slow'))]);
      assert.deepEqual(early, { kind: 'not_found' });
      assert.equal(stored(late).seq, 4);
    });

    test('append and change - settle in call order, so acks go out in the order the frames came', async () => {
      const conv = freshConv();
      const order: string[] = [];
      const track = <T>(label: string, p: Promise<T>) => p.then((v) => (order.push(label), v));
      await Promise.all([
        track('send m1', store.append(input(conv, 'm1'))),
        track('edit m1', store.change(changeOf(conv, 'm1', alice, edit('e')))),
        track('send m2', store.append(input(conv, 'm2'))),
        track('react m2', store.change(changeOf(conv, 'm2', bob, react('👍')))),
        track('send m3', store.append(input(conv, 'm3'))),
      ]);
      assert.deepEqual(order, ['send m1', 'edit m1', 'send m2', 'react m2', 'send m3']);
    });

    test('replay - a retried change is unchanged with the same seq; a whole session replayed stores nothing new', async () => {
      const conv = freshConv();
      const session: Array<() => Promise<unknown>> = [
        () => store.append(input(conv, 's1', alice, 'hi')),
        () => store.append({ conv, id: 's2', from: bob, text: 'hello', ts: 2, reply: 's1' }),
        () => store.change(changeOf(conv, 's1', alice, edit('hi there'), Authority.member, 3)),
        () => store.change(changeOf(conv, 's1', bob, react('👋'), Authority.member, 4)),
        () => store.change(changeOf(conv, 's2', carol, react('👋'), Authority.member, 5)),
        () => store.change(changeOf(conv, 's2', bob, del, Authority.member, 6)),
        () => store.addMember(conv, carol),
      ];
      const seqs: number[] = [];
      for (const step of session) {
        const first = (await step()) as { kind?: string; message?: MessageFrame; update?: UpdateFrame };
        const again = (await step()) as { kind?: string; seq?: number };
        if (first.kind === 'stored') {
          const seq = first.update?.seq ?? first.message!.seq;
          seqs.push(seq);
          assert.equal(again.kind, first.update ? 'unchanged' : 'duplicate');
          assert.equal(again.seq, seq, 'a retry answers the seq of what it already did');
        }
      }
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6]);
      const log = await fullLog(store, conv);
      const members = await store.members(conv);
      for (const step of session) await step();
      assert.equal(await store.head(conv), 6);
      assert.deepEqual(await fullLog(store, conv), log);
      assert.deepEqual(await store.members(conv), members);
    });
  });

  describe(`${name} - v1.1 members and bans`, () => {
    let store: Store;
    before(async () => {
      store = await fixture.create();
    });
    after(async () => {
      await store.close();
    });

    test('members - since is the head at the first join; seen only moves forward; banned only while a ban is in force', async () => {
      const conv = freshConv();
      assert.deepEqual((await store.addMember(conv, alice)).member, { id: 'alice', name: 'Alice', delivered: 0, read: 0, since: 0 });
      for (let i = 0; i < 3; i++) stored(await store.append(input(conv, `m${i}`)));
      applied(await store.change(changeOf(conv, 'm0', alice, edit('changed'))));
      assert.deepEqual(await store.addMember(conv, bob), { member: { id: 'bob', name: 'Bob', delivered: 0, read: 0, since: 4 }, isNew: true });
      stored(await store.append(input(conv, 'm3')));
      assert.deepEqual(await store.addMember(conv, bob), { member: { id: 'bob', name: 'Bob', delivered: 0, read: 0, since: 4 }, isNew: false });
      await store.setSeen(conv, 'bob', 1000);
      await store.setSeen(conv, 'bob', 500);
      await store.setSeen(conv, 'nobody', 500);
      assert.deepEqual(await store.members(conv), [
        { id: 'alice', name: 'Alice', delivered: 0, read: 0, since: 0 },
        { id: 'bob', name: 'Bob', delivered: 0, read: 0, since: 4, seen: 1000 },
      ]);
      await store.setSeen(conv, 'bob', 2000);
      assert.deepEqual((await store.addMember(conv, { id: 'bob', name: 'Robert' })).member, {
        id: 'bob',
        name: 'Robert',
        delivered: 0,
        read: 0,
        since: 4,
        seen: 2000,
      });
      await store.ban({ conv, user: 'bob', until: Date.now() + 3_600_000 });
      await store.ban({ conv, user: 'alice', until: Date.now() - 1 });
      await store.ban({ conv, user: 'nobody' });
      assert.deepEqual(
        (await store.members(conv)).map((m) => [m.id, m.banned]),
        [
          ['alice', undefined],
          ['bob', true],
        ],
      );
      assert.equal(await store.unban(conv, 'bob'), true);
      assert.equal(await store.unban(conv, 'bob'), false);
      assert.equal((await store.members(conv))[1]?.banned, undefined);
    });

    test('bans - banOf respects until; a new ban replaces the old; unban lifts it; bans are per conversation', async () => {
      const conv = freshConv();
      assert.equal(await store.banOf(conv, 'bob', 0), null);
      await store.ban({ conv, user: 'bob', until: 5000 });
      assert.deepEqual(await store.banOf(conv, 'bob', 4999), { conv, user: 'bob', until: 5000 });
      assert.equal(await store.banOf(conv, 'bob', 5000), null, 'a ban ends at until');
      assert.equal(await store.banOf(freshConv(), 'bob', 0), null);
      assert.equal(await store.banOf(conv, 'alice', 0), null);
      await store.ban({ conv, user: 'bob' });
      assert.deepEqual(await store.banOf(conv, 'bob', Number.MAX_SAFE_INTEGER), { conv, user: 'bob' });
      await store.ban({ conv, user: 'bob', until: 9000 });
      assert.deepEqual(await store.banOf(conv, 'bob', 0), { conv, user: 'bob', until: 9000 });
      assert.equal(await store.unban(conv, 'bob'), true);
      assert.equal(await store.banOf(conv, 'bob', 0), null);
    });

    test('durability - changes, seen and bans survive a restart', async () => {
      const conv = freshConv();
      stored(await store.append(input(conv, 'k1')));
      const change = applied(await store.change(changeOf(conv, 'k1', bob, react('🔥'))));
      await store.addMember(conv, bob);
      await store.setSeen(conv, 'bob', 77);
      await store.ban({ conv, user: 'carol', until: 123 });
      const log = await fullLog(store, conv);
      store = await fixture.reopen(store);
      assert.deepEqual(await fullLog(store, conv), log);
      assert.deepEqual(await store.message(conv, 'k1'), change.message);
      assert.equal((await store.members(conv))[0]?.seen, 77);
      assert.deepEqual(await store.banOf(conv, 'carol', 100), { conv, user: 'carol', until: 123 });
      assert.deepEqual(await store.change(changeOf(conv, 'k1', bob, react('🔥'))), { kind: 'unchanged', seq: 2, ts: change.update.ts });
    });
  });

  describe(`${name} - v1.1 webhook queue`, () => {
    const stores: Store[] = [];
    const fresh = async () => {
      const s = await fixture.create();
      stores.push(s);
      return s;
    };
    after(async () => {
      await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
    });
    const claim = (s: Store, owner: string, now: number, limit = 10, leaseMs = 60_000) => s.claimWebhooks(owner, now, leaseMs, limit);
    const ids = (claimed: ReadonlyArray<{ event: { conv: string; data: unknown } }>) =>
      claimed.map((c) => [c.event.conv, (c.event.data as { id: string }).id]);

    test('webhooks - off by default; once enabled every stored message, change and first join is queued in order, with unique ids', async () => {
      const s = await fresh();
      const conv = freshConv();
      stored(await s.append(input(conv, 'before')));
      await s.addMember(conv, alice);
      assert.equal(await s.webhookBacklog(), 0);
      assert.deepEqual(await claim(s, 'r1', Date.now()), []);
      s.enableWebhooks();
      const created = stored(await s.append(input(conv, 'w1', alice, 'hello')));
      const joined = await s.addMember(conv, bob);
      await s.addMember(conv, bob);
      await s.addMember(conv, alice);
      const edited = applied(await s.change(changeOf(conv, 'w1', alice, edit('hello!'))));
      const reacted = applied(await s.change(changeOf(conv, 'w1', bob, react('👍'))));
      const deleted = applied(await s.change(changeOf(conv, 'w1', alice, del)));
      // Nothing stored, nothing queued:
      await s.change(changeOf(conv, 'w1', alice, del));
      await s.change(changeOf(conv, 'w1', bob, react('🎉')));
      await s.append(input(conv, 'w1', alice, 'hello'));
      await s.append({ ...input(conv, 'w2'), reply: 'nope' });
      assert.equal(await s.webhookBacklog(), 5);
      const expected = [
        { type: 'message.created', ts: created.ts, data: created },
        { type: 'member.joined', data: joined.member },
        { type: 'message.updated', ts: edited.update.ts, data: edited.message },
        { type: 'message.updated', ts: reacted.update.ts, data: reacted.message },
        { type: 'message.deleted', ts: deleted.update.ts, data: deleted.message },
      ];
      const seen = new Set<string>();
      for (const want of expected) {
        const got = await claim(s, 'r1', Date.now());
        assert.equal(got.length, 1, 'one event per conversation at a time');
        const [{ id, event, attempts }] = got as [(typeof got)[0]];
        assert.equal(event.id, id);
        assert.equal(attempts, 0);
        assert.ok(!seen.has(id), `id ${id} is unique`);
        seen.add(id);
        assert.equal(event.conv, conv);
        assert.equal(event.type, want.type);
        assert.deepEqual(event.data, want.data);
        if (want.ts !== undefined) assert.equal(event.ts, want.ts);
        else assert.equal(typeof event.ts, 'number');
        await s.completeWebhook(id, 'r1');
      }
      assert.equal(await s.webhookBacklog(), 0);
      assert.deepEqual(await claim(s, 'r1', Date.now()), []);
    });

    test('webhooks - one event per conversation at a time, oldest first; a failed event holds its conversation back until it is due', async () => {
      const s = await fresh();
      s.enableWebhooks();
      const [a, b] = [freshConv(), freshConv()];
      for (const [conv, id] of [[a, 'a1'], [a, 'a2'], [b, 'b1'], [a, 'a3']] as const) stored(await s.append(input(conv, id)));
      const first = await claim(s, 'r1', 1000);
      assert.deepEqual(ids(first), [[a, 'a1'], [b, 'b1']]);
      assert.deepEqual(await claim(s, 'r1', 1000), [], 'leased events are not handed out again, not even to their owner');
      await s.failWebhook(first[0]!.id, 'r1', 5000, 'HTTP 500');
      assert.deepEqual(await claim(s, 'r1', 4999), [], 'a2 waits behind a1');
      await s.completeWebhook(first[1]!.id, 'r1');
      assert.deepEqual(await claim(s, 'r1', 4999), []);
      assert.equal(await s.webhookBacklog(), 3);
      const retried = await claim(s, 'r2', 5000);
      assert.deepEqual(ids(retried), [[a, 'a1']]);
      assert.equal(retried[0]!.attempts, 1);
      assert.equal(retried[0]!.id, first[0]!.id, 'the id is stable across attempts');
      await s.failWebhook(retried[0]!.id, 'r1', 0, 'not the owner: ignored');
      assert.deepEqual(await claim(s, 'r1', 6000), []);
      await s.completeWebhook(retried[0]!.id, 'r2');
      const next = await claim(s, 'r2', 6000, 1);
      assert.deepEqual(ids(next), [[a, 'a2']]);
      assert.equal(next[0]!.attempts, 0);
      await s.completeWebhook(next[0]!.id, 'r2');
      assert.deepEqual(ids(await claim(s, 'r2', 6000)), [[a, 'a3']]);
    });

    test('webhooks - a lease runs out: another owner gets the event, the stale owner can neither complete nor fail it', async () => {
      const s = await fresh();
      s.enableWebhooks();
      const conv = freshConv();
      stored(await s.append(input(conv, 'l1')));
      const [leased] = await claim(s, 'r1', 0, 10, 1000);
      assert.ok(leased);
      assert.deepEqual(await claim(s, 'r2', 999), []);
      const [taken] = await claim(s, 'r2', 1000, 10, 1000);
      assert.equal(taken?.id, leased.id);
      await s.completeWebhook(leased.id, 'r1');
      await s.failWebhook(leased.id, 'r1', 0, 'late');
      assert.equal(await s.webhookBacklog(), 1);
      assert.deepEqual(await claim(s, 'r3', 1999), [], 'still leased by r2');
      await s.completeWebhook(leased.id, 'r2');
      assert.equal(await s.webhookBacklog(), 0);
    });

    test('webhooks - queued events survive a restart', async () => {
      let s = await fresh();
      s.enableWebhooks();
      const conv = freshConv();
      const m = stored(await s.append(input(conv, 'kept')));
      const index = stores.indexOf(s);
      s = await fixture.reopen(s);
      stores[index] = s;
      const [event] = await claim(s, 'r1', Date.now());
      assert.deepEqual(event?.event.data, m);
      await s.completeWebhook(event!.id, 'r1');
      assert.equal(await s.webhookBacklog(), 0);
    });
  });

  if (fixture.share) {
    const share = fixture.share.bind(fixture);
    describe(`${name} - v1.1 several relays on one database`, () => {
      const stores: Store[] = [];
      const pair = async (): Promise<[Store, Store]> => {
        const a = await fixture.create();
        const b = await share(a);
        stores.push(a, b);
        return [a, b];
      };
      after(async () => {
        await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
      });

      test('cluster - reactions and appends through two stores at once: every reaction kept, seqs gap-free, the log replays to the stored state', async () => {
        const [a, b] = await pair();
        const conv = freshConv();
        stored(await a.append(input(conv, 'hot')));
        const emoji = ['👍', '🎉', '❤️', '😂'];
        const users = Array.from({ length: 48 }, (_, i) => ({ id: `u${i}`, name: `U${i}` }));
        const seqs: number[] = [];
        // Rounds of batches racing each other: both stores write the same message at the same time.
        for (let round = 0; round < 6; round++) {
          const mine = users.slice(round * 8, round * 8 + 8);
          const results = await Promise.all([
            ...mine.map((u, i) => (i % 2 ? a : b).change(changeOf(conv, 'hot', u, react(emoji[i % 4]!)))),
            ...mine.map((u, i) => (i % 2 ? b : a).append(input(conv, `m${u.id}`, u))),
          ]);
          for (const r of results) seqs.push(r.kind === 'stored' ? ('update' in r ? r.update.seq : r.message.seq) : -1);
        }
        assert.deepEqual(
          seqs.sort((x, y) => x - y),
          Array.from({ length: 96 }, (_, i) => i + 2),
        );
        const events = await fullLog(b, conv);
        assert.deepEqual(
          events.map((e) => e.seq),
          Array.from({ length: 97 }, (_, i) => i + 1),
        );
        const hot = (await a.message(conv, 'hot'))!;
        for (const [i, e] of emoji.entries()) {
          assert.deepEqual([...(hot.reactions?.[e] ?? [])].sort(), users.filter((_, j) => j % 4 === i).map((u) => u.id).sort());
        }
        assert.deepEqual(hot.reactions, foldReactions(events, 'hot'), 'the stored order is the log order');
        assert.equal(hot.rev, Math.max(...events.filter((e) => e.type === 'update').map((e) => e.seq)));
      });

      test('cluster - edits and deletes of one message through two stores at once: one outcome, the log order', async () => {
        const [a, b] = await pair();
        const conv = freshConv();
        stored(await a.append(input(conv, 'e')));
        const edits = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).change(changeOf(conv, 'e', alice, edit(`v${i}`)))));
        const lastEdit = edits.map(applied).reduce((x, y) => (x.update.seq > y.update.seq ? x : y));
        assert.equal((await b.message(conv, 'e'))?.text, lastEdit.update.edit?.text);
        const deletes = await Promise.all([a.change(changeOf(conv, 'e', alice, del)), b.change(changeOf(conv, 'e', carol, del, Authority.moderator))]);
        const done = deletes.filter((r) => r.kind === 'stored').map(applied);
        assert.equal(done.length, 1, 'exactly one delete is stored');
        const other = deletes.find((r) => r.kind !== 'stored');
        assert.deepEqual(other, { kind: 'unchanged', seq: done[0]!.update.seq, ts: done[0]!.update.ts });
        assert.equal(await a.head(conv), 12);
      });

      test('cluster - a first join through two stores at once is new once, and queued once', async () => {
        const [a, b] = await pair();
        a.enableWebhooks();
        b.enableWebhooks();
        const conv = freshConv();
        const joins = await Promise.all([a.addMember(conv, bob), b.addMember(conv, bob), a.addMember(conv, bob), b.addMember(conv, bob)]);
        assert.equal(joins.filter((j) => j.isNew).length, 1);
        assert.equal(await a.webhookBacklog(), 1);
      });

      test('cluster - webhooks: two stores claiming at once never get the same event, and each conversation goes out in seq order', async () => {
        const [a, b] = await pair();
        a.enableWebhooks();
        b.enableWebhooks();
        const convs = Array.from({ length: 24 }, () => freshConv());
        await Promise.all(convs.flatMap((conv, c) => [0, 1, 2].map((i) => ((c + i) % 2 ? a : b).append(input(conv, `m${i}`)))));
        assert.equal(await b.webhookBacklog(), 72);
        const delivered = new Map<string, number[]>();
        const claimedIds = new Set<string>();
        const now = Date.now();
        // Six claimers at once (three per store), each taking a few events per round.
        const claimers = (['A1', 'A2', 'A3', 'B1', 'B2', 'B3'] as const).map((owner) => ({ owner, store: owner.startsWith('A') ? a : b }));
        for (let round = 0; claimedIds.size < 72; round++) {
          assert.ok(round < 200, 'claims make progress');
          const claims = await Promise.all(claimers.map(({ owner, store: s }) => s.claimWebhooks(owner, now, 60_000, 4)));
          for (const claimed of claims) {
            for (const c of claimed) {
              assert.ok(!claimedIds.has(c.id), `${c.id} claimed twice`);
              claimedIds.add(c.id);
              const data = c.event.data as MessageFrame;
              delivered.set(c.event.conv, [...(delivered.get(c.event.conv) ?? []), data.seq]);
            }
          }
          await Promise.all(claims.flatMap((claimed, i) => claimed.map((c) => claimers[i]!.store.completeWebhook(c.id, claimers[i]!.owner))));
        }
        for (const conv of convs) assert.deepEqual(delivered.get(conv), [1, 2, 3]);
        assert.equal(await a.webhookBacklog(), 0);
      });

      test('cluster - webhooks: a lease taken by one store holds until it runs out, then the other store gets the event', async () => {
        const [a, b] = await pair();
        a.enableWebhooks();
        const conv = freshConv();
        stored(await a.append(input(conv, 'x')));
        const [mine] = await a.claimWebhooks('A', 10_000, 5000, 10);
        assert.ok(mine);
        assert.deepEqual(await b.claimWebhooks('B', 14_999, 5000, 10), []);
        const [theirs] = await b.claimWebhooks('B', 15_000, 5000, 10);
        assert.equal(theirs?.id, mine.id);
        await a.completeWebhook(mine.id, 'A');
        assert.equal(await b.webhookBacklog(), 1, 'the stale owner cannot complete it');
        await b.completeWebhook(mine.id, 'B');
        assert.equal(await a.webhookBacklog(), 0);
      });
    });
  }
}
