/**
 * The client's rules with a scripted socket and a hand-driven clock: the frames it sends
 * in answer to what the relay says, including failures a real relay rarely produces.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { Member, MessageFrame } from '../../protocol/index.js';
import { HistoryCache } from './cache.js';
import { JOIN_TRANSITIONS, JoinPhase } from './join.js';
import { storageKeys } from './storage.js';
import { createClient as createChatClient } from './session.js';
import { FakeClock } from './test/fake-clock.js';
import { FakeSocket } from './test/fake-socket.js';
import { MemoryStorage } from './test/memory-storage.js';
import type { ChatClient, ChatClientEvent } from './types.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const member = (id: string, delivered = 0, read = 0): Member => ({ id, name: id.toUpperCase(), delivered, read });
const msg = (seq: number, from = 'bob', id = `m${seq}`) => ({ type: 'msg', conv: 'c1', seq, id, from: { id: from, name: from.toUpperCase() }, text: `t${seq}`, ts: seq });

interface Frame {
  type: string;
  [key: string]: unknown;
}

async function setup(storage = new MemoryStorage()) {
  const clock = new FakeClock();
  const client = createChatClient(
    { relay: 'ws://relay.test/ws', conversation: 'c1', user: 'alice', name: 'Alice', storage, WebSocket: FakeSocket as unknown as typeof WebSocket },
    { clock, network: { online: true, subscribe: () => () => {} } },
  );
  const events: ChatClientEvent[] = [];
  client.on((e) => events.push(e));
  await client.start();
  return { clock, client, storage, events };
}

/** Opens the newest socket, completes hello, and returns it with its join frame. */
function connect(): { socket: FakeSocket; join: Frame } {
  const socket = FakeSocket.last;
  socket.open();
  socket.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } });
  return { socket, join: sent(socket, 'join').at(-1)! };
}

function sent(socket: FakeSocket, type: string): Frame[] {
  return socket.sentOfType(type) as Frame[];
}

function joined(socket: FakeSocket, join: Frame, head: number, extra: object = {}): void {
  socket.receive({ type: 'joined', conv: 'c1', epoch: 'E1', head, members: [member('alice'), member('bob')], typing: [], ref: join.ref, ...extra });
}

const seqs = (client: ChatClient) => client.snapshot.messages.map((m) => m.seq);

describe('client rules', () => {
  beforeEach(() => FakeSocket.reset());

  test('client - a first join asks for the newest 50; a later one resumes after the highest seq held, with the epoch', async () => {
    const { clock } = await setup();
    const first = connect();
    assert.deepEqual({ ...first.join, ref: undefined }, { type: 'join', conv: 'c1', after: 0, tail: 50, ref: undefined });
    joined(first.socket, first.join, 60);
    for (let seq = 11; seq <= 60; seq++) first.socket.receive(msg(seq));
    first.socket.drop();
    clock.advance(1000);
    const second = connect();
    assert.deepEqual({ ...second.join, ref: undefined }, { type: 'join', conv: 'c1', after: 60, epoch: 'E1', ref: undefined });
  });

  test('client - a reload shows the newest cached messages before the older ones (unread not inflated meanwhile), then resumes after the last', async () => {
    const storage = new MemoryStorage();
    const cached = Array.from({ length: 300 }, (_, i) => msg(i + 1, i % 2 ? 'alice' : 'bob')) as MessageFrame[];
    const writer = new HistoryCache({ storage, key: storageKeys('ws://relay.test/ws', 'alice', 'c1').history, clock: new FakeClock() });
    writer.schedule(() => ({ epoch: 'E1', self: { id: 'alice', name: 'Alice' }, members: [member('alice', 100, 100), member('bob')], messages: cached, last: 300 }));
    await writer.flush();

    const clock = new FakeClock();
    const client = createChatClient(
      { relay: 'ws://relay.test/ws', conversation: 'c1', user: 'alice', name: 'Alice', storage, WebSocket: FakeSocket as unknown as typeof WebSocket },
      { clock, network: { online: true, subscribe: () => () => {} } },
    );
    const shown: number[][] = [];
    const unread: number[] = [];
    client.subscribe((snapshot) => {
      if (snapshot.messages.length === 0) return;
      shown.push(snapshot.messages.map((m) => m.seq!));
      unread.push(snapshot.unread);
    });
    await client.start();
    for (let i = 0; i < 5; i++) {
      await settle();
      clock.advance(100);
    }
    assert.deepEqual(shown[0], cached.slice(-50).map((m) => m.seq), 'the newest first');
    assert.deepEqual(shown.at(-1), cached.map((m) => m.seq), 'then all of them');
    // Bob's messages after alice's read cursor (100): 100. Never more while the older ones were on their way.
    assert.equal(unread.at(-1), 100);
    assert.ok(unread.every((count) => count <= 100), `unread went ${unread.join(' → ')}`);
    const { join } = connect();
    assert.deepEqual({ after: join.after, epoch: join.epoch }, { after: 300, epoch: 'E1' });
    client.dispose();
  });

  test('client - resync re-joins with the highest contiguous seq held', async () => {
    const { client } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    for (const seq of [1, 2, 3, 5]) socket.receive(msg(seq));
    socket.receive({ type: 'resync', conv: 'c1' });
    assert.equal(sent(socket, 'join').at(-1)?.after, 3);
    assert.deepEqual(seqs(client), [1, 2, 3]);
  });

  test('client - a gap is asked for with history after, and asked again when no answer comes', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    for (const seq of [1, 2, 5]) socket.receive(msg(seq));
    const asked = sent(socket, 'history');
    assert.equal(asked.length, 1);
    assert.deepEqual({ ...asked[0], ref: undefined }, { type: 'history', conv: 'c1', after: 2, limit: 2, ref: undefined });
    assert.deepEqual(seqs(client), [1, 2], 'seq 5 waits');
    clock.advance(10_000);
    const again = sent(socket, 'history');
    assert.equal(again.length, 2);
    socket.receive({ type: 'history', conv: 'c1', messages: [msg(3), msg(4)], more: false, ref: again[1]!.ref });
    assert.deepEqual(seqs(client), [1, 2, 3, 4, 5]);
  });

  test('client - the outbox is saved before sending and flushed in order after joined, at most 20 unacked', async () => {
    const { client, storage } = await setup();
    const { socket, join } = connect();
    const ids = Array.from({ length: 30 }, (_, i) => client.send(`hello ${i}`).id);
    await settle();
    assert.equal((storage.outbox() as unknown[]).length, 30);
    assert.deepEqual(sent(socket, 'send'), [], 'nothing before joined');
    joined(socket, join, 0);
    assert.deepEqual(sent(socket, 'send').map((f) => f.id), ids.slice(0, 20));
    ids.slice(0, 5).forEach((id, i) => socket.receive({ type: 'ack', conv: 'c1', id, seq: i + 1, ts: 1 }));
    assert.deepEqual(sent(socket, 'send').map((f) => f.id), ids.slice(0, 25));
  });

  test('client - a refused message is failed with an error event; retry resends the same id; discard drops it', async () => {
    const { client, events } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    const { id } = client.send('hello');
    await settle();
    socket.receive({ type: 'error', code: 'forbidden', message: 'not allowed here', conv: 'c1', id });
    const failed = client.snapshot.messages.find((m) => m.id === id);
    assert.deepEqual({ status: failed?.status, error: failed?.error }, { status: 'failed', error: { code: 'forbidden' } });
    assert.deepEqual(events.filter((e) => e.type === 'error'), [{ type: 'error', code: 'forbidden', messageId: id }]);
    client.retry(id);
    assert.equal(client.snapshot.messages.find((m) => m.id === id)?.status, 'sending');
    assert.deepEqual(sent(socket, 'send').map((f) => f.id), [id, id]);
    socket.receive({ type: 'error', code: 'forbidden', message: 'still not', conv: 'c1', id });
    client.discard(id);
    assert.deepEqual(client.snapshot.messages, []);
  });

  test('client - join phases: every phase can fall back to idle and be refused; idle moves on only by joining or a refusal', () => {
    for (const phase of Object.values(JoinPhase)) {
      if (phase !== JoinPhase.idle) assert.ok(JOIN_TRANSITIONS[phase].includes(JoinPhase.idle), phase);
      if (phase !== JoinPhase.refused) assert.ok(JOIN_TRANSITIONS[phase].includes(JoinPhase.refused), phase);
    }
    assert.deepEqual(JOIN_TRANSITIONS[JoinPhase.idle], [JoinPhase.joining, JoinPhase.refused]);
    assert.ok(!JOIN_TRANSITIONS[JoinPhase.retrying].includes(JoinPhase.joined));
    assert.deepEqual(JOIN_TRANSITIONS[JoinPhase.refused], [JoinPhase.idle], 'only reopen() leaves a refusal');
  });

  test('client - a join refused for a passing reason is asked again after a backoff, not at once, and not by a resync meanwhile', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    socket.receive({ type: 'error', code: 'unavailable', message: 'store down', ref: join.ref });
    socket.receive({ type: 'resync', conv: 'c1' });
    clock.advance(400);
    assert.equal(sent(socket, 'join').length, 1);
    clock.advance(700);
    const again = sent(socket, 'join');
    assert.equal(again.length, 2);
    assert.notEqual(again[1]?.ref, join.ref);
    joined(socket, again[1]!, 1);
    socket.receive(msg(1));
    assert.deepEqual(seqs(client), [1]);
  });

  test('client - a join with no answer is asked again after the request timeout; the late first reply is ignored', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    clock.advance(10_500);
    const joins = sent(socket, 'join');
    assert.equal(joins.length, 2);
    joined(socket, join, 5);
    socket.receive(msg(5));
    assert.deepEqual(seqs(client), []);
    joined(socket, joins[1]!, 1);
    socket.receive(msg(1));
    assert.deepEqual(seqs(client), [1]);
  });

  test('client - a retryable error resends the same id after a backoff, not at once', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    const { id } = client.send('hello');
    await settle();
    socket.receive({ type: 'error', code: 'rate_limited', message: 'slow down', conv: 'c1', id });
    assert.equal(sent(socket, 'send').length, 1);
    assert.equal(client.snapshot.messages[0]?.status, 'sending');
    clock.advance(20_000);
    // Resent after the backoff (and again once a resend stays unacked for the request timeout), always with the same id.
    const ids = sent(socket, 'send').map((f) => f.id);
    assert.ok(ids.length >= 2 && ids.every((sentId) => sentId === id), ids.join(','));
  });

  test('client - a send that stays unacked for the request timeout goes out again with the same id', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    const { id } = client.send('lost between tabs');
    await settle();
    assert.equal(sent(socket, 'send').length, 1);
    clock.advance(9_000);
    assert.equal(sent(socket, 'send').length, 1);
    clock.advance(1_500);
    assert.deepEqual(sent(socket, 'send').map((f) => f.id), [id, id]);
  });

  test('client - delivered is sent for the highest contiguous seq, once per burst', async () => {
    const { clock } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    for (const seq of [1, 2, 3, 5]) socket.receive(msg(seq));
    assert.deepEqual(sent(socket, 'receipt'), []);
    clock.advance(1000);
    assert.deepEqual(sent(socket, 'receipt').map((f) => f.delivered), [3]);
  });

  test('client - statuses follow the other members’ cursors; readBy names who read', async () => {
    const { client } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    const { id } = client.send('hi');
    await settle();
    socket.receive({ type: 'ack', conv: 'c1', id, seq: 1, ts: 5 });
    const statusOf = () => client.snapshot.messages.find((m) => m.id === id);
    assert.equal(statusOf()?.status, 'sent');
    socket.receive(msg(1, 'alice', id));
    socket.receive({ type: 'receipt', conv: 'c1', user: 'bob', delivered: 1, read: 0 });
    assert.equal(statusOf()?.status, 'delivered');
    socket.receive({ type: 'member', conv: 'c1', member: member('carol') });
    assert.equal(statusOf()?.status, 'sent', 'a new member has not received it yet');
    socket.receive({ type: 'receipt', conv: 'c1', user: 'carol', delivered: 1, read: 1 });
    socket.receive({ type: 'receipt', conv: 'c1', user: 'bob', delivered: 1, read: 1 });
    assert.deepEqual({ status: statusOf()?.status, readBy: statusOf()?.readBy }, { status: 'read', readBy: ['BOB', 'CAROL'] });
  });

  test('client - a new epoch drops the history but keeps and resends the outbox', async () => {
    const { client, clock } = await setup();
    const first = connect();
    joined(first.socket, first.join, 0);
    for (const seq of [1, 2]) first.socket.receive(msg(seq));
    first.socket.drop();
    const { id } = client.send('kept');
    await settle();
    clock.advance(1000);
    const second = connect();
    assert.equal(second.join.epoch, 'E1');
    joined(second.socket, second.join, 0, { epoch: 'E2', reset: true });
    assert.deepEqual(client.snapshot.messages.map((m) => [m.id, m.status]), [[id, 'sending']]);
    assert.deepEqual(sent(second.socket, 'send').map((f) => f.id), [id]);
  });

  test('client - typing from others shows with names and expires locally; own typing never shows', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0, { typing: ['bob', 'alice'] });
    assert.deepEqual(client.snapshot.typing, [{ id: 'bob', name: 'BOB' }]);
    clock.advance(7000);
    assert.deepEqual(client.snapshot.typing, []);
  });

  test('client - the view is notified once per burst with a new immutable snapshot', async () => {
    const { client, clock } = await setup();
    const { socket, join } = connect();
    joined(socket, join, 0);
    await settle();
    const seen: unknown[] = [];
    client.subscribe((s) => seen.push(s));
    const before = client.snapshot;
    for (let seq = 1; seq <= 10; seq++) socket.receive(msg(seq));
    // Notifications are also spaced out in time (so a long catch-up does not re-render per frame).
    clock.advance(100);
    await settle();
    assert.equal(seen.length, 1);
    assert.notEqual(seen[0], before);
    assert.ok(Object.isFrozen(seen[0]) && Object.isFrozen(client.snapshot.messages));
    assert.equal(before.messages.length, 0, 'an old snapshot never changes');
  });

  test('client - file URLs resolve against the relay’s HTTP origin', async () => {
    const { client } = await setup();
    assert.equal(client.fileUrl({ url: '/files/abc', name: 'a', size: 1, type: 'a/b' }), 'http://relay.test/files/abc');
  });
});
