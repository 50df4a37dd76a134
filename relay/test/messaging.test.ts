import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, type ServerFrame } from '../../protocol/index.js';
import { checkSeqs, startRelay, TestClient, type RelayProcess } from './harness.js';

type Msg = Extract<ServerFrame, { type: 'msg' }>;
const isAck = (id: string) => (f: ServerFrame) => f.type === 'ack' && f.id === id;

describe('messaging', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { RATE_LIMIT: '2000', RATE_BURST: '2000' } });
  });
  after(() => relay.dispose());

  test('send - concurrent senders: every client ends with seq 1..N exactly once, in order', async () => {
    const conv = 'race';
    const clients = await Promise.all(['a', 'b', 'c', 'd'].map((user) => TestClient.login(relay.wsUrl, { user })));
    const watcher = await TestClient.login(relay.wsUrl, { user: 'watcher' });
    await Promise.all([...clients, watcher].map((c) => c.join(conv)));
    const perClient = 50;
    clients.forEach((client, c) => {
      for (let i = 0; i < perClient; i++) client.send({ type: 'send', conv, id: `m-${c}-${i}`, text: `${c}:${i}` });
    });
    const total = clients.length * perClient;
    for (const client of [...clients, watcher]) {
      await client.until(() => client.messages(conv).length >= total, 15_000);
      const seqs = client.messages(conv).map((m) => m.seq);
      assert.equal(checkSeqs(seqs, total), null);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'delivered in seq order');
    }
    // Each sender's own messages keep the order they were sent in.
    const bySeq = watcher.messages(conv);
    for (let c = 0; c < clients.length; c++) {
      const mine = bySeq.filter((m) => m.id.startsWith(`m-${c}-`)).map((m) => Number(m.id.split('-')[2]));
      assert.deepEqual(mine, Array.from({ length: perClient }, (_, i) => i));
    }
    for (const client of [...clients, watcher]) client.close();
  });

  test('send - ack comes once the message is stored, with seq and ts, echoing ref', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'acker', name: 'Acker' });
    await client.join('acks');
    client.send({ type: 'send', conv: 'acks', id: 'a1', text: 'hello', ref: 'r-1' });
    const ack = await client.next(isAck('a1'));
    const msg = (await client.next((f) => f.type === 'msg')) as Msg;
    assert.ok(ack.type === 'ack');
    assert.deepEqual([ack.seq, ack.ref, ack.conv], [1, 'r-1', 'acks']);
    assert.deepEqual([msg.seq, msg.ts, msg.text, msg.from], [ack.seq, ack.ts, 'hello', { id: 'acker', name: 'Acker' }]);
    client.close();
  });

  test('send - resending an id gets the same ack and no second fan-out; another sender gets conflict', async () => {
    const conv = 'idem';
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const bob = await TestClient.login(relay.wsUrl, { user: 'bob' });
    await alice.join(conv);
    await bob.join(conv);
    alice.send({ type: 'send', conv, id: 'once', text: 'one' });
    const first = await alice.next(isAck('once'));
    alice.send({ type: 'send', conv, id: 'once', text: 'one again' });
    const second = await alice.next(isAck('once'));
    assert.deepEqual(second, first);
    bob.send({ type: 'send', conv, id: 'once', text: 'stolen', ref: 'steal' });
    const conflict = await bob.next((f) => f.type === 'error');
    assert.ok(conflict.type === 'error');
    assert.deepEqual([conflict.code, conflict.ref, conflict.id], [ErrorCode.conflict, 'steal', 'once']);
    alice.send({ type: 'send', conv, id: 'after', text: 'marker' });
    await bob.until(() => bob.messages(conv).some((m) => m.id === 'after'));
    assert.deepEqual(bob.messages(conv).map((m) => m.id), ['once', 'after']);
    alice.close();
    bob.close();
  });

  test('join - catch-up after a disconnect replays exactly what was missed, then live', async () => {
    const conv = 'catchup';
    const writer = await TestClient.login(relay.wsUrl, { user: 'writer' });
    await writer.join(conv);
    const reader = await TestClient.login(relay.wsUrl, { user: 'reader' });
    await reader.join(conv);
    for (let i = 1; i <= 3; i++) writer.send({ type: 'send', conv, id: `c${i}`, text: `${i}` });
    await reader.until(() => reader.messages(conv).length === 3);
    reader.close();
    for (let i = 4; i <= 8; i++) writer.send({ type: 'send', conv, id: `c${i}`, text: `${i}` });
    await writer.next(isAck('c8'));
    const back = await TestClient.login(relay.wsUrl, { user: 'reader' });
    const joined = await back.join(conv, { after: 3 });
    assert.equal(joined.head, 8);
    await back.until(() => back.messages(conv).length === 5);
    writer.send({ type: 'send', conv, id: 'c9', text: '9' });
    await back.until(() => back.messages(conv).length === 6);
    assert.deepEqual(back.messages(conv).map((m) => m.seq), [4, 5, 6, 7, 8, 9]);
    writer.close();
    back.close();
  });

  test('join - messages sent during a long catch-up are delivered once, after the replay', async () => {
    const conv = 'busy-catchup';
    const writer = await TestClient.login(relay.wsUrl, { user: 'w2' });
    await writer.join(conv);
    for (let i = 1; i <= 1200; i++) writer.send({ type: 'send', conv, id: `b${i}`, text: 'x'.repeat(200) });
    await writer.next(isAck('b1200'), 15_000);
    const reader = await TestClient.login(relay.wsUrl, { user: 'r2' });
    reader.send({ type: 'join', conv, after: 0 });
    for (let i = 1201; i <= 1250; i++) writer.send({ type: 'send', conv, id: `b${i}`, text: 'live' });
    await reader.until(() => reader.messages(conv).length >= 1250, 15_000);
    const seqs = reader.messages(conv).map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: 1250 }, (_, i) => i + 1));
    writer.close();
    reader.close();
  });

  test('join - tail replays only the newest messages; joined lists members and head', async () => {
    const conv = 'tail';
    const writer = await TestClient.login(relay.wsUrl, { user: 'tw', name: 'Tail Writer' });
    await writer.join(conv);
    for (let i = 1; i <= 10; i++) writer.send({ type: 'send', conv, id: `t${i}`, text: `${i}` });
    await writer.next(isAck('t10'));
    const fresh = await TestClient.login(relay.wsUrl, { user: 'tr' });
    const joined = await fresh.join(conv, { tail: 3 });
    assert.equal(joined.head, 10);
    assert.deepEqual(joined.members.map((m) => m.id).sort(), ['tr', 'tw']);
    await fresh.until(() => fresh.messages(conv).length === 3);
    assert.deepEqual(fresh.messages(conv).map((m) => m.seq), [8, 9, 10]);
    writer.close();
    fresh.close();
  });

  test('history - pages backwards with before and forwards with after', async () => {
    const conv = 'pages';
    const client = await TestClient.login(relay.wsUrl, { user: 'pager' });
    await client.join(conv);
    for (let i = 1; i <= 120; i++) client.send({ type: 'send', conv, id: `p${i}`, text: `${i}` });
    await client.next(isAck('p120'));
    const ask = async (query: object) => {
      const ref = Math.random();
      client.send({ type: 'history', conv, ...query, ref });
      const reply = await client.next((f) => f.type === 'history' && f.ref === ref);
      assert.ok(reply.type === 'history');
      return reply;
    };
    const newest = await ask({ limit: 50 });
    assert.deepEqual([newest.messages[0]?.seq, newest.messages.at(-1)?.seq, newest.more], [71, 120, true]);
    const older = await ask({ before: 71, limit: 50 });
    assert.deepEqual([older.messages[0]?.seq, older.messages.at(-1)?.seq, older.more], [21, 70, true]);
    const oldest = await ask({ before: 21, limit: 50 });
    assert.deepEqual([oldest.messages[0]?.seq, oldest.messages.length, oldest.more], [1, 20, false]);
    const gap = await ask({ after: 40, limit: 5 });
    assert.deepEqual(gap.messages.map((m) => m.seq), [41, 42, 43, 44, 45]);
    assert.equal(gap.more, true);
    const end = await ask({ after: 118 });
    assert.deepEqual([end.messages.map((m) => m.seq), end.more], [[119, 120], false]);
    const defaults = await ask({});
    assert.equal(defaults.messages.length, 50);
    client.close();
  });

  test('send - not joined gets not_joined; leave stops delivery', async () => {
    const conv = 'leaving';
    const client = await TestClient.login(relay.wsUrl, { user: 'leaver' });
    client.send({ type: 'send', conv, id: 'nj', text: 'x', ref: 'nj' });
    const error = await client.next((f) => f.type === 'error');
    assert.ok(error.type === 'error' && error.code === ErrorCode.notJoined && error.id === 'nj');
    const other = await TestClient.login(relay.wsUrl, { user: 'stayer' });
    await other.join(conv);
    await client.join(conv);
    client.send({ type: 'leave', conv });
    client.send({ type: 'typing', conv, active: true, ref: 'after-leave' });
    await client.next((f) => f.type === 'error' && f.ref === 'after-leave' && f.code === ErrorCode.notJoined);
    other.send({ type: 'send', conv, id: 'unseen', text: 'you left' });
    await other.next(isAck('unseen'));
    client.send({ type: 'ping', ref: 'sync' });
    await client.next((f) => f.type === 'pong');
    assert.equal(client.messages(conv).length, 0);
    client.send({ type: 'leave', conv, ref: 'twice' });
    await client.next((f) => f.type === 'error' && f.ref === 'twice' && f.code === ErrorCode.notJoined);
    client.close();
    other.close();
  });

  test('files - a message carries an uploaded file, described by what the relay stored', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'filer' });
    await client.join('with-file');
    const upload = await fetch(`${relay.httpUrl}/upload?conv=with-file`, {
      method: 'POST',
      headers: { 'X-Chat-User': 'filer', 'Content-Type': 'application/pdf', 'X-File-Name': 'report.pdf' },
      body: new Uint8Array(2048),
    });
    assert.equal(upload.status, 201);
    const stored = (await upload.json()) as { url: string; name: string; size: number; type: string };
    // The client's own name, size and type are not believed: the relay's record is.
    client.send({ type: 'send', conv: 'with-file', id: 'f1', file: { ...stored, name: 'other.exe', size: 1, type: 'text/html' } });
    const msg = (await client.next((f) => f.type === 'msg')) as Msg;
    assert.deepEqual(msg.file, { url: stored.url, name: 'report.pdf', size: 2048, type: 'application/pdf' });
    assert.equal(msg.text, undefined);
    client.close();
  });
});

describe('messaging - restarts', () => {
  test('send - idempotency is permanent: a resend after a relay restart gets the original ack', async () => {
    const relay = await startRelay();
    try {
      const client = await TestClient.login(relay.wsUrl, { user: 'alice' });
      await client.join('durable');
      client.send({ type: 'send', conv: 'durable', id: 'keep', text: 'hi' });
      const ack = await client.next(isAck('keep'));
      const restarted = await relay.restart();
      const again = await TestClient.login(restarted.wsUrl, { user: 'alice' });
      const joined = await again.join('durable', { after: 1 });
      again.send({ type: 'send', conv: 'durable', id: 'keep', text: 'hi' });
      assert.deepEqual(await again.next(isAck('keep')), ack);
      assert.equal(joined.head, 1);
      again.send({ type: 'ping', ref: 'p' });
      await again.next((f) => f.type === 'pong');
      assert.equal(again.messages('durable').length, 0, 'no second fan-out');
      again.close();
      await restarted.dispose();
    } finally {
      await relay.dispose();
    }
  });

  test('join - a client whose cache comes from another epoch gets reset and a replay from seq 1', async () => {
    const relay = await startRelay();
    const client = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const first = await client.join('epochs');
    client.send({ type: 'send', conv: 'epochs', id: 'e1', text: 'hi' });
    await client.next(isAck('e1'));
    const same = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const kept = await same.join('epochs', { after: 1, epoch: first.epoch });
    assert.equal(kept.reset, undefined);
    const stale = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const reset = await stale.join('epochs', { after: 5, epoch: 'an-old-store' });
    assert.equal(reset.reset, true);
    assert.equal(reset.epoch, first.epoch);
    await stale.until(() => stale.messages('epochs').length === 1);
    assert.equal(stale.messages('epochs')[0]?.seq, 1);
    for (const c of [client, same, stale]) c.close();
    await relay.dispose();
  });
});
