/**
 * The dispatcher against a real local HTTP receiver and an in-memory queue that keeps the
 * store contract's rules (one leased event per conversation, the oldest; leases; attempts).
 * The store implementations have their own conformance tests; the relay tests
 * (relay/test/webhooks*.test.ts) run the whole thing on real stores.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { WebhookEvent } from '../../protocol/index.js';
import type { QueuedWebhook } from '../store/types.js';
import { backoffMs, WebhookDispatcher, type WebhookObserver, type WebhookStore } from './dispatcher.js';
import { signWebhook, verifySignature } from './signature.js';

const SECRET = 'dispatcher-test-secret';

interface Row {
  id: string;
  event: WebhookEvent;
  attempts: number;
  dueAt: number;
  lease?: { owner: string; until: number };
  errors: string[];
}

/** The queue as the store contract describes it. */
class MemoryQueue implements WebhookStore {
  readonly rows: Row[] = [];
  readonly failures: Array<{ id: string; retryAt: number; error: string; at: number }> = [];
  enableWebhooks(): void {}
  add(conv: string, seq: number, ts = Date.now()): void {
    const id = `e/${conv}/${seq}`;
    this.rows.push({ id, attempts: 0, dueAt: 0, errors: [], event: { id, type: 'message.created', conv, ts, data: { type: 'msg', conv, seq, id: `m${seq}`, from: { id: 'u', name: 'U' }, ts, text: `t${seq}` } } as WebhookEvent });
  }
  async claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<QueuedWebhook[]> {
    const heads = new Map<string, Row>();
    for (const row of this.rows) if (!heads.has(row.event.conv)) heads.set(row.event.conv, row);
    const out: QueuedWebhook[] = [];
    for (const row of heads.values()) {
      if (out.length >= limit) break;
      if (row.dueAt > now || (row.lease && row.lease.until > now)) continue;
      row.lease = { owner, until: now + leaseMs };
      out.push({ id: row.id, event: structuredClone(row.event), attempts: row.attempts });
    }
    return out;
  }
  async completeWebhook(id: string, owner: string): Promise<void> {
    const index = this.rows.findIndex((r) => r.id === id && r.lease?.owner === owner);
    if (index >= 0) this.rows.splice(index, 1);
  }
  async failWebhook(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    const row = this.rows.find((r) => r.id === id && r.lease?.owner === owner);
    if (!row) return;
    row.attempts++;
    row.lease = undefined;
    row.dueAt = retryAt;
    row.errors.push(error);
    this.failures.push({ id, retryAt, error, at: Date.now() });
  }
  async webhookBacklog(): Promise<number> {
    return this.rows.length;
  }
}

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function receiver(handler: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server };
}

const quietLogger = () => {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } };
};

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const fast = { pollMs: 20, backoff: { baseMs: 10, capMs: 80 } };

describe('webhooks - backoff', () => {
  test('webhooks backoff - full jitter under an exponential ceiling capped at capMs', () => {
    const policy = { baseMs: 1000, capMs: 3_600_000 };
    assert.equal(backoffMs(1, policy, () => 1), 1000);
    assert.equal(backoffMs(2, policy, () => 1), 2000);
    assert.equal(backoffMs(5, policy, () => 1), 16_000);
    assert.equal(backoffMs(13, policy, () => 1), 3_600_000);
    assert.equal(backoffMs(1000, policy, () => 1), 3_600_000);
    assert.equal(backoffMs(7, policy, () => 0), 0);
    for (let n = 1; n < 30; n++) {
      const d = backoffMs(n, policy);
      assert.ok(d >= 0 && d <= Math.min(3_600_000, 1000 * 2 ** (n - 1)), `${n}: ${d}`);
    }
    // Attempts at the ceiling keep going: 24 h of failures is ~40 attempts, none of them the last.
    let total = 0;
    let n = 0;
    while (total < 24 * 3_600_000) total += backoffMs(++n, policy, () => 1);
    assert.ok(n < 60, `${n} attempts`);
  });
});

describe('webhooks - signature', () => {
  test('webhooks signature - verifies; a tampered body, another secret, an old timestamp or garbage do not', () => {
    const body = JSON.stringify({ id: 'e1', text: 'héllo' });
    const header = signWebhook(SECRET, body);
    assert.equal(verifySignature(SECRET, header, body).ok, true);
    assert.equal(verifySignature(SECRET, header, Buffer.from(body)).ok, true);
    assert.deepEqual(verifySignature(SECRET, header, body.replace('e1', 'e2')), { ok: false, reason: 'mismatch' });
    assert.deepEqual(verifySignature('other-secret', header, body), { ok: false, reason: 'mismatch' });
    const old = signWebhook(SECRET, body, Math.floor(Date.now() / 1000) - 3600);
    assert.deepEqual(verifySignature(SECRET, old, body), { ok: false, reason: 'expired' });
    for (const bad of [undefined, '', 't=1', 'v1=ab', 't=x,v1=00', `t=${Math.floor(Date.now() / 1000)},v1=zz`]) {
      assert.deepEqual(verifySignature(SECRET, bad, body), { ok: false, reason: 'malformed' }, String(bad));
    }
    // Rotation: an old and a new signature side by side; either secret verifies.
    const t = Math.floor(Date.now() / 1000);
    const both = `${signWebhook('old-secret', body, t)},${signWebhook(SECRET, body, t).split(',')[1]}`;
    assert.equal(verifySignature(SECRET, both, body).ok, true);
    assert.equal(verifySignature('old-secret', both, body).ok, true);
  });
});

describe('webhooks - dispatcher', () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  test('webhooks dispatcher - every event once, signed, in seq order per conversation, at most `concurrency` at a time', async () => {
    const queue = new MemoryQueue();
    for (let seq = 1; seq <= 20; seq++) for (const conv of ['a', 'b', 'c']) queue.add(conv, seq);
    const seen: WebhookEvent[] = [];
    let open = 0;
    let maxOpen = 0;
    const { url, server } = await receiver((req, body, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      assert.equal(verifySignature(SECRET, req.headers['x-chat-signature'] as string, body).ok, true);
      assert.equal(req.headers['content-type'], 'application/json');
      setTimeout(() => {
        open--;
        seen.push(JSON.parse(body) as WebhookEvent);
        res.writeHead(204).end();
      }, 2);
    });
    servers.push(server);
    const { logger } = quietLogger();
    const dispatcher = new WebhookDispatcher({ store: queue, url, secret: SECRET, logger, concurrency: 2, ...fast });
    dispatcher.start();
    await until(() => queue.rows.length === 0);
    await dispatcher.stop();
    assert.equal(seen.length, 60);
    assert.equal(new Set(seen.map((e) => e.id)).size, 60);
    for (const conv of ['a', 'b', 'c']) {
      assert.deepEqual(seen.filter((e) => e.conv === conv).map((e) => (e.data as { seq: number }).seq), Array.from({ length: 20 }, (_, i) => i + 1));
    }
    assert.ok(maxOpen <= 2, `${maxOpen} requests at once`);
    assert.equal(dispatcher.state, 'stopped');
  });

  test('webhooks dispatcher - a failing receiver (500, timeout, refused) is retried with backoff until it takes the event; order holds meanwhile', async () => {
    const queue = new MemoryQueue();
    queue.add('a', 1);
    queue.add('a', 2);
    let calls = 0;
    const got: string[] = [];
    const { url, server } = await receiver((_req, body, res) => {
      calls++;
      if (calls === 1) return void res.writeHead(500).end('nope');
      if (calls === 2) return; // never answers: a timeout
      got.push((JSON.parse(body) as WebhookEvent).id);
      res.writeHead(200).end('ok');
    });
    servers.push(server);
    const attempts: Array<{ delivered: boolean; failure?: string }> = [];
    const observer: WebhookObserver = {
      webhookQueueDepth() {},
      webhookAttempt: (_ms, outcome) => void attempts.push({ delivered: outcome.delivered, failure: outcome.delivered ? undefined : outcome.failure }),
    };
    const { lines, logger } = quietLogger();
    const dispatcher = new WebhookDispatcher({ store: queue, url, secret: SECRET, logger, observer, timeoutMs: 200, leaseMs: 1000, ...fast });
    dispatcher.start();
    await until(() => queue.rows.length === 0);
    await dispatcher.stop();
    assert.deepEqual(got, ['e/a/1', 'e/a/2']);
    assert.deepEqual(attempts, [
      { delivered: false, failure: 'status' },
      { delivered: false, failure: 'timeout' },
      { delivered: true, failure: undefined },
      { delivered: true, failure: undefined },
    ]);
    assert.deepEqual(queue.failures.map((f) => f.error), ['HTTP 500', 'no answer within 200 ms']);
    for (const failure of queue.failures) assert.ok(failure.retryAt >= failure.at - 5 && failure.retryAt <= failure.at + 80);
    assert.equal(lines.filter((l) => l.level === 'warn' && l.msg?.includes('will retry')).length, 2);

    // Nothing listening at all: a network failure, and the event stays queued.
    server.close();
    queue.add('b', 1);
    const refused = new WebhookDispatcher({ store: queue, url, secret: SECRET, logger, observer, ...fast });
    refused.start();
    await until(() => queue.failures.length >= 4);
    await refused.stop();
    assert.equal(queue.rows.length, 1);
    assert.ok(attempts.slice(4).every((a) => a.failure === 'network'));
  });

  test('webhooks dispatcher - an event failing for more than 24 h is retried every hour, logged as an error, never dropped', async () => {
    const queue = new MemoryQueue();
    queue.add('old', 1, Date.now() - 25 * 3_600_000);
    const { url, server } = await receiver((_req, _body, res) => void res.writeHead(503).end());
    servers.push(server);
    const { lines, logger } = quietLogger();
    let overdue = 0;
    const dispatcher = new WebhookDispatcher({
      store: queue, url, secret: SECRET, logger, ...fast, backoff: { baseMs: 10, capMs: 3_600_000 },
      observer: { webhookQueueDepth() {}, webhookAttempt: (_ms, o) => void (overdue += !o.delivered && o.overdue ? 1 : 0) },
    });
    dispatcher.start();
    await until(() => queue.failures.length === 1);
    await dispatcher.stop();
    const [failure] = queue.failures;
    assert.ok(Math.abs(failure!.retryAt - failure!.at - 3_600_000) < 1000, 'due again in one hour');
    assert.equal(queue.rows.length, 1, 'still queued');
    assert.equal(overdue, 1);
    assert.ok(lines.some((l) => l.level === 'error' && l.msg?.includes('more than 24 h')));
  });

  test('webhooks dispatcher - the queue depth goes to the observer, and to the log while attempts fail', async () => {
    const queue = new MemoryQueue();
    for (let seq = 1; seq <= 3; seq++) queue.add('stuck', seq);
    const { url, server } = await receiver((_req, _body, res) => void res.writeHead(500).end());
    servers.push(server);
    const depths: number[] = [];
    const { lines, logger } = quietLogger();
    const dispatcher = new WebhookDispatcher({
      store: queue, url, secret: SECRET, logger, ...fast, depthEveryMs: 20, reportEveryMs: 50,
      observer: { webhookQueueDepth: (depth) => void depths.push(depth), webhookAttempt() {} },
    });
    dispatcher.start();
    await until(() => lines.some((l) => l.msg === 'webhooks: events waiting in the queue'));
    await dispatcher.stop();
    const report = lines.find((l) => l.msg === 'webhooks: events waiting in the queue')!;
    assert.equal((report.obj as { depth: number }).depth, 3);
    assert.ok((report.obj as { failedAttempts: number }).failedAttempts >= 1);
    assert.ok(depths.includes(3));
  });

  test('webhooks dispatcher - stop waits for the delivery in flight and records its outcome', async () => {
    const queue = new MemoryQueue();
    queue.add('a', 1);
    let answer: (() => void) | undefined;
    const { url, server } = await receiver((_req, _body, res) => {
      answer = () => res.writeHead(200).end();
    });
    servers.push(server);
    const dispatcher = new WebhookDispatcher({ store: queue, url, secret: SECRET, logger: quietLogger().logger, ...fast });
    dispatcher.start();
    await until(() => answer !== undefined);
    const stopped = dispatcher.stop();
    assert.equal(dispatcher.state, 'stopping');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(queue.rows.length, 1, 'not completed before the receiver answered');
    answer!();
    await stopped;
    assert.equal(queue.rows.length, 0);
    assert.equal(dispatcher.state, 'stopped');
  });
});
