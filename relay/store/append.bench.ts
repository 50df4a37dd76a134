/**
 * SQLite appends, every way the relay has committed them, in one run on one disk:
 *   1. one transaction per message (what a naive relay does), for scale;
 *   2. throughput, all appends at once: inline group commit (main thread, the old store)
 *      against the worker pipeline (SqliteStore);
 *   3. a fixed rate (default 2,000 appends/s, 50 per 25 ms tick, like a busy relay): p50/p99
 *      ack latency, and the main thread's event-loop delay p99, which is what the worker
 *      is for: inline, every fsync stalls the loop; in the worker, it does not;
 *   4. the worker pipeline again with webhooks enabled (every append also queues its event in
 *      the same transaction), for the price of the durable webhook queue;
 *   5. the commit window (SqliteStore's commitWindowMs): 1,000 appends/s spread over 200
 *      conversations (the load test's `fanout`), per window: commits, ack p50/p99, and the
 *      process's CPU µs per append — what fewer, larger commits save and what they cost.
 * Run: npm run bench:append [-- N [RATE [window]]] (`window`: only the commit-window sweep)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { InlineSqliteStore } from './sqlite-inline.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { AppendInput, Store } from './types.js';

const N = Number(process.argv[2] ?? 5000);
const RATE = Number(process.argv[3] ?? 2000);
const ONLY_WINDOW = process.argv[4] === 'window';
const TICK_MS = 25;
const from = { id: 'bench', name: 'Bench' };
const inputs = (conv: string): AppendInput[] =>
  Array.from({ length: N }, (_, i) => ({ conv, id: `m${i}`, from, text: `message number ${i} with some typical chat length text`, ts: Date.now() }));

type Kind = 'inline' | 'worker';

async function withStore<T>(kind: Kind, run: (store: Store) => Promise<T>, options: Partial<SqliteStoreOptions> = {}): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-bench-'));
  const path = join(dir, 'bench.db');
  const store = kind === 'inline' ? new InlineSqliteStore({ path }) : await SqliteStore.open({ ...options, path });
  try {
    return await run(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function perMessage(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-bench-'));
  const store = new InlineSqliteStore({ path: join(dir, 'bench.db') });
  const started = process.hrtime.bigint();
  for (const input of inputs('c')) store.appendBatch([input]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return N / seconds;
}

async function allAtOnce(kind: Kind, webhooks = false): Promise<number> {
  return withStore(kind, async (store) => {
    if (webhooks) store.enableWebhooks();
    const started = process.hrtime.bigint();
    await Promise.all(inputs('c').map((input) => store.append(input)));
    return N / (Number(process.hrtime.bigint() - started) / 1e9);
  });
}

interface Paced {
  p50: number;
  p99: number;
  rate: number;
  loopP99: number;
  loopMax: number;
  /** Process CPU (all threads) per append, µs. */
  cpuUs: number;
}

/** `inputs` spread round-robin over `convs` conversations. */
const spread = (convs: number): AppendInput[] => inputs('c').map((input, i) => ({ ...input, conv: `c${i % convs}` }));

async function paced(kind: Kind, all = inputs('c'), rate = RATE, options: Partial<SqliteStoreOptions> = {}, tickMs = TICK_MS): Promise<Paced> {
  return withStore(kind, async (store) => {
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const latencies: number[] = [];
    const pending: Promise<unknown>[] = [];
    const loop = monitorEventLoopDelay({ resolution: 1 }); // 1 ms: short stalls count too
    loop.enable();
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0, tick = 0; i < all.length; i += perTick, tick++) {
      // Scheduled, not slept: a stalled loop sends the late batch at once (no coordinated omission).
      const due = started + tick * tickMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      for (const input of all.slice(i, i + perTick)) {
        const sent = due;
        pending.push(store.append(input).then(() => latencies.push(performance.now() - sent)));
      }
    }
    await Promise.all(pending);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    loop.disable();
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
    return {
      p50: at(0.5),
      p99: at(0.99),
      rate: all.length / seconds,
      loopP99: loop.percentile(99) / 1e6,
      loopMax: loop.max / 1e6,
      cpuUs: (used.user + used.system) / all.length,
    };
  }, options);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const ms = (n: number) => n.toFixed(2);
console.log(`SQLite, WAL, synchronous=FULL; ${N} appends per measurement; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
if (!ONLY_WINDOW) {
  const single = await perMessage();
  console.log(`one transaction per message (inline)         ${fmt(single)} appends/s`);
  const inlineAll = await allAtOnce('inline');
  const workerAll = await allAtOnce('worker');
  console.log(`all at once, inline group commit             ${fmt(inlineAll)} appends/s (${(inlineAll / single).toFixed(1)}x one per message)`);
  console.log(`all at once, worker pipelined group commit   ${fmt(workerAll)} appends/s (${(workerAll / inlineAll).toFixed(2)}x inline)`);
  const inlinePaced = await paced('inline');
  const workerPaced = await paced('worker');
  console.log(`\nat ${fmt(RATE)} appends/s (${Math.round((RATE * TICK_MS) / 1000)} every ${TICK_MS} ms), ack latency from the due time:`);
  for (const [label, r] of [['inline', inlinePaced], ['worker', workerPaced]] as const) {
    console.log(
      `  ${label.padEnd(7)} achieved ${fmt(r.rate)}/s, ack p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms; main event-loop delay p99 ${ms(r.loopP99)} ms, max ${ms(r.loopMax)} ms`,
    );
  }
  console.log(
    `  worker vs inline: ack p99 ${(workerPaced.p99 / inlinePaced.p99).toFixed(2)}x, event-loop delay p99 ${(workerPaced.loopP99 / inlinePaced.loopP99).toFixed(2)}x`,
  );
  const withHooks = await allAtOnce('worker', true);
  console.log(`\nall at once, worker, webhooks queued too     ${fmt(withHooks)} appends/s (${(withHooks / workerAll).toFixed(2)}x without)`);
}
const WINDOW_RATE = 1000;
const CONVS = 200;
console.log(`\ncommit window: ${fmt(WINDOW_RATE)} appends/s (one every ms) over ${CONVS} conversations, worker pipeline`);
for (const commitWindowMs of [0, 2, 4, 8, 16]) {
  let commits = 0;
  const r = await paced('worker', spread(CONVS), WINDOW_RATE, { commitWindowMs, onBatch: () => commits++ }, 1);
  console.log(
    `  window ${String(commitWindowMs).padStart(2)} ms: ${fmt(commits)} commits (${(N / commits).toFixed(1)} appends each), ` +
      `ack p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms; CPU ${r.cpuUs.toFixed(1)} µs per append`,
  );
}
console.log(`\nload average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
