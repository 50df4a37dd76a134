import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const typing = (user: string, active: boolean) => (f: ServerFrame) => f.type === 'typing' && f.user === user && f.active === active;

/**
 * The relay clears a typing indicator after TYPING_EXPIRY_MS of silence anyway; here that is
 * 30 s, so an `active:false` within STOP_WITHIN_MS can only come from what the test did.
 */
const LONG_EXPIRY_MS = 30_000;
const STOP_WITHIN_MS = 3000;

async function pair(relay: RelayProcess, conv: string) {
  const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
  const bob = await TestClient.login(relay.wsUrl, { user: 'bob' });
  await alice.join(conv);
  await bob.join(conv);
  return { alice, bob };
}

describe('typing', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { TYPING_EXPIRY_MS: String(LONG_EXPIRY_MS) } });
  });
  after(() => relay.dispose());

  test('typing - goes to the others, not back to the typist; explicit stop clears it', async () => {
    const { alice, bob } = await pair(relay, 't-basic');
    alice.send({ type: 'typing', conv: 't-basic', active: true });
    await bob.next(typing('alice', true));
    alice.send({ type: 'typing', conv: 't-basic', active: false });
    await bob.next(typing('alice', false), STOP_WITHIN_MS);
    assert.ok(!alice.frames.some((f) => f.type === 'typing'));
    alice.close();
    bob.close();
  });

  test('typing - expires after silence: the relay sends active:false itself', async () => {
    const quick = await startRelay({ env: { TYPING_EXPIRY_MS: '700' } });
    try {
      const { alice, bob } = await pair(quick, 't-expiry');
      alice.send({ type: 'typing', conv: 't-expiry', active: true });
      await bob.next(typing('alice', true));
      const started = Date.now();
      await bob.next(typing('alice', false), 5000);
      assert.ok(Date.now() - started >= 300, 'not long before the expiry');
      alice.close();
      bob.close();
    } finally {
      await quick.dispose();
    }
  });

  test('typing - a stored message from the typist ends the indicator', async () => {
    const { alice, bob } = await pair(relay, 't-send');
    alice.send({ type: 'typing', conv: 't-send', active: true });
    await bob.next(typing('alice', true));
    alice.send({ type: 'send', conv: 't-send', id: 'ts1', text: 'done typing' });
    await bob.next((f) => f.type === 'msg');
    await bob.next(typing('alice', false), STOP_WITHIN_MS);
    alice.close();
    bob.close();
  });

  test('typing - the typist disconnecting ends the indicator', async () => {
    const { alice, bob } = await pair(relay, 't-gone');
    alice.send({ type: 'typing', conv: 't-gone', active: true });
    await bob.next(typing('alice', true));
    alice.close();
    await bob.next(typing('alice', false), STOP_WITHIN_MS);
    bob.close();
  });

  test('typing - joined lists who is typing now', async () => {
    const { alice, bob } = await pair(relay, 't-list');
    alice.send({ type: 'typing', conv: 't-list', active: true });
    await bob.next(typing('alice', true));
    const carol = await TestClient.login(relay.wsUrl, { user: 'carol' });
    const joined = await carol.join('t-list');
    assert.deepEqual(joined.typing, ['alice']);
    for (const c of [alice, bob, carol]) c.close();
  });
});

describe('receipts', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('receipt - cursors move forward only, read lifts delivered, fanned out to everyone', async () => {
    const conv = 'r-basic';
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const bob = await TestClient.login(relay.wsUrl, { user: 'bob' });
    await alice.join(conv);
    await bob.join(conv);
    for (let i = 1; i <= 5; i++) alice.send({ type: 'send', conv, id: `r${i}`, text: `${i}` });
    await bob.until(() => bob.messages(conv).length === 5);
    bob.send({ type: 'receipt', conv, delivered: 5 });
    const delivered = await alice.next((f) => f.type === 'receipt' && f.user === 'bob');
    assert.deepEqual(delivered.type === 'receipt' && [delivered.delivered, delivered.read], [5, 0]);
    bob.send({ type: 'receipt', conv, read: 3 });
    const read = await alice.next((f) => f.type === 'receipt' && f.user === 'bob');
    assert.deepEqual(read.type === 'receipt' && [read.delivered, read.read], [5, 3]);
    await bob.next((f) => f.type === 'receipt' && f.user === 'bob' && f.read === 3); // own devices learn too
    bob.send({ type: 'receipt', conv, read: 2, delivered: 1 }); // backwards: no change, no event
    bob.send({ type: 'receipt', conv, read: 99 }); // beyond head: clamped to 5
    const clamped = await alice.next((f) => f.type === 'receipt' && f.user === 'bob');
    assert.deepEqual(clamped.type === 'receipt' && [clamped.delivered, clamped.read], [5, 5]);
    alice.close();
    bob.close();
  });

  test('receipt - cursors are durable and reported in joined.members after a restart', async () => {
    const local = await startRelay();
    const bob = await TestClient.login(local.wsUrl, { user: 'bob', name: 'Bob' });
    await bob.join('r-durable');
    bob.send({ type: 'send', conv: 'r-durable', id: 'd1', text: 'x' });
    bob.send({ type: 'send', conv: 'r-durable', id: 'd2', text: 'y' });
    await bob.next((f) => f.type === 'ack' && f.id === 'd2');
    bob.send({ type: 'receipt', conv: 'r-durable', read: 2 });
    await bob.next((f) => f.type === 'receipt' && f.read === 2);
    const restarted = await local.restart();
    const alice = await TestClient.login(restarted.wsUrl, { user: 'alice' });
    const joined = await alice.join('r-durable');
    const member = joined.members.find((m) => m.id === 'bob');
    // v1.1 fields: bob joined an empty conversation (since 0) and is not connected to this relay.
    assert.deepEqual(member && { ...member, seen: undefined }, { id: 'bob', name: 'Bob', delivered: 2, read: 2, since: 0, online: false, seen: undefined });
    alice.close();
    await restarted.dispose();
    await local.dispose();
  });

  test('member - a first join is announced to those already there', async () => {
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    await alice.join('r-members');
    const dora = await TestClient.login(relay.wsUrl, { user: 'dora', name: 'Dora' });
    await dora.join('r-members');
    const event = await alice.next((f) => f.type === 'member' && f.member.id === 'dora');
    assert.deepEqual(event.type === 'member' && event.member, { id: 'dora', name: 'Dora', delivered: 0, read: 0, since: 0 });
    alice.close();
    dora.close();
  });
});
