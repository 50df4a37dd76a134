/**
 * Defect 10 of the hardening issue: every typing frame used to fan out to every peer. The
 * relay now forwards at most one `active:true` per user and conversation per 2 s; renewals
 * in between only keep the indicator alive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRelay, TestClient, type RelayProcess } from '../harness.js';

describe('attack - typing flood', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { TYPING_EXPIRY_MS: '3000', RATE_LIMIT: '100000', RATE_BURST: '100000' } });
  });
  after(() => relay.dispose());

  test('typing - 1,000 typing frames reach a peer as one event; renewals keep it alive without fan-out', async () => {
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const bob = await TestClient.login(relay.wsUrl, { user: 'bob' });
    await alice.join('t');
    await bob.join('t');
    for (let i = 0; i < 1000; i++) alice.send({ type: 'typing', conv: 't', active: true });
    await bob.next((f) => f.type === 'typing' && f.active);
    // Keep typing for 5 s (past the 3 s expiry), renewing every 500 ms as an eager client would.
    const renewals = setInterval(() => alice.send({ type: 'typing', conv: 't', active: true }), 500);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    clearInterval(renewals);
    const events = bob.frames.filter((f) => f.type === 'typing');
    assert.ok(events.every((f) => f.type === 'typing' && f.active), 'never shown as stopped while typing');
    // 6 s of typing at one fan-out per 2 s at most: 3 or 4 events, not 1,010.
    assert.ok(events.length <= 4, `${events.length} typing events reached bob`);
    alice.send({ type: 'typing', conv: 't', active: false });
    await bob.next((f) => f.type === 'typing' && !f.active);
    alice.close();
    bob.close();
  });
});
