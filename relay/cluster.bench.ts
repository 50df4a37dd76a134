/**
 * Fan-out latency, scaled out vs. one relay, measured in the same run on the same machine:
 *   single   — one relay, defaults (SQLite + in-process bus): the baseline;
 *   same     — two relays on PostgreSQL + NATS, sender and receivers on the same relay;
 *   cross    — the same cluster, receivers on the OTHER relay than the senders.
 * Latency = from the sender writing `send` to a receiver getting the `msg` (one process,
 * one clock), recorded per receiver, so it includes the store commit, the bus hop and the
 * WebSocket write. Usage: tsx relay/cluster.bench.ts [--seconds 10] [--rate 200] [--receivers 4]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { startRelay, type RelayProcess } from './test/harness.js';
import { startNats, startPostgres } from './test/services.js';
import { LIFTED_LIMITS_ENV } from './config.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    receivers: { type: 'string', default: '4' },
    senders: { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const receiverCount = Number(values.receivers);
const senderCount = Number(values.senders);
const warmupMs = 1000;

interface Client {
  ws: WebSocket;
  onMessage(handler: (frame: { type: string; id?: string; conv?: string }) => void): void;
  send(frame: object): void;
}

async function connect(url: string, user: string, conv: string): Promise<Client> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const handlers: Array<(frame: { type: string; id?: string }) => void> = [];
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { type: string; id?: string };
    for (const handler of handlers) handler(frame);
  });
  const client: Client = {
    ws,
    onMessage: (handler) => handlers.push(handler),
    send: (frame) => ws.send(JSON.stringify(frame)),
  };
  const joined = new Promise<void>((resolve, reject) => {
    client.onMessage((frame) => {
      if (frame.type === 'joined') resolve();
      if (frame.type === 'error') reject(new Error(JSON.stringify(frame)));
    });
  });
  client.send({ type: 'hello', v: 1, user });
  client.send({ type: 'join', conv, after: 0 });
  await joined;
  return client;
}

/** Runs one measurement: senders on `sendUrl`, receivers on `receiveUrl`. */
async function measure(label: string, sendUrl: string, receiveUrl: string): Promise<hdr.Histogram> {
  const conv = `bench-${label}-${Date.now()}`;
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const sentAt = new Map<string, number>();
  const receivers = await Promise.all(Array.from({ length: receiverCount }, (_, i) => connect(receiveUrl, `r${i}`, conv)));
  const senders = await Promise.all(Array.from({ length: senderCount }, (_, i) => connect(sendUrl, `s${i}`, conv)));
  const started = performance.now();
  let received = 0;
  for (const receiver of receivers) {
    receiver.onMessage((frame) => {
      if (frame.type !== 'msg' || !frame.id) return;
      const at = sentAt.get(frame.id);
      received++;
      if (at === undefined || at - started < warmupMs) return;
      histogram.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
    });
  }
  const total = Math.round(rate * seconds);
  const tickMs = 10;
  let next = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      // Keeps the average rate even when a tick comes late.
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
      for (; next < due; next++) {
        const id = `m${next}`;
        sentAt.set(id, performance.now());
        senders[next % senders.length]!.send({ type: 'send', conv, id, text: `bench ${next}` });
      }
      if (next >= total) {
        clearInterval(timer);
        resolve();
      }
    }, tickMs);
  });
  const expected = total * receivers.length;
  const deadline = Date.now() + 30_000;
  while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (received < expected) console.warn(`${label}: only ${received} of ${expected} deliveries arrived`);
  for (const client of [...receivers, ...senders]) client.ws.close();
  return histogram;
}

const ms = (us: number) => (us / 1000).toFixed(2);

async function main(): Promise<void> {
  const env = { ...LIFTED_LIMITS_ENV, LOG_LEVEL: 'info' };
  console.log(`fan-out latency: ${rate} msg/s for ${seconds} s, ${senderCount} senders, ${receiverCount} receivers (first ${warmupMs} ms not counted)`);
  const single = await startRelay({ env });
  const [nats, pg] = await Promise.all([startNats(), startPostgres()]);
  const databaseUrl = await pg.createDatabase();
  const clusterEnv = { ...env, NATS_URL: nats.url, DATABASE_URL: databaseUrl };
  const relays: RelayProcess[] = [];
  try {
    for (let i = 0; i < 2; i++) relays.push(await startRelay({ env: clusterEnv }));
    const [one, two] = relays as [RelayProcess, RelayProcess];
    // Interleaved twice, so a slow spell of this shared machine does not land on one setup only.
    const results = new Map<string, hdr.Histogram[]>();
    for (let round = 0; round < 2; round++) {
      for (const [label, from, to] of [
        ['single', single.wsUrl, single.wsUrl],
        ['same', one.wsUrl, one.wsUrl],
        ['cross', one.wsUrl, two.wsUrl],
      ] as const) {
        const list = results.get(label) ?? [];
        list.push(await measure(label, from, to));
        results.set(label, list);
      }
    }
    const merged = new Map<string, hdr.Histogram>();
    for (const [label, list] of results) {
      const h = list[0]!;
      for (const other of list.slice(1)) h.add(other);
      merged.set(label, h);
    }
    const rows = [...merged].map(([label, h]) => ({
      setup: label,
      samples: h.totalCount,
      'p50 ms': ms(h.getValueAtPercentile(50)),
      'p90 ms': ms(h.getValueAtPercentile(90)),
      'p99 ms': ms(h.getValueAtPercentile(99)),
      'max ms': ms(h.maxValue),
    }));
    console.table(rows);
    const single50 = merged.get('single')!.getValueAtPercentile(50);
    const single99 = merged.get('single')!.getValueAtPercentile(99);
    const same50 = merged.get('same')!.getValueAtPercentile(50);
    const same99 = merged.get('same')!.getValueAtPercentile(99);
    const cross50 = merged.get('cross')!.getValueAtPercentile(50);
    const cross99 = merged.get('cross')!.getValueAtPercentile(99);
    console.log(`cross-instance / single-instance: p50 ×${(cross50 / single50).toFixed(2)}, p99 ×${(cross99 / single99).toFixed(2)}`);
    console.log(`cross-instance / same-instance (both on PostgreSQL + NATS): p50 ×${(cross50 / same50).toFixed(2)}, p99 ×${(cross99 / same99).toFixed(2)}`);
  } finally {
    await Promise.all([single.dispose(), ...relays.map((r) => r.dispose())]);
    await Promise.all([nats.dispose(), pg.dispose()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
