/**
 * The server API and webhooks on a two-relay cluster (real PostgreSQL and NATS): a message
 * posted through one relay's API reaches WebSocket clients on both; webhooks are delivered
 * exactly once by id even when a relay is SIGKILLed in the middle of deliveries (what it had
 * not acknowledged is delivered by the other relay once its lease runs out, and by the
 * restarted one afterwards).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiCall, conversationPath as path } from './api-client.js';
import { startCluster, startServices, type Cluster, type ClusterServices } from './cluster-setup.js';
import { TestClient } from './harness.js';
import { WebhookReceiver, type Arrival } from './webhooks-receiver.js';

const SECRET = 'cluster-webhook-secret-5e6f7a8b';
const KEY = 'cluster-api-key-9c8d7e6f5a4b3c2d';

describe('api and webhooks - two relays, PostgreSQL and NATS', () => {
  let services: ClusterServices;
  let cluster: Cluster;
  let receiver: WebhookReceiver;
  before(async () => {
    services = await startServices();
    receiver = await WebhookReceiver.start(SECRET);
    cluster = await startCluster(services, 2, {
      CHAT_API_KEY: KEY,
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_RETRY_MIN_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '1000',
    });
  });
  after(async () => {
    await cluster?.dispose();
    await receiver?.dispose();
    await services?.dispose();
  });

  const post = (relayIndex: number, conv: string, id: string) =>
    apiCall(cluster.relays[relayIndex]!.httpUrl, 'POST', path(conv, '/messages'), { key: KEY, body: { id, from: { id: 'agent-7', name: 'Agent' }, text: `text of ${id}` } });

  test('api cluster - a message posted through one relay reaches clients on both; a repeat through the other relay is 200 with the same body', async () => {
    const [a, b] = cluster.relays;
    const onA = await TestClient.login(a!.wsUrl, { user: 'alice' });
    const onB = await TestClient.login(b!.wsUrl, { user: 'bob' });
    await onA.join('shared');
    await onB.join('shared');
    const first = await post(0, 'shared', 'cluster-1');
    assert.equal(first.status, 201);
    const seq = (first.body as { seq: number }).seq;
    for (const client of [onA, onB]) {
      const frame = await client.next((f) => f.type === 'msg' && f.id === 'cluster-1');
      assert.equal(frame.type === 'msg' && frame.seq, seq);
      assert.deepEqual(frame.type === 'msg' && frame.from, { id: 'agent-7', name: 'Agent' });
    }
    const repeat = await post(1, 'shared', 'cluster-1');
    assert.equal(repeat.status, 200);
    assert.deepEqual(repeat.body, first.body);
    // Moderation through the other relay reaches both as well.
    assert.equal((await apiCall(b!.httpUrl, 'DELETE', path('shared', '/messages/cluster-1'), { key: KEY })).status, 200);
    for (const client of [onA, onB]) await client.next((f) => f.type === 'update' && f.id === 'cluster-1' && f.delete === true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(onA.messages('shared').length, 1);
    assert.equal(onB.messages('shared').length, 1);
    onA.close();
    onB.close();
    await receiver.until((r) => r.arrivals.some((x) => x.acknowledged && x.event.type === 'message.deleted'), 15_000, 'the delete event');
  });

  test('webhooks cluster - a relay SIGKILLed mid-delivery loses nothing: every event is received, once by id after dedup, in order per conversation', async () => {
    receiver.mode = 'hold';
    const expected: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `kill-${i}`;
      assert.equal((await post(i % 2, `kill-conv-${i}`, id)).status, 201);
      expected.push(id);
    }
    // Both relays (4 deliveries each at most) have deliveries in flight that nobody answered.
    await receiver.until((r) => r.heldCount >= 8, 15_000, 'eight deliveries in flight');
    await cluster.relays[0]!.kill();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the dead relay's connections close
    receiver.mode = 'ok';
    receiver.release();

    // A second message in each conversation, through the surviving relay, must come after the first.
    for (let i = 0; i < 12; i++) {
      const id = `kill-${i}-second`;
      assert.equal((await post(1, `kill-conv-${i}`, id)).status, 201);
      expected.push(id);
    }
    const delivered = (r: WebhookReceiver) =>
      new Set(r.arrivals.filter((x) => x.acknowledged && x.event.type === 'message.created').map((x) => (x.event.data as { id: string }).id));
    // The killed relay's leases run out (10 s), then the survivor delivers what it held.
    await receiver.until((r) => expected.every((id) => delivered(r).has(id)), 40_000, 'every event after the kill');

    // The killed relay comes back and takes part again; nothing it held is lost or doubled after dedup.
    cluster.relays[0] = await cluster.relays[0]!.restart();
    for (let i = 0; i < 4; i++) {
      const id = `after-restart-${i}`;
      assert.equal((await post(0, `kill-conv-${i}`, id)).status, 201);
      expected.push(id);
    }
    await receiver.until((r) => expected.every((id) => delivered(r).has(id)), 30_000, 'events after the restart');

    const unique = receiver.deduplicated().filter((x) => x.event.type === 'message.created' && x.event.conv.startsWith('kill-conv-'));
    assert.deepEqual(unique.map((x) => (x.event.data as { id: string }).id).sort(), [...expected].sort());
    assert.ok(receiver.arrivals.every((x) => x.verified));
    // In order per conversation, as a deduplicating receiver processes them.
    const byConv = new Map<string, Arrival[]>();
    for (const x of unique) byConv.set(x.event.conv, [...(byConv.get(x.event.conv) ?? []), x]);
    for (const [conv, list] of byConv) {
      const seqs = list.map((x) => (x.event.data as { seq: number }).seq);
      assert.deepEqual(seqs, [...seqs].sort((p, q) => p - q), conv);
    }
    // Eight deliveries were held, four per relay (WEBHOOK_CONCURRENCY): the dead relay's four
    // were never acknowledged and had to come again. Beyond those, only a first-phase event
    // whose held request timed out (5 s, on a busy machine) may come once more; the events
    // posted after the kill never repeat.
    const repeats = receiver.arrivals.filter((x) => x.event.conv.startsWith('kill-conv-')).length - unique.length;
    assert.ok(repeats >= 4 && repeats <= 12, `${repeats} repeated arrivals`);
    const later = receiver.arrivals.filter((x) => x.event.type === 'message.created' && !/^kill-\d+$/.test((x.event.data as { id: string }).id) && x.event.conv.startsWith('kill-conv-'));
    assert.equal(later.length, new Set(later.map((x) => x.event.id)).size, 'events posted after the kill arrive once');
  });
});
