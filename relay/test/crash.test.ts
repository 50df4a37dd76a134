import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { startRelay, TestClient } from './harness.js';

type Ack = Extract<ServerFrame, { type: 'ack' }>;

test('durability - relay killed with SIGKILL mid-burst: every acked message survives with its seq', async () => {
  const relay = await startRelay({ env: { RATE_LIMIT: '100000', RATE_BURST: '100000' } });
  let restarted;
  try {
    const senders = await Promise.all([1, 2, 3].map((n) => TestClient.login(relay.wsUrl, { user: `s${n}` })));
    await Promise.all(senders.map((s) => s.join('crash')));
    // Keep sending until some acks are in, then kill while frames are still in flight.
    senders.forEach((sender, n) => {
      for (let i = 0; i < 3000; i++) sender.send({ type: 'send', conv: 'crash', id: `k-${n}-${i}`, text: `burst ${i}` });
    });
    await senders[0]!.until((frames) => frames.filter((f) => f.type === 'ack').length >= 200, 20_000);
    await relay.kill();
    const acks = senders.flatMap((s) => s.frames.filter((f): f is Ack => f.type === 'ack'));
    assert.ok(acks.length >= 200, `acks before the kill: ${acks.length}`);

    restarted = await relay.restart();
    const reader = await TestClient.login(restarted.wsUrl, { user: 'auditor' });
    const joined = await reader.join('crash');
    await reader.until(() => reader.messages('crash').length >= joined.head, 20_000);
    const stored = new Map(reader.messages('crash').map((m) => [m.id, m.seq]));
    for (const ack of acks) assert.equal(stored.get(ack.id), ack.seq, `acked ${ack.id} kept seq ${ack.seq}`);
    const seqs = reader.messages('crash').map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: joined.head }, (_, i) => i + 1), 'stored seqs stay gap-free');
    reader.close();
  } finally {
    await restarted?.dispose();
    await relay.dispose();
  }
});

test('shutdown - SIGTERM finishes in-flight appends, closes clients with 1001 and exits 0', async () => {
  const relay = await startRelay({ env: { RATE_LIMIT: '100000', RATE_BURST: '100000' } });
  const client = await TestClient.login(relay.wsUrl, { user: 'calm' });
  await client.join('graceful');
  for (let i = 0; i < 500; i++) client.send({ type: 'send', conv: 'graceful', id: `g${i}`, text: 'x' });
  await client.next((f) => f.type === 'ack');
  const code = await relay.stop();
  assert.equal(code, 0);
  assert.equal((await client.closed).code, 1001);
  const acked = client.frames.filter((f): f is Ack => f.type === 'ack');
  const restarted = await relay.restart();
  const reader = await TestClient.login(restarted.wsUrl, { user: 'reader' });
  const joined = await reader.join('graceful');
  assert.ok(joined.head >= acked.length, `head ${joined.head} covers the ${acked.length} acked messages`);
  assert.ok(relay.logs.some((l) => l.includes('shutdown complete')));
  reader.close();
  await restarted.dispose();
  await relay.dispose();
});
