/**
 * Webhook delivery from a real relay to a local receiver (node:http, answering 204 at once):
 *   1. paced: messages at a fixed rate over many conversations; the delay from the append
 *      (the message's ts, the relay's clock on this same machine) to the receiver getting
 *      its message.created, p50/p99/max;
 *   2. burst: messages sent as fast as the relay takes them; delivered events per second from
 *      the first send to the last event received, and the same delay (now with queueing).
 * Every event is checked: signed correctly, and received (after dedup) exactly once.
 *
 * Run: npm run bench:webhooks [-- --rate 200 --seconds 10 --burst 5000 --convs 100 --concurrency 16 --store sqlite|postgres]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { startRelay, type RelayProcess } from '../../tools/spawn-relay.mjs';
import { startPostgres, type PostgresServer } from '../../tools/services.js';
import { LIFTED_LIMITS_ENV } from '../config.js';
import { verifySignature } from './signature.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    burst: { type: 'string', default: '5000' },
    convs: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '16' },
    store: { type: 'string', default: 'sqlite' },
    json: { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BURST = Number(values.burst);
const CONVS = Number(values.convs);
const SECRET = 'bench-webhook-secret';
const CONNECTIONS = 10;

interface Received {
  at: number;
  ts: number;
}

/** The receiver: verifies, records the first arrival of each message id. */
async function startReceiver() {
  const received = new Map<string, Received>();
  let badSignatures = 0;
  let repeats = 0;
  let wake: (() => void) | null = null;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const body = Buffer.concat(chunks);
      if (!verifySignature(SECRET, req.headers['x-chat-signature'] as string, body).ok) {
        badSignatures++;
        return void res.writeHead(401).end();
      }
      res.writeHead(204).end();
      const event = JSON.parse(body.toString('utf8')) as { type: string; data: { id: string; ts: number } };
      if (event.type !== 'message.created') return;
      if (received.has(event.data.id)) repeats++;
      else received.set(event.data.id, { at, ts: event.data.ts });
      wake?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    stats: () => ({ badSignatures, repeats }),
    async waitFor(ids: string[], timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!ids.every((id) => received.has(id))) {
        if (Date.now() > deadline) throw new Error(`${ids.filter((id) => !received.has(id)).length} of ${ids.length} events not received in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** WebSocket senders in open mode; each joins its share of the conversations. */
async function connect(relay: RelayProcess): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const ws = new WebSocket(relay.wsUrl);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'hello', v: 1, user: `sender-${c}`, name: `Sender ${c}` }));
    for (let i = c; i < CONVS; i += CONNECTIONS) ws.send(JSON.stringify({ type: 'join', conv: `bench-${i}` }));
    sockets.push(ws);
  }
  return sockets;
}

function send(sockets: WebSocket[], n: number, prefix: string): string {
  const conv = n % CONVS;
  const id = `${prefix}-${n}`;
  sockets[conv % CONNECTIONS]!.send(JSON.stringify({ type: 'send', conv: `bench-${conv}`, id, text: `bench message ${n}` }));
  return id;
}

function summarise(ids: string[], received: Map<string, Received>) {
  const histogram = hdr.build({ numberOfSignificantValueDigits: 3 });
  for (const id of ids) histogram.recordValue(Math.max(0, received.get(id)!.at - received.get(id)!.ts));
  const result = { p50_ms: histogram.getValueAtPercentile(50), p99_ms: histogram.getValueAtPercentile(99), max_ms: histogram.maxValue };
  histogram.destroy();
  return result;
}

async function main(): Promise<void> {
  const receiver = await startReceiver();
  let pg: PostgresServer | undefined;
  const env: Record<string, string> = { ...LIFTED_LIMITS_ENV, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_CONCURRENCY: values.concurrency!, LOG_LEVEL: 'warn' };
  if (values.store === 'postgres') {
    pg = await startPostgres();
    env.DATABASE_URL = await pg.createDatabase();
  }
  const relay = await startRelay({ env });
  try {
    const sockets = await connect(relay);
    await new Promise((resolve) => setTimeout(resolve, 500)); // joins answered

    // 1. paced
    const paced: string[] = [];
    const total = Math.round(RATE * SECONDS);
    const tickMs = 20;
    const perTick = RATE * (tickMs / 1000);
    const start = Date.now();
    let due = 0;
    while (paced.length < total) {
      due = Math.min(total, Math.floor(((Date.now() - start) / tickMs + 1) * perTick));
      while (paced.length < due) paced.push(send(sockets, paced.length, 'paced'));
      await new Promise((resolve) => setTimeout(resolve, tickMs));
    }
    await receiver.waitFor(paced, 60_000);
    const pacedResult = summarise(paced, receiver.received);

    // 2. burst
    const burst: string[] = [];
    const burstStart = Date.now();
    for (let n = 0; n < BURST; n++) {
      burst.push(send(sockets, n, 'burst'));
      if (n % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
    }
    await receiver.waitFor(burst, 300_000);
    const last = Math.max(...burst.map((id) => receiver.received.get(id)!.at));
    const burstSeconds = (last - burstStart) / 1000;
    const burstResult = { events: BURST, seconds: Number(burstSeconds.toFixed(2)), events_per_s: Math.round(BURST / burstSeconds), ...summarise(burst, receiver.received) };
    for (const ws of sockets) ws.close();

    const { badSignatures, repeats } = receiver.stats();
    const result = {
      store: values.store,
      conversations: CONVS,
      webhook_concurrency: Number(values.concurrency),
      paced: { rate_per_s: RATE, events: total, ...pacedResult },
      burst: burstResult,
      bad_signatures: badSignatures,
      repeats,
      load_average: loadavg().map((l) => Number(l.toFixed(2))),
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`webhooks to a local receiver (${values.store}, ${CONVS} conversations, WEBHOOK_CONCURRENCY=${values.concurrency}; load average ${result.load_average.join(' ')})`);
      console.log(`  paced ${RATE}/s for ${SECONDS} s: append → webhook p50 ${pacedResult.p50_ms} ms, p99 ${pacedResult.p99_ms} ms, max ${pacedResult.max_ms} ms`);
      console.log(`  burst of ${BURST}: ${burstResult.events_per_s} events/s delivered (${burstResult.seconds} s), append → webhook p50 ${burstResult.p50_ms} ms, p99 ${burstResult.p99_ms} ms`);
      console.log(`  every event verified and received once (bad signatures ${badSignatures}, repeats ${repeats})`);
    }
    if (badSignatures > 0) process.exitCode = 1;
  } finally {
    await relay.dispose();
    await receiver.close();
    await pg?.dispose();
  }
}

await main();
