/**
 * Protocol v1.1 in the client core, with a scripted socket and a hand-driven clock: updates
 * (edit, delete, react) from the log, live and replayed; the user's own changes, optimistic,
 * queued in the outbox and rolled back when refused; replies; presence; bans and removal.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { Member } from '../../protocol/index.js';
import { createClient as createChatClient } from './session.js';
import { FakeClock } from './test/fake-clock.js';
import { FakeSocket } from './test/fake-socket.js';
import { MemoryStorage } from './test/memory-storage.js';
import type { ChatClient, ChatClientEvent, ChatMessage } from './types.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const member = (id: string, extra: Partial<Member> = {}): Member => ({ id, name: id.toUpperCase(), delivered: 0, read: 0, ...extra });
const msg = (seq: number, from = 'bob', id = `m${seq}`, extra: object = {}) => ({
  type: 'msg',
  conv: 'c1',
  seq,
  id,
  from: { id: from, name: from.toUpperCase() },
  text: `t${seq}`,
  ts: seq,
  ...extra,
});
const update = (seq: number, id: string, change: object, by = 'bob') => ({ type: 'update', conv: 'c1', seq, id, by: { id: by, name: by.toUpperCase() }, ts: seq * 100, ...change });

interface Frame {
  type: string;
  [key: string]: unknown;
}

async function setup(options: { storage?: MemoryStorage; conversation?: string; token?: string } = {}) {
  const clock = new FakeClock();
  const storage = options.storage ?? new MemoryStorage();
  const who = options.token ? { token: options.token } : { user: 'alice', name: 'Alice' };
  const client = createChatClient(
    { relay: 'ws://relay.test/ws', conversation: options.conversation ?? 'c1', ...who, storage, WebSocket: FakeSocket as unknown as typeof WebSocket },
    { clock, network: { online: true, subscribe: () => () => {} } },
  );
  const events: ChatClientEvent[] = [];
  client.on((e) => events.push(e));
  await client.start();
  return { clock, client, storage, events };
}

function connect(): { socket: FakeSocket; join: Frame | undefined } {
  const socket = FakeSocket.last;
  socket.open();
  socket.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } });
  return { socket, join: sent(socket, 'join').at(-1) };
}

function sent(socket: FakeSocket, type: string): Frame[] {
  return socket.sentOfType(type) as Frame[];
}

function joined(socket: FakeSocket, join: Frame, head: number, extra: object = {}): void {
  socket.receive({ type: 'joined', conv: 'c1', epoch: 'E1', head, members: [member('alice'), member('bob')], typing: [], ref: join.ref, ...extra });
}

/** Connected and joined at `head` with messages 1..head from bob replayed. */
async function ready(head = 3, options: Parameters<typeof setup>[0] = {}) {
  const made = await setup(options);
  const { socket, join } = connect();
  joined(socket, join!, head);
  for (let seq = 1; seq <= head; seq++) socket.receive(msg(seq));
  await settle();
  return { ...made, socket };
}

const view = (client: ChatClient, id: string): ChatMessage | undefined => client.snapshot.messages.find((m) => m.id === id);
const errors = (events: ChatClientEvent[]) => events.filter((e) => e.type === 'error');

describe('edits', () => {
  beforeEach(() => FakeSocket.reset());

  test('edits - live updates change the message they name; a replay of the same updates after a re-join changes nothing', async () => {
    const { client, socket, clock } = await ready(3);
    socket.receive(update(4, 'm1', { edit: { text: 'fixed' } }));
    socket.receive(update(5, 'm2', { react: { emoji: '👍', on: true } }, 'alice'));
    socket.receive(update(6, 'm3', { delete: true }));
    socket.receive(update(7, 'm2', { react: { emoji: '👍', on: true } }, 'carol'));
    const check = () => {
      assert.deepEqual([view(client, 'm1')?.text, view(client, 'm1')?.edited], ['fixed', 400]);
      assert.deepEqual(view(client, 'm2')?.reactions, [{ emoji: '👍', users: ['alice', 'carol'], mine: true }]);
      assert.deepEqual([view(client, 'm3')?.deleted, view(client, 'm3')?.text], [true, undefined]);
      assert.deepEqual(client.snapshot.messages.map((m) => m.seq), [1, 2, 3], 'updates are no timeline items');
    };
    check();
    // The connection drops; the re-join asks after 7, but the relay replays more (an earlier join of another tab, say).
    socket.drop();
    clock.advance(1000);
    const again = connect();
    assert.equal(again.join?.after, 7, 'updates count in the log held');
    joined(again.socket, again.join!, 7);
    for (const frame of [msg(2, 'bob', 'm2', { reactions: { '👍': ['alice', 'carol'] }, rev: 7 }), update(5, 'm2', { react: { emoji: '👍', on: true } }, 'alice'), update(7, 'm2', { react: { emoji: '👍', on: true } }, 'carol')]) {
      again.socket.receive(frame);
    }
    check();
  });

  test('edits - an update that arrives before a missing seq waits; the gap is filled with history after, holding both kinds', async () => {
    const { client, socket } = await ready(3);
    socket.receive(update(5, 'm4', { edit: { text: 'edited 4' } }));
    assert.equal(view(client, 'm4'), undefined);
    const ask = sent(socket, 'history').at(-1)!;
    assert.deepEqual({ after: ask.after, limit: ask.limit }, { after: 3, limit: 1 });
    socket.receive({ type: 'history', conv: 'c1', messages: [msg(4), update(5, 'm4', { edit: { text: 'edited 4' } })], more: false, ref: ask.ref });
    assert.deepEqual([view(client, 'm4')?.seq, view(client, 'm4')?.text], [4, 'edited 4']);
    // An update for a message this device does not hold (older than the first page) is skipped.
    socket.receive(update(6, 'm-old', { delete: true }));
    assert.equal(client.snapshot.messages.length, 4);
    socket.receive(msg(7));
    assert.deepEqual(client.snapshot.messages.map((m) => m.seq), [1, 2, 3, 4, 7]);
  });

  test('edits - an edit shows at once as pending, goes out with a ref, and stays after its ack until the update confirms it', async () => {
    const { client, socket } = await ready(3);
    const { id } = client.send('my message');
    await settle();
    socket.receive({ type: 'ack', conv: 'c1', id, seq: 4, ts: 40 });
    socket.receive(msg(4, 'alice', id, { text: 'my message' }));
    client.edit(id, 'my edited message');
    assert.deepEqual([view(client, id)?.text, view(client, id)?.pending], ['my edited message', ['edit']]);
    await settle();
    const edit = sent(socket, 'edit').at(-1)!;
    assert.deepEqual({ ...edit, ref: typeof edit.ref }, { type: 'edit', conv: 'c1', id, text: 'my edited message', ref: 'string' });
    socket.receive({ type: 'ack', conv: 'c1', id, seq: 5, ts: 50, ref: edit.ref });
    await settle();
    assert.deepEqual([view(client, id)?.text, view(client, id)?.pending], ['my edited message', undefined]);
    socket.receive(update(5, id, { edit: { text: 'my edited message' } }, 'alice'));
    assert.deepEqual([view(client, id)?.text, view(client, id)?.edited], ['my edited message', 500]);
  });

  test('edits - a change to an own message still being sent goes out only after that message is acked', async () => {
    const { client, socket } = await ready(0);
    const { id } = client.send('typo');
    client.edit(id, 'no typo');
    client.react(id, '🎉', true);
    await settle();
    assert.deepEqual(sent(socket, 'send').map((f) => f.id), [id]);
    assert.deepEqual([sent(socket, 'edit').length, sent(socket, 'react').length], [0, 0]);
    assert.deepEqual([view(client, id)?.text, view(client, id)?.pending, view(client, id)?.status], ['no typo', ['edit', 'react'], 'sending']);
    socket.receive({ type: 'ack', conv: 'c1', id, seq: 1, ts: 10 });
    await settle();
    assert.equal(sent(socket, 'edit').length, 1);
    assert.equal(sent(socket, 'react').length, 0, 'one change of a message at a time, in order');
    socket.receive({ type: 'ack', conv: 'c1', id, seq: 2, ts: 20, ref: sent(socket, 'edit')[0]!.ref });
    await settle();
    assert.deepEqual(sent(socket, 'react').map((f) => [f.emoji, f.on]), [['🎉', true]]);
  });

  test('edits - a refused change is rolled back, with the code on the message and in an error event', async () => {
    const { client, socket, events } = await ready(3);
    client.react('m1', '👍', true);
    assert.deepEqual(view(client, 'm1')?.reactions, [{ emoji: '👍', users: ['alice'], mine: true, pending: true }]);
    await settle();
    const react = sent(socket, 'react').at(-1)!;
    socket.receive({ type: 'error', code: 'forbidden', message: 'deleted', conv: 'c1', id: 'm1', ref: react.ref });
    await settle();
    assert.equal(view(client, 'm1')?.reactions, undefined);
    assert.deepEqual(view(client, 'm1')?.changeError, { code: 'forbidden', change: 'react' });
    assert.deepEqual(errors(events), [{ type: 'error', code: 'forbidden', messageId: 'm1' }]);
    assert.equal(client.snapshot.refusal, null, 'a refused change is not a refused conversation');
    client.dismissChangeError('m1');
    assert.equal(view(client, 'm1')?.changeError, undefined);
  });

  test('edits - changes that can never succeed are refused at once, nothing sent', async () => {
    const { client, socket, events } = await ready(3);
    client.edit('m1', 'not mine');
    client.edit('nope', 'x');
    client.react('m1', 'word', true);
    client.delete('nope');
    await settle();
    assert.deepEqual(errors(events).map((e) => (e.type === 'error' ? [e.code, e.messageId] : [])), [
      ['forbidden', 'm1'],
      ['not_found', 'nope'],
      ['bad_frame', 'm1'],
      ['not_found', 'nope'],
    ]);
    assert.equal(sent(socket, 'edit').length + sent(socket, 'react').length + sent(socket, 'delete').length, 0);
  });

  test('edits - queued changes survive a reload and go out after the next join', async () => {
    const storage = new MemoryStorage();
    const first = await ready(3, { storage });
    first.client.react('m2', '❤️', true);
    first.client.delete('m3');
    await settle();
    first.socket.drop();
    first.client.dispose();
    FakeSocket.reset();

    const { client } = await setup({ storage });
    // The cache is written after a debounce; the reloaded view shows the changes on what it has.
    const { socket, join } = connect();
    joined(socket, join!, 3);
    for (let seq = 1; seq <= 3; seq++) socket.receive(msg(seq));
    await settle();
    assert.deepEqual(view(client, 'm2')?.reactions, [{ emoji: '❤️', users: ['alice'], mine: true, pending: true }]);
    assert.deepEqual([view(client, 'm3')?.deleted, view(client, 'm3')?.pending], [true, ['delete']]);
    // Sent once before the reload (unacked), and again after it: the relay acks a repeat without storing it twice.
    assert.deepEqual(sent(socket, 'react').map((f) => [f.id, f.emoji, f.on]), [['m2', '❤️', true]]);
    assert.deepEqual(sent(socket, 'delete').map((f) => f.id), ['m3']);
  });

  test('edits - a reply names the quoted message; the view quotes its current state', async () => {
    const { client, socket } = await ready(3);
    const reply = client.send('answer', { reply: 'm2' });
    assert.equal(reply.replyTo, 'm2');
    assert.deepEqual(reply.reply, { id: 'm2', seq: 2, from: { id: 'bob', name: 'BOB' }, text: 't2' });
    await settle();
    assert.equal(sent(socket, 'send').at(-1)?.reply, 'm2');
    socket.receive({ type: 'ack', conv: 'c1', id: reply.id, seq: 4, ts: 4 });
    socket.receive(msg(4, 'alice', reply.id, { text: 'answer', reply: { id: 'm2', seq: 2, from: { id: 'bob', name: 'BOB' }, text: 't2' } }));
    socket.receive(update(5, 'm2', { delete: true }));
    assert.deepEqual(view(client, reply.id)?.reply, { id: 'm2', seq: 2, from: { id: 'bob', name: 'BOB' }, deleted: true });
  });

  test('edits - statuses count only members who joined before the message: a later member never turns read back to sent', async () => {
    const { client } = await setup();
    const { socket, join } = connect();
    joined(socket, join!, 0, { members: [member('alice', { since: 0 }), member('bob', { since: 0 })] });
    const { id } = client.send('before carol');
    await settle();
    socket.receive({ type: 'ack', conv: 'c1', id, seq: 1, ts: 1 });
    socket.receive(msg(1, 'alice', id));
    socket.receive({ type: 'receipt', conv: 'c1', user: 'bob', delivered: 1, read: 1 });
    assert.equal(view(client, id)?.status, 'read');
    socket.receive({ type: 'member', conv: 'c1', member: member('carol', { since: 1 }) });
    assert.equal(view(client, id)?.status, 'read');
    assert.deepEqual(client.snapshot.members.find((m) => m.id === 'carol')?.since, 1);
  });

  test('edits - presence frames keep members online and seen up to date, keeping their cursors', async () => {
    const { client, socket } = await ready(0);
    socket.receive({ type: 'receipt', conv: 'c1', user: 'bob', delivered: 2, read: 1 });
    socket.receive({ type: 'presence', conv: 'c1', user: 'bob', online: true });
    assert.deepEqual(client.snapshot.members.find((m) => m.id === 'bob'), { id: 'bob', name: 'BOB', delivered: 2, read: 1, online: true });
    socket.receive({ type: 'presence', conv: 'c1', user: 'bob', online: false, seen: 1234 });
    assert.deepEqual(client.snapshot.members.find((m) => m.id === 'bob'), { id: 'bob', name: 'BOB', delivered: 2, read: 1, online: false, seen: 1234 });
  });

  test('edits - removed from the conversation: a terminal refusal, no re-join on resync or reconnect, changes kept', async () => {
    const { client, socket, clock, events } = await ready(3);
    client.react('m1', '👍', true);
    socket.receive({ type: 'error', code: 'forbidden', message: 'banned', conv: 'c1' });
    await settle();
    assert.deepEqual(client.snapshot.refusal, { code: 'forbidden', params: { reason: 'removed' } });
    assert.deepEqual(errors(events).at(-1), { type: 'error', code: 'forbidden', params: { reason: 'removed' } });
    const joins = sent(socket, 'join').length;
    socket.receive({ type: 'resync', conv: 'c1' });
    socket.drop();
    clock.advance(30_000);
    connect();
    assert.equal(FakeSocket.instances.flatMap((s) => s.sentOfType('join')).length, joins, 'never joined again');
    assert.deepEqual(view(client, 'm1')?.pending, ['react'], 'the outbox keeps the change');
  });

  test('edits - a join refused for good is a refusal too; an invalid conversation id never joins', async () => {
    const refused = await setup();
    const { socket, join } = connect();
    socket.receive({ type: 'error', code: 'forbidden', message: 'not allowed', conv: 'c1', ref: join!.ref });
    assert.deepEqual(refused.client.snapshot.refusal, { code: 'forbidden', params: { reason: 'conversation' } });
    FakeSocket.reset();
    const invalid = await setup({ conversation: 'bad id!' });
    const second = connect();
    assert.equal(second.join, undefined);
    assert.deepEqual(invalid.client.snapshot.refusal, { code: 'bad_config', params: { reason: 'conversation' } });
  });

  test('edits - ban: a moderator’s ban is acked; a refused one answers with the code', async () => {
    const header = btoa(JSON.stringify({ alg: 'HS256' }));
    const body = btoa(JSON.stringify({ sub: 'alice', role: 'moderator' })).replace(/=+$/, '');
    const { client } = await setup({ token: `${header}.${body}.sig` });
    assert.equal(client.snapshot.moderator, true, 'the token’s role claim, before the relay says');
    const socket = FakeSocket.last;
    socket.open();
    socket.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } });
    await settle();
    assert.equal(client.snapshot.moderator, false, 'the relay decides: its welcome names no role');
    socket.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' }, role: 'moderator' });
    joined(socket, sent(socket, 'join').at(-1)!, 0);
    await settle();
    assert.equal(client.snapshot.moderator, true);
    const banned = client.ban('bob', 5000);
    const frame = sent(socket, 'ban').at(-1)!;
    assert.deepEqual({ ...frame, ref: undefined }, { type: 'ban', conv: 'c1', user: 'bob', until: 5000, ref: undefined });
    socket.receive({ type: 'ack', conv: 'c1', id: 'ban:bob', seq: 0 + 1, ts: 1, ref: frame.ref });
    assert.deepEqual(await banned, { ok: true });
    assert.equal(client.snapshot.members.find((m) => m.id === 'bob')?.banned, true);
    const refused = client.ban('carol');
    socket.receive({ type: 'error', code: 'forbidden', message: 'moderators only', conv: 'c1', ref: sent(socket, 'ban').at(-1)!.ref });
    assert.deepEqual(await refused, { ok: false, error: { code: 'forbidden' } });
    assert.equal(client.snapshot.refusal, null);
  });
});
