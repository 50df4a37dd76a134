/**
 * Webhooks on a real relay (SQLite) to a real local receiver: every event kind, signed;
 * exactly once by id after the endpoint failed and was gone for a while; order per
 * conversation; what is in flight at shutdown is finished, not lost and not repeated.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import * as v from 'valibot';
import { WebhookEvent } from '../../protocol/index.js';
import { verifySignature } from '../webhooks/signature.js';
import { apiCall, conversationPath as path } from './api-client.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';
import { parseExposition, sampleValue } from './metrics-text.js';
import { WebhookReceiver, type Arrival } from './webhooks-receiver.js';

const SECRET = 'webhook-secret-for-tests-7d3f9a';
const KEY = 'api-key-for-webhook-tests-0a1b2c3d';

const relays: RelayProcess[] = [];
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.dispose()));
  await Promise.all(receivers.splice(0).map((r) => r.dispose()));
});

async function setup(env: Record<string, string> = {}): Promise<{ relay: RelayProcess; receiver: WebhookReceiver }> {
  const receiver = await WebhookReceiver.start(SECRET);
  receivers.push(receiver);
  const relay = await startRelay({ env: { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, CHAT_API_KEY: KEY, ...env } });
  relays.push(relay);
  return { relay, receiver };
}

/** The seq of the log event behind a message event: its own seq when created, the update's (rev) otherwise. */
function logSeq(arrival: Arrival): number {
  const data = arrival.event.data as { seq: number; rev?: number };
  return arrival.event.type === 'message.created' ? data.seq : data.rev!;
}

function assertOrderPerConversation(arrivals: Arrival[]): void {
  const last = new Map<string, number>();
  for (const arrival of arrivals) {
    if (arrival.event.type === 'member.joined') continue;
    const seq = logSeq(arrival);
    const previous = last.get(arrival.event.conv) ?? 0;
    assert.ok(seq > previous, `${arrival.event.conv}: event at seq ${seq} after ${previous}`);
    last.set(arrival.event.conv, seq);
  }
}

async function scrape(relay: RelayProcess) {
  const response = await fetch(`${relay.httpUrl}/metrics`);
  return parseExposition(await response.text());
}

describe('webhooks - one relay', () => {
  after(async () => {
    await Promise.all(relays.splice(0).map((r) => r.dispose()));
    await Promise.all(receivers.splice(0).map((r) => r.dispose()));
  });

  test('webhooks - every event kind arrives once, signed over the exact body, in seq order; a tampered body does not verify', async () => {
    const { relay, receiver } = await setup();
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice', name: 'Alice' });
    await alice.join('wh');
    alice.send({ type: 'send', conv: 'wh', id: 'a1', text: 'from alice' });
    await alice.next((f) => f.type === 'ack' && f.id === 'a1');
    assert.equal((await apiCall(relay.httpUrl, 'POST', path('wh', '/messages'), { key: KEY, body: { id: 'b1', from: { id: 'bot', name: 'Bot' }, text: 'from the backend' } })).status, 201);
    assert.equal((await apiCall(relay.httpUrl, 'PATCH', path('wh', '/messages/b1'), { key: KEY, body: { text: 'edited by the backend' } })).status, 200);
    assert.equal((await apiCall(relay.httpUrl, 'DELETE', path('wh', '/messages/a1'), { key: KEY })).status, 200);
    // A second join of the same user is not a new member.
    alice.close();
    const again = await TestClient.login(relay.wsUrl, { user: 'alice', name: 'Alice' });
    await again.join('wh');
    const bob = await TestClient.login(relay.wsUrl, { user: 'bob', name: 'Bob' });
    await bob.join('wh');

    const kinds = (r: WebhookReceiver) => r.deduplicated().map((a) => `${a.event.type}:${'id' in a.event.data ? a.event.data.id : ''}`);
    await receiver.until((r) => kinds(r).includes('member.joined:bob') && kinds(r).includes('message.deleted:a1'), 15_000, 'all events');
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything extra (a duplicate, a second join) would show now
    const got = kinds(receiver);
    for (const expected of ['member.joined:alice', 'message.created:a1', 'message.created:b1', 'message.updated:b1', 'message.deleted:a1', 'member.joined:bob']) {
      assert.ok(got.includes(expected), `${expected} in ${got.join(', ')}`);
    }
    assert.equal(got.filter((k) => k === 'member.joined:alice').length, 1);
    for (const arrival of receiver.arrivals) {
      assert.equal(arrival.verified, true);
      assert.ok(v.safeParse(WebhookEvent, arrival.event).success, arrival.raw);
      assert.equal(arrival.event.conv, 'wh');
    }
    for (const [id, count] of receiver.acknowledgements()) assert.equal(count, 1, id);
    assertOrderPerConversation(receiver.arrivals);

    const created = receiver.arrivals.find((a) => a.event.type === 'message.created' && (a.event.data as { id: string }).id === 'b1')!;
    assert.deepEqual(created.event.data, { type: 'msg', conv: 'wh', seq: (created.event.data as { seq: number }).seq, id: 'b1', from: { id: 'bot', name: 'Bot' }, text: 'from the backend', ts: created.event.ts });
    const updated = receiver.arrivals.find((a) => a.event.type === 'message.updated')!;
    assert.equal((updated.event.data as { text: string }).text, 'edited by the backend');
    const deleted = receiver.arrivals.find((a) => a.event.type === 'message.deleted')!;
    assert.equal((deleted.event.data as { deleted?: boolean }).deleted, true);
    assert.equal((deleted.event.data as { text?: string }).text, undefined);

    // The signature covers the exact bytes: any change breaks it, as does another secret.
    assert.equal(verifySignature(SECRET, created.signature, created.raw).ok, true);
    assert.deepEqual(verifySignature(SECRET, created.signature, created.raw.replace('from the backend', 'from the backenD')), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifySignature(SECRET, created.signature, `${created.raw} `), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifySignature('another-secret', created.signature, created.raw), { ok: false, reason: 'mismatch' });
    again.close();
    bob.close();
  });

  test('webhooks - an endpoint that fails (500) and then is gone for a while gets every event exactly once when it is back, in order', async () => {
    const { relay, receiver } = await setup({ WEBHOOK_RETRY_MIN_MS: '100', WEBHOOK_RETRY_MAX_MS: '800' });
    receiver.mode = 'fail';
    const posted: string[] = [];
    const post = async (conv: string, id: string) => {
      const response = await apiCall(relay.httpUrl, 'POST', path(conv, '/messages'), { key: KEY, body: { id, from: { id: 'bot', name: 'Bot' }, text: id } });
      assert.equal(response.status, 201);
      posted.push(id);
    };
    for (let i = 0; i < 12; i++) await post(`down-${i % 3}`, `fail-phase-${i}`);
    await receiver.until((r) => r.arrivals.length >= 6, 15_000, 'failed attempts');
    await receiver.close();
    for (let i = 0; i < 12; i++) await post(`down-${i % 3}`, `gone-phase-${i}`);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // attempts now meet a closed port
    receiver.mode = 'ok';
    await receiver.listen();

    const createdIds = (r: WebhookReceiver) => new Set(r.arrivals.filter((a) => a.acknowledged && a.event.type === 'message.created').map((a) => (a.event.data as { id: string }).id));
    await receiver.until((r) => createdIds(r).size === posted.length, 30_000, 'every message delivered');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual([...createdIds(receiver)].sort(), [...posted].sort());
    for (const [id, count] of receiver.acknowledgements()) assert.equal(count, 1, `${id} acknowledged ${count} times`);
    assertOrderPerConversation(receiver.arrivals.filter((a) => a.acknowledged));

    const metrics = await scrape(relay);
    assert.ok(sampleValue(metrics, 'chat_webhook_failures_total', { reason: 'status' })! >= 6);
    assert.ok(sampleValue(metrics, 'chat_webhook_failures_total', { reason: 'network' })! >= 1);
    assert.ok(sampleValue(metrics, 'chat_webhook_delivered_total')! >= posted.length);
    assert.ok(sampleValue(metrics, 'chat_webhook_attempts_total')! > posted.length);
    assert.ok(relay.logs.some((line) => line.includes('webhook delivery failed; will retry')));
    // The queue drains to nothing (the gauge is read every 5 s).
    const deadline = Date.now() + 15_000;
    while (sampleValue(await scrape(relay), 'chat_webhook_queue_depth') !== 0) {
      assert.ok(Date.now() < deadline, 'queue depth back to 0');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  test('webhooks - SIGTERM: /readyz says 503 at once, the delivery in flight finishes, and a restart delivers nothing twice', async () => {
    const { relay, receiver } = await setup();
    receiver.mode = 'hold';
    assert.equal((await apiCall(relay.httpUrl, 'POST', path('bye', '/messages'), { key: KEY, body: { id: 'last', from: { id: 'bot', name: 'Bot' }, text: 'last words' } })).status, 201);
    await receiver.until((r) => r.heldCount === 1, 10_000, 'delivery in flight');
    // A kept-alive connection, as a load balancer's health checks use.
    assert.equal((await fetch(`${relay.httpUrl}/readyz`)).status, 200);
    const exited = relay.stop();
    let ready = 200;
    const deadline = Date.now() + 4000;
    while (ready !== 503 && Date.now() < deadline) {
      ready = await fetch(`${relay.httpUrl}/readyz`).then((r) => r.status, () => 0);
    }
    assert.equal(ready, 503, '/readyz during shutdown');
    receiver.release();
    assert.equal(await exited, 0);
    assert.equal(receiver.acknowledgements().size, 1);

    receiver.mode = 'ok';
    const restarted = await relay.restart();
    relays.push(restarted);
    assert.equal((await apiCall(restarted.httpUrl, 'POST', path('bye', '/messages'), { key: KEY, body: { id: 'after', from: { id: 'bot', name: 'Bot' }, text: 'after' } })).status, 201);
    await receiver.until((r) => [...r.acknowledgements().keys()].length === 2, 10_000, 'the next event');
    for (const [id, count] of receiver.acknowledgements()) assert.equal(count, 1, id);
  });
});
