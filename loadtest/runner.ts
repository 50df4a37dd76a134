/**
 * The coordinator: starts the generator workers, drives a scenario's stages second by
 * second, collects the workers' interval reports, settles the account (lost, duplicated,
 * reordered) once everything is drained, and measures the target's CPU and memory.
 */
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { emptyTally, addTally, type Tally } from './accounting.js';
import type { AccountReport, AuthConfig, FromWorker, TickReport, ToWorker } from './messages.js';
import {
  decodeHistogram,
  monoMs,
  newHistogram,
  percentileSeries,
  summarize,
  atPercentileMs,
  type Histogram,
} from './metrics.js';
import { cpuSeconds, loadAverage, peakRssKb, rssKb, sumOver } from './proc.js';
import type { StartedTarget } from './targets.js';
import { loopDelay, resetStats } from './target-stats.js';
import { evaluateThresholds } from './thresholds.js';
import {
  ScenarioKind,
  type CapacityStep,
  type CheckResult,
  type RunResult,
  type Scenario,
  type Stage,
  type TimelinePoint,
} from './types.js';

export interface RunOptions {
  scenario: Scenario;
  target: StartedTarget;
  /** How the target is named in reports (e.g. "relay", "url"). */
  label: string;
  workers: number;
  auth: AuthConfig;
  /** Replaces the scenario's thresholds when given. */
  thresholds?: readonly string[];
  /** Progress lines (one per second); silent when absent. */
  progress?: (line: string) => void;
  connectConcurrency?: number;
  /** Where the target and the harness were pinned, for the report (pinning is the caller's). */
  pinned?: { target: string; harness: string } | null;
}

const DEFAULT_MESSAGE_BYTES = 64;
const DEFAULT_DRAIN_SECONDS = 15;
/** Generator event-loop delay (p99) above which results say more about the harness than the target. */
const GENERATOR_LAG_WARN_MS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The stages of a capacity plan: a jump to each step's rate, then a flat step. */
export function capacityStages(scenario: Scenario): Stage[] {
  const plan = scenario.capacity;
  if (!plan) return scenario.stages;
  const stages: Stage[] = [];
  for (let k = 0; k < plan.maxSteps; k++) {
    const rate = Math.round(plan.startRate * plan.stepFactor ** k);
    stages.push({ duration: 0, rate }, { duration: plan.stepSeconds, rate });
  }
  return stages;
}

/** Rate and clients at `t` seconds into the stages: linear ramps from the previous stage's values. */
export function scheduleAt(stages: readonly Stage[], t: number, initialClients: number): { rate: number; clients: number } {
  let start = 0;
  let rate = 0;
  let clients = initialClients;
  for (const stage of stages) {
    const nextClients = stage.clients ?? clients;
    if (t < start + stage.duration) {
      const f = (t - start) / stage.duration;
      return { rate: rate + (stage.rate - rate) * f, clients: Math.round(clients + (nextClients - clients) * f) };
    }
    start += stage.duration;
    rate = stage.rate;
    clients = nextClients;
  }
  return { rate, clients };
}

export const totalSeconds = (stages: readonly Stage[]): number => stages.reduce((sum, s) => sum + s.duration, 0);

/** Starts a worker thread running loadtest/worker.ts through tsx (workers do not inherit the main thread's loader). */
function spawnWorker(): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const code =
    `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })` +
    '.catch((error) => { console.error(error); process.exit(1); });';
  return new Worker(code, { eval: true });
}

type ReplyOf<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

/** The workers as one: broadcast a request, gather one reply from each. */
class WorkerPool {
  private readonly _workers: Worker[] = [];
  private readonly _waiting = new Map<string, { replies: FromWorker[]; done: () => void }>();
  private _fatal: Error | null = null;
  private _closing = false;

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const worker = spawnWorker();
      worker.on('message', (message: FromWorker) => this._onMessage(message));
      worker.on('error', (error) => this._fail(error));
      worker.on('exit', (code) => {
        if (!this._closing) this._fail(new Error(`load worker ${i} exited with ${code} (see its output above)`));
      });
      this._workers.push(worker);
    }
  }

  get size(): number {
    return this._workers.length;
  }

  private _fail(error: Error): void {
    this._fatal ??= error;
    for (const waiter of this._waiting.values()) waiter.done();
  }

  private _onMessage(message: FromWorker): void {
    if (message.type === 'fatal') return this._fail(new Error(`load worker ${message.workerIndex}: ${message.message}`));
    const waiter = this._waiting.get(message.type);
    if (!waiter) return;
    waiter.replies.push(message);
    if (waiter.replies.length === this._workers.length) waiter.done();
  }

  post(message: ToWorker | ((index: number) => ToWorker)): void {
    this._workers.forEach((worker, i) => worker.postMessage(typeof message === 'function' ? message(i) : message));
  }

  async request<T extends FromWorker['type']>(
    message: ToWorker | ((index: number) => ToWorker),
    reply: T,
    timeoutMs = 30_000,
  ): Promise<Array<ReplyOf<T>>> {
    if (this._fatal) throw this._fatal;
    const replies: FromWorker[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      this._waiting.set(reply, { replies, done: resolve });
      timer = setTimeout(resolve, timeoutMs);
    });
    this.post(message);
    await finished;
    clearTimeout(timer);
    this._waiting.delete(reply);
    if (this._fatal) throw this._fatal;
    if (replies.length < this._workers.length) throw new Error(`load workers did not answer ${reply} within ${timeoutMs} ms`);
    return replies as Array<ReplyOf<T>>;
  }

  async close(): Promise<void> {
    try {
      this._closing = true;
      if (!this._fatal) await this.request({ type: 'stop' }, 'stopped', 10_000);
    } catch {
      // terminating below anyway
    }
    await Promise.all(this._workers.map((w) => w.terminate()));
  }
}

interface Totals {
  sent: number;
  acked: number;
  delivered: number;
  connectErrors: number;
  resyncs: number;
  reconnects: number;
  droppedSends: number;
  errors: Record<string, number>;
  lagP99Ms: number;
}

interface Bucket {
  t: number;
  sent: number;
  delivered: number;
  rate: number;
  connected: number;
  fanout: Histogram;
  /** Worst generator event-loop delay (p99 of a worker) in this interval. */
  lagMs: number;
}

export async function runScenario(options: RunOptions): Promise<RunResult> {
  const { scenario, target, label } = options;
  const say = options.progress ?? (() => {});
  // A capacity run grows its stages one step at a time, as the steps' outcomes decide.
  const stages = scenario.capacity ? capacityStages(scenario).slice(0, 2) : scenario.stages;
  let capacityStep = 0;
  let capacityRetries = scenario.capacity?.retries ?? 1;
  const initialClients = Math.min(scenario.clients, scenario.initialClients ?? scenario.clients);
  const conversations = Math.min(scenario.conversations, scenario.clients);
  const membersPerConversation = scenario.clients / conversations;
  const prefix = `lt${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  const pool = new WorkerPool(Math.max(1, Math.min(options.workers, scenario.clients)));
  const warnings: string[] = [];

  const fanoutTotal = newHistogram();
  const ackTotal = newHistogram();
  const connectTotal = newHistogram();
  const totals: Totals = {
    sent: 0, acked: 0, delivered: 0, connectErrors: 0, resyncs: 0, reconnects: 0, droppedSends: 0, errors: {}, lagP99Ms: 0,
  };
  const buckets: Bucket[] = [];
  let latest = { started: 0, connected: 0, failed: 0 };
  let tickIndex = 0;

  /** One interval from every worker, merged into the totals (and the timeline when `rate` is given). */
  const tick = async (bucket: { t: number; rate: number } | null): Promise<Bucket> => {
    const reports: TickReport[] = await pool.request({ type: 'tick', index: tickIndex++ }, 'tick');
    const merged: Bucket = { t: bucket?.t ?? -1, sent: 0, delivered: 0, rate: bucket?.rate ?? 0, connected: 0, fanout: newHistogram(), lagMs: 0 };
    latest = { started: 0, connected: 0, failed: 0 };
    for (const r of reports) {
      merged.sent += r.sent;
      merged.delivered += r.delivered;
      merged.connected += r.connected;
      merged.lagMs = Math.max(merged.lagMs, r.lagP99Ms);
      const fanout = decodeHistogram(r.fanout);
      merged.fanout.add(fanout);
      fanoutTotal.add(fanout);
      ackTotal.add(decodeHistogram(r.ack));
      connectTotal.add(decodeHistogram(r.connect));
      totals.sent += r.sent;
      totals.acked += r.acked;
      totals.delivered += r.delivered;
      totals.connectErrors += r.connectErrors;
      totals.resyncs += r.resyncs;
      totals.reconnects += r.reconnects;
      totals.droppedSends += r.droppedSends;
      totals.lagP99Ms = Math.max(totals.lagP99Ms, bucket ? r.lagP99Ms : 0);
      for (const [code, n] of Object.entries(r.errors)) totals.errors[code] = (totals.errors[code] ?? 0) + n;
      latest.started += r.started;
      latest.connected += r.connected;
      latest.failed += r.failed;
    }
    if (bucket) buckets.push(merged);
    return merged;
  };

  let account: { tally: Tally; pendingAcks: number; duplicateIds: number; unjoined: number; started: number; connected: number } | null = null;
  const settle = async () => {
    const headReplies = await pool.request({ type: 'heads' }, 'heads');
    const heads: Record<string, number> = {};
    for (const reply of headReplies) {
      for (const [conv, seq] of Object.entries(reply.heads)) if (seq > (heads[conv] ?? 0)) heads[conv] = seq;
    }
    const reports: AccountReport[] = await pool.request({ type: 'account', heads }, 'account');
    const sum = { tally: emptyTally(), pendingAcks: 0, duplicateIds: 0, unjoined: 0, started: 0, connected: 0 };
    for (const r of reports) {
      addTally(sum.tally, r.tally);
      sum.pendingAcks += r.pendingAcks;
      sum.duplicateIds += r.duplicateIds;
      sum.unjoined += r.unjoined;
      sum.started += r.started;
      sum.connected += r.connected;
    }
    account = sum;
    return sum;
  };

  const pids = target.pids;
  let rssPerConnectionKb: number | null = null;
  let loadSeconds = 0;
  let elapsedSeconds = 0;
  let cpuStart: number | null = null;
  let cpuEnd: number | null = null;
  let cpuLoadEnd: number | null = null;
  let targetLoop: { p99_ms: number; max_ms: number } | null = null;
  const capacitySteps: CapacityStep[] = [];
  const harnessCpuStart = process.cpuUsage();

  try {
    await pool.request(
      (workerIndex) => ({
        type: 'init',
        workerIndex,
        workers: pool.size,
        prefix,
        wire: target.wire,
        urls: target.urls,
        auth: options.auth,
        clients: scenario.clients,
        conversations,
        sendersPerConversation: scenario.sendersPerConversation ?? Math.ceil(membersPerConversation),
        messageBytes: scenario.messageBytes ?? DEFAULT_MESSAGE_BYTES,
        connectConcurrency: options.connectConcurrency ?? 128,
      }),
      'ready',
      60_000,
    );

    // ---------------------------------------------------------------- connect phase
    const rssBefore = sumOver(pids, rssKb);
    const connectStart = monoMs();
    const connectBudgetMs = Math.max(30_000, initialClients * 10);
    pool.post({ type: 'connect', upTo: initialClients });
    for (let i = 0; monoMs() - connectStart < connectBudgetMs && i < 100_000; i++) {
      await sleep(1000);
      await tick(null);
      say(`  connecting  ${latest.connected}/${initialClients}${latest.failed ? `  (${latest.failed} failed)` : ''}`);
      if (latest.connected + latest.failed >= initialClients) break;
    }
    if (latest.connected < initialClients) {
      warnings.push(`only ${latest.connected} of ${initialClients} clients connected within ${Math.round(connectBudgetMs / 1000)} s`);
    }
    if (scenario.kind === ScenarioKind.connections && rssBefore !== null) {
      await sleep(1000); // let the target settle (allocator, pending frees) before reading
      const rssAfter = sumOver(pids, rssKb);
      if (rssAfter !== null && latest.connected > 0) {
        rssPerConnectionKb = Math.round(((rssAfter - rssBefore) / latest.connected) * 100) / 100;
      }
    }

    // ---------------------------------------------------------------- load phase
    let duration = totalSeconds(stages);
    await resetStats(target.urls);
    const t0 = monoMs();
    cpuStart = sumOver(pids, cpuSeconds);
    let sentRate = -1;
    let sentClients = initialClients;
    let nextChurn = scenario.churn ? scenario.churn.everySeconds : Number.POSITIVE_INFINITY;
    const churnCutoff = scenario.churn ? duration - scenario.churn.downMs / 1000 - 2 : 0;
    const apply = (t: number) => {
      const { rate, clients } = scheduleAt(stages, t, initialClients);
      if (Math.abs(rate - sentRate) > Math.max(0.5, sentRate * 0.005)) {
        sentRate = rate;
        pool.post({ type: 'rate', perSecond: rate / pool.size });
      }
      if (clients > sentClients) {
        sentClients = Math.min(scenario.clients, clients);
        pool.post({ type: 'connect', upTo: sentClients });
      }
      if (scenario.churn && t >= nextChurn && t < churnCutoff) {
        pool.post({ type: 'churn', fraction: scenario.churn.fraction, downMs: scenario.churn.downMs });
        say(`  churn: dropping ${Math.round(scenario.churn.fraction * 100)}% of the clients for ${scenario.churn.downMs} ms`);
        nextChurn += scenario.churn.everySeconds;
      }
      return rate;
    };

    let stepCpu = cpuStart;
    let second = 0;
    for (; second < Math.ceil(duration); second++) {
      const end = t0 + (second + 1) * 1000;
      let rate = 0;
      for (let now = monoMs(); now < end; now = monoMs()) {
        rate = apply((now - t0) / 1000);
        await sleep(Math.min(100, end - now));
      }
      const bucket = await tick({ t: second + 1, rate: scheduleAt(stages, second + 0.5, initialClients).rate });
      say(progressLine(second + 1, rate, bucket, latest, initialClients > sentClients ? initialClients : sentClients));
      if (scenario.capacity && (second + 1) % scenario.capacity.stepSeconds === 0) {
        const cpuNow = sumOver(pids, cpuSeconds);
        const step = evaluateStep(buckets.slice(-scenario.capacity.stepSeconds), membersPerConversation, scenario.capacity.p99LimitMs);
        if (cpuNow !== null && stepCpu !== null) step.cpu_pct = Math.round(((cpuNow - stepCpu) / scenario.capacity.stepSeconds) * 1000) / 10;
        stepCpu = cpuNow;
        capacitySteps.push(step);
        say(
          `  step ${capacitySteps.length}: ${fmt(step.rate)} msgs/s → ${fmt(step.deliveries_per_s)} deliveries/s, ` +
            `p99 ${step.p99_ms} ms (${step.seconds_over_limit} s over)${step.cpu_pct === null ? '' : `, target cpu ${step.cpu_pct}%`} ${step.sustained ? '✓ sustained' : capacityRetries > 0 ? '✗ not sustained: once more' : '✗ not sustained: stopping'}`,
        );
        if (step.sustained || capacityRetries-- > 0) {
          // Not sustained: measured once more at the same rate, so that one hiccup of a
          // shared machine does not end the run; two misses in a row do.
          if (step.sustained) {
            capacityStep++;
            capacityRetries = scenario.capacity.retries ?? 1;
          }
          if (capacityStep < scenario.capacity.maxSteps) {
            const rate = Math.round(scenario.capacity.startRate * scenario.capacity.stepFactor ** capacityStep);
            stages.push({ duration: 0, rate }, { duration: scenario.capacity.stepSeconds, rate });
            duration = totalSeconds(stages);
          }
        } else {
          second++;
          break;
        }
      }
    }
    loadSeconds = second;
    cpuLoadEnd = sumOver(pids, cpuSeconds);
    targetLoop = await loopDelay(target.urls);
    pool.post({ type: 'rate', perSecond: 0 });

    // ---------------------------------------------------------------- drain
    const drainSeconds = scenario.drainSeconds ?? DEFAULT_DRAIN_SECONDS;
    for (let i = 0; i < drainSeconds * 2; i++) {
      await sleep(500);
      if (i % 2 === 1) await tick({ t: ++second, rate: 0 });
      const settled = await settle();
      if (settled.tally.lost === 0 && settled.pendingAcks === 0 && settled.connected === settled.started) break;
    }
    // What arrived since the last interval (the settled account already includes it).
    await tick({ t: ++second, rate: 0 });
    elapsedSeconds = (monoMs() - t0) / 1000;
    cpuEnd = sumOver(pids, cpuSeconds);
    if (!account) await settle();
  } finally {
    await pool.close();
  }

  const final = account!;
  const peakRss = sumOver(pids, peakRssKb);
  const relayCpu = cpuStart !== null && cpuEnd !== null ? cpuEnd - cpuStart : null;
  const harnessCpu = process.cpuUsage(harnessCpuStart);
  const loadBuckets = buckets.slice(0, loadSeconds);
  const loadDelivered = loadBuckets.reduce((sum, b) => sum + b.delivered, 0);
  const timeline: TimelinePoint[] = buckets.map((b) => ({
    t: b.t,
    sent: b.sent,
    delivered: b.delivered,
    p50: atPercentileMs(b.fanout, 50),
    p99: atPercentileMs(b.fanout, 99),
    max: b.fanout.totalCount === 0 ? 0 : b.fanout.maxValue / 1000,
    connected: b.connected,
    rate: Math.round(b.rate),
    lag: Math.round(b.lagMs * 10) / 10,
  }));

  // A capacity run ends by overloading something: only the steps it sustained are judged.
  const judgedLag = scenario.capacity
    ? Math.max(0, ...capacitySteps.filter((s) => s.sustained).map((s) => s.generator_lag_ms))
    : totals.lagP99Ms;
  if (judgedLag > GENERATOR_LAG_WARN_MS) {
    warnings.push(
      `the load generator was saturated (event-loop delay p99 ${Math.round(judgedLag)} ms): ` +
        'latencies include harness delay (or other load on this machine); try more --workers or a smaller load',
    );
  }
  const load = loadAverage();
  // Harness, target and anything else on the machine share its cores: say when they were oversubscribed.
  // The machine's cores, not this process's (pinned, it sees fewer).
  const cores = cpus().length;
  if (load !== null && load > cores) {
    warnings.push(`the machine was busy (load average ${load} on ${cores} cores): figures are noisy, compare ratios from one run`);
  }
  if (totals.droppedSends > 0) {
    warnings.push(`${totals.droppedSends} sends could not be made on time (no connected sender with room, or the generator stalled)`);
  }

  const result: RunResult = {
    target: label,
    scenario: scenario.name,
    kind: scenario.kind,
    url: target.urls.join(' '),
    clients: scenario.clients,
    conversations,
    workers: pool.size,
    duration_s: Math.round(elapsedSeconds * 10) / 10,
    sent: totals.sent,
    acked: totals.acked,
    unacked: final.pendingAcks,
    expected: final.tally.expected,
    delivered: final.tally.unique,
    lost: final.tally.lost,
    duplicated: final.tally.duplicated,
    reordered: final.tally.reordered,
    redelivered: final.tally.redelivered,
    duplicate_ids: final.duplicateIds,
    unexpected: final.tally.unexpected,
    catchup: final.tally.catchup,
    resyncs: totals.resyncs,
    reconnects: totals.reconnects,
    connect_errors: totals.connectErrors,
    unjoined: final.unjoined + Math.max(0, scenario.clients - final.started),
    dropped_sends: totals.droppedSends,
    errors: totals.errors,
    fanout_ms: summarize(fanoutTotal),
    ack_ms: summarize(ackTotal),
    connect_ms: summarize(connectTotal),
    deliveries_per_s: loadSeconds > 0 ? Math.round(loadDelivered / loadSeconds) : 0,
    peak_deliveries_per_s: loadBuckets.reduce((max, b) => Math.max(max, b.delivered), 0),
    messages_per_s: loadSeconds > 0 ? Math.round(loadBuckets.reduce((sum, b) => sum + b.sent, 0) / loadSeconds) : 0,
    relay_cpu_s: relayCpu === null ? null : Math.round(relayCpu * 100) / 100,
    relay_cpu_pct: relayCpu === null || elapsedSeconds === 0 ? null : Math.round((relayCpu / elapsedSeconds) * 1000) / 10,
    cpu_us_per_delivery:
      cpuStart === null || cpuLoadEnd === null || loadDelivered === 0 ? null : Math.round(((cpuLoadEnd - cpuStart) * 1e7) / loadDelivered) / 10,
    target_loop_delay_p99_ms: targetLoop?.p99_ms ?? null,
    target_loop_delay_max_ms: targetLoop?.max_ms ?? null,
    pinned: options.pinned ?? null,
    relay_rss_mb: peakRss === null ? null : Math.round(peakRss / 102.4) / 10,
    rss_per_connection_kb: rssPerConnectionKb,
    harness_cpu_s: Math.round((harnessCpu.user + harnessCpu.system) / 1e4) / 100,
    generator_lag_p99_ms: Math.round(totals.lagP99Ms * 10) / 10,
    load_average: load,
    capacity: scenario.capacity
      ? {
          p99_limit_ms: scenario.capacity.p99LimitMs,
          steps: capacitySteps,
          highest_sustained_deliveries_per_s: capacitySteps.filter((s) => s.sustained).reduce((max, s) => Math.max(max, s.deliveries_per_s), 0),
        }
      : null,
    timeline,
    percentiles: percentileSeries(fanoutTotal),
    checks: [],
    thresholds: [],
    warnings,
    ok: false,
  };
  result.checks = checksOf(result);
  result.thresholds = evaluateThresholds(result, options.thresholds ?? scenario.thresholds);
  result.ok = result.thresholds.every((t) => t.ok);
  return result;
}

/**
 * A capacity step: its first second (the rate settling) is not measured. It is sustained
 * when it delivered ≥ 95% of what its rate should give and at most one of its measured
 * seconds had a p99 over the limit: a saturated target misses in every second, while one
 * stall of a shared machine spoils one second (and the whole-step p99 with it).
 */
function evaluateStep(stepBuckets: Bucket[], membersPerConversation: number, p99LimitMs: number): CapacityStep {
  const measured = stepBuckets.length > 1 ? stepBuckets.slice(1) : stepBuckets;
  const histogram = newHistogram();
  let delivered = 0;
  let secondsOver = 0;
  for (const b of measured) {
    histogram.add(b.fanout);
    delivered += b.delivered;
    if (b.fanout.totalCount === 0 || atPercentileMs(b.fanout, 99) > p99LimitMs) secondsOver++;
  }
  const rate = Math.round(measured[measured.length - 1]?.rate ?? 0);
  const target = rate * membersPerConversation;
  const deliveriesPerSecond = Math.round(delivered / Math.max(1, measured.length));
  const p99 = Math.round(atPercentileMs(histogram, 99) * 100) / 100;
  return {
    rate,
    cpu_pct: null,
    generator_lag_ms: Math.round(Math.max(0, ...measured.map((b) => b.lagMs)) * 10) / 10,
    target_deliveries_per_s: Math.round(target),
    deliveries_per_s: deliveriesPerSecond,
    p99_ms: p99,
    seconds_over_limit: secondsOver,
    // Keeping up means delivering (nearly) what was sent, not only fast deliveries of a few.
    sustained: histogram.totalCount > 0 && secondsOver <= 1 && deliveriesPerSecond >= 0.95 * target,
  };
}

export function checksOf(r: RunResult): CheckResult[] {
  const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return [
    { name: 'every client connected and joined', ok: r.unjoined === 0, detail: `${r.clients - r.unjoined}/${r.clients}` },
    { name: 'every send acked', ok: r.unacked === 0, detail: `${r.sent - r.unacked}/${r.sent}` },
    { name: 'every expected delivery arrived', ok: r.lost === 0, detail: `${r.delivered}/${r.expected}` },
    { name: 'no duplicated deliveries', ok: r.duplicated === 0, detail: String(r.duplicated) },
    { name: 'no reordered deliveries', ok: r.reordered === 0, detail: String(r.reordered) },
    { name: 'no message stored twice', ok: r.duplicate_ids === 0, detail: String(r.duplicate_ids) },
    { name: 'no unexpected deliveries', ok: r.unexpected === 0, detail: String(r.unexpected) },
    {
      name: 'no errors from the target',
      ok: errorCount === 0,
      detail: errorCount === 0 ? '0' : Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join(', '),
    },
  ];
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function progressLine(t: number, rate: number, b: Bucket, latest: { connected: number }, clients: number): string {
  const p99 = atPercentileMs(b.fanout, 99).toFixed(1);
  return (
    `  ${String(t).padStart(4)}s  rate ${fmt(rate).padStart(6)}/s  sent ${fmt(b.sent).padStart(6)}  ` +
    `delivered ${fmt(b.delivered).padStart(7)}/s  p99 ${p99.padStart(6)} ms  clients ${latest.connected}/${clients}`
  );
}
