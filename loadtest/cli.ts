/**
 * `npm run loadtest -- [flags]`: runs a scenario against one target or several in turn,
 * prints a k6-style summary (and a comparison with ratios), optionally writes JSON and an
 * offline HTML report, and exits non-zero when a threshold fails.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { renderHtml } from './html.js';
import type { AuthConfig } from './messages.js';
import { pin, pinPlan, type PinPlan } from './pin.js';
import { openFileLimit } from './proc.js';
import { formatComparison, formatSummary } from './report.js';
import { runScenario, totalSeconds } from './runner.js';
import { SCENARIOS } from './scenarios/index.js';
import { startTarget, TargetUnavailableError, type StartedTarget } from './targets.js';
import { parseThreshold } from './thresholds.js';
import { ScenarioKind, TargetName, type RunResult, type Scenario } from './types.js';

export const HELP = `chat-room load test: fan-out latency, ordering and loss under load

usage: npm run loadtest -- [flags]
       (no flags: the "fanout" scenario against our relay)

what to run
  --scenario NAME|FILE   built-in: ${Object.keys(SCENARIOS).join(', ')} (default fanout);
                         or a .ts module exporting \`scenario\` (type Scenario, loadtest/types.ts)
  --target NAME          relay     our relay, started here (embedded SQLite, temp dir, free port,
                                   per-client limits lifted) [default]
                         cluster   two relays + NATS + PostgreSQL (when this checkout has them)
                         socketio  Socket.IO 4.8 with rooms, in-memory seq (websocket transport)
                         uws       bare uWebSockets.js publish, in-memory seq: the ceiling
  --url ws://HOST:PORT/ws  an already running relay (protocol v1) instead of --target
  --token JWT            for --url: one token for every virtual user
  --jwt-secret SECRET    for --url: mint one token per virtual user (sub = its user id,
                         convs = this run's prefix*); without either: open mode (hello names the user)
  --relay-pid PID        for --url: a local relay process to measure (CPU, peak RSS)
  --compare A,B,C        run the scenario against each target in turn (e.g. relay,socketio,uws)
                         and print ratios against the first

shaping the load (overrides of the scenario)
  --clients N            virtual users (conversation size kept unless --conversations)
  --conversations N      conversations (clients are spread evenly over them)
  --rate N               peak messages/s (all stage rates scaled; capacity: the first step)
  --duration S           total seconds of the stages (scaled; capacity: unchanged)
  --scale F              multiply clients, conversations and rates by F (e.g. 0.5)
  --message-bytes N      characters of text per message (default 64)
  --p99-limit MS         capacity: the p99 a step must stay within (default 50)
  --drain S              after the last stage, wait up to S seconds for outstanding acks and
                         deliveries before counting them lost (default: the scenario's, or 15)
  --workers N|auto       load-generator threads (default auto: 1-2 on 2 cores, by load)
  --pin / --no-pin       pin the target to the last core and the harness to the others
                         (taskset; needs ≥ 2 cores); on by default with --compare

pass / fail
  --threshold EXPR       replaces the scenario's thresholds; repeatable.
                         EXPR is "metric op number", e.g. "fanout_p99_ms < 50", "lost == 0";
                         metrics: see loadtest/README.md
  --no-thresholds        report only (exit 0 unless the run itself broke)

output
  --json FILE            results: one object per target (see loadtest/README.md)
  --html FILE            charts (latency over time, deliveries/s, percentiles), opens offline
  --quiet                no per-second progress
  --help                 this text

exit status: 0 all thresholds passed, 1 a threshold failed, 2 bad usage or target unavailable

examples
  npm run loadtest
  npm run loadtest -- --scenario smoke --compare relay,socketio,uws
  npm run loadtest -- --scenario capacity --compare relay,socketio,uws --json cap.json --html cap.html
  npm run loadtest -- --url ws://chat.internal:8080/ws --jwt-secret "$CHAT_JWT_SECRET" --scenario smoke
`;

class UsageError extends Error {
  override name = 'UsageError';
}

const OPTIONS = {
  scenario: { type: 'string' },
  target: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  'jwt-secret': { type: 'string' },
  'relay-pid': { type: 'string' },
  compare: { type: 'string' },
  clients: { type: 'string' },
  conversations: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  scale: { type: 'string' },
  'message-bytes': { type: 'string' },
  'p99-limit': { type: 'string' },
  drain: { type: 'string' },
  workers: { type: 'string' },
  pin: { type: 'boolean' },
  'no-pin': { type: 'boolean' },
  threshold: { type: 'string', multiple: true },
  'no-thresholds': { type: 'boolean' },
  json: { type: 'string' },
  html: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positive(name: string, raw: string | undefined, integer = true): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const builtIn = SCENARIOS[nameOrPath];
  if (builtIn) return structuredClone(builtIn);
  if (!/\.[cm]?[jt]s$/.test(nameOrPath)) {
    throw new UsageError(`unknown scenario ${JSON.stringify(nameOrPath)}; built-in: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  const module = (await import(pathToFileURL(resolve(nameOrPath)).href)) as { scenario?: unknown; default?: unknown };
  const candidate = (module.scenario ?? module.default) as Partial<Scenario> | undefined;
  if (
    !candidate ||
    typeof candidate.name !== 'string' ||
    typeof candidate.clients !== 'number' ||
    typeof candidate.conversations !== 'number' ||
    !Array.isArray(candidate.stages) ||
    !Array.isArray(candidate.thresholds)
  ) {
    throw new UsageError(`${nameOrPath} does not export a Scenario (name, clients, conversations, stages, thresholds)`);
  }
  return structuredClone(candidate as Scenario);
}

export interface Overrides {
  clients?: number;
  conversations?: number;
  rate?: number;
  duration?: number;
  scale?: number;
  messageBytes?: number;
  p99Limit?: number;
  drain?: number;
}

/** Applies command-line overrides to a scenario (returns a new one). */
export function shape(base: Scenario, o: Overrides): Scenario {
  const s = structuredClone(base);
  const size = s.clients / s.conversations;
  if (o.scale !== undefined) {
    s.clients = Math.max(1, Math.round(s.clients * o.scale));
    s.conversations = Math.max(1, Math.round(s.conversations * o.scale));
    if (s.initialClients !== undefined) s.initialClients = Math.round(s.initialClients * o.scale);
    for (const stage of s.stages) {
      stage.rate *= o.scale;
      if (stage.clients !== undefined) stage.clients = Math.round(stage.clients * o.scale);
    }
    if (s.capacity) s.capacity.startRate *= o.scale;
  }
  if (o.clients !== undefined) {
    s.clients = o.clients;
    if (o.conversations === undefined) s.conversations = Math.max(1, Math.round(o.clients / size));
  }
  if (o.conversations !== undefined) s.conversations = Math.min(o.conversations, s.clients);
  if (o.rate !== undefined) {
    const peak = Math.max(0, ...s.stages.map((stage) => stage.rate));
    if (peak > 0) for (const stage of s.stages) stage.rate = (stage.rate * o.rate) / peak;
    if (s.capacity) s.capacity.startRate = o.rate;
  }
  if (o.duration !== undefined && s.kind !== ScenarioKind.capacity) {
    const total = totalSeconds(s.stages);
    if (total > 0) for (const stage of s.stages) stage.duration = (stage.duration * o.duration) / total;
  }
  if (o.messageBytes !== undefined) s.messageBytes = o.messageBytes;
  if (o.p99Limit !== undefined && s.capacity) s.capacity.p99LimitMs = o.p99Limit;
  if (o.drain !== undefined) s.drainSeconds = o.drain;
  for (const stage of s.stages) if (stage.clients !== undefined) stage.clients = Math.min(stage.clients, s.clients);
  return s;
}

/**
 * Every client is a socket in this process and another in the target's: both inherit this
 * process's open-file limit. When it is too low the run is scaled down (conversation size
 * kept) rather than failing halfway with EMFILE.
 */
export function fitToFileLimit(s: Scenario, soft: number): { scenario: Scenario; warning: string | null } {
  const reserve = 256;
  if (s.clients + reserve <= soft) return { scenario: s, warning: null };
  const size = s.clients / s.conversations;
  const fitted = structuredClone(s);
  fitted.conversations = Math.max(1, Math.floor(Math.max(1, soft - reserve) / size));
  fitted.clients = Math.max(1, Math.round(fitted.conversations * size));
  if (fitted.initialClients !== undefined) fitted.initialClients = Math.min(fitted.initialClients, fitted.clients);
  for (const stage of fitted.stages) if (stage.clients !== undefined) stage.clients = Math.min(stage.clients, fitted.clients);
  return {
    scenario: fitted,
    warning:
      `open-file limit ${soft} is too low for ${s.clients} clients: scaled down to ${fitted.clients} clients in ` +
      `${fitted.conversations} conversations. Raise it first (e.g. \`ulimit -n 65536\` in this shell, or LimitNOFILE in systemd).`,
  };
}

/** Load-generator threads: enough for the load, at most what the machine has to spare. */
export function autoWorkers(s: Scenario, cores = availableParallelism()): number {
  const size = s.clients / s.conversations;
  const peakRate = s.capacity
    ? s.capacity.startRate * s.capacity.stepFactor ** (s.capacity.maxSteps - 1)
    : Math.max(0, ...s.stages.map((stage) => stage.rate));
  const demand = Math.max(Math.ceil((peakRate * size) / 8000), Math.ceil(s.clients / 5000), 1);
  // The target needs a core too: on 2 cores at most 2 workers, beyond that cores - 1 (max 4).
  const cap = Math.min(4, Math.max(cores - 1, Math.min(2, cores)));
  return Math.max(1, Math.min(demand, cap));
}

function parseTargets(values: { target?: string; url?: string; compare?: string }): TargetName[] {
  if (values.url && (values.target || values.compare)) throw new UsageError('--url replaces --target/--compare; use one');
  if (values.url) {
    if (!/^wss?:\/\//.test(values.url)) throw new UsageError('--url must be a ws:// or wss:// URL (e.g. ws://127.0.0.1:8080/ws)');
    return [TargetName.url];
  }
  const names = values.compare ? values.compare.split(',').map((n) => n.trim()).filter(Boolean) : [values.target ?? TargetName.relay];
  const known: string[] = [TargetName.relay, TargetName.cluster, TargetName.socketio, TargetName.uws];
  for (const name of names) {
    if (!known.includes(name)) throw new UsageError(`unknown target ${JSON.stringify(name)}; one of ${known.join(', ')} (or --url)`);
  }
  return names as TargetName[];
}

export function machine(): Record<string, string | number> {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    os: `${process.platform} ${release()}`,
  };
}

async function main(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; args: string[] }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const targets = parseTargets(values);
  let scenario = shape(await loadScenario(values.scenario ?? 'fanout'), {
    clients: positive('clients', values.clients),
    conversations: positive('conversations', values.conversations),
    rate: positive('rate', values.rate, false),
    duration: positive('duration', values.duration, false),
    scale: positive('scale', values.scale, false),
    messageBytes: positive('message-bytes', values['message-bytes']),
    p99Limit: positive('p99-limit', values['p99-limit'], false),
    drain: positive('drain', values.drain, false),
  });
  const thresholds = values['no-thresholds'] ? [] : (values.threshold ?? scenario.thresholds);
  for (const t of thresholds) parseThreshold(t); // fail on a typo before starting anything
  const fitted = fitToFileLimit(scenario, openFileLimit().soft);
  scenario = fitted.scenario;
  const workers = values.workers === undefined || values.workers === 'auto' ? autoWorkers(scenario) : positive('workers', values.workers)!;
  const auth: AuthConfig = values.token
    ? { mode: 'token', token: values.token }
    : values['jwt-secret']
      ? { mode: 'secret', secret: values['jwt-secret'] }
      : { mode: 'open' };
  const relayPid = positive('relay-pid', values['relay-pid']);
  const progress = values.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  if (fitted.warning) process.stderr.write(`warning: ${fitted.warning}\n`);
  if (values.pin && values['no-pin']) throw new UsageError('--pin and --no-pin contradict each other');
  const wantPin = values.pin ?? (values['no-pin'] ? false : targets.length > 1);
  let plan: PinPlan | null = null;
  if (wantPin) {
    plan = pinPlan();
    if (plan) {
      // Before the generator's workers exist: the threads they start inherit this.
      pin(process.pid, plan.harness);
      process.stderr.write(`pinned: targets on cpu ${plan.target}, harness on cpu ${plan.harness}\n`);
    } else {
      process.stderr.write('warning: --pin needs at least 2 cores and taskset (util-linux): not pinned\n');
    }
  }

  const results: RunResult[] = [];
  let unavailable = false;
  for (const name of targets) {
    process.stderr.write(`\n▶ ${scenario.name} against ${name}: ${scenario.description}\n`);
    let target: StartedTarget;
    try {
      target = await startTarget(name, { url: values.url, pid: relayPid });
    } catch (error) {
      if (!(error instanceof TargetUnavailableError)) throw error;
      process.stderr.write(`✗ ${name}: ${error.message}\n`);
      unavailable = true;
      continue;
    }
    let pinned: PinPlan | null = null;
    if (plan && target.pids.length > 0) {
      try {
        for (const pid of target.pids) pin(pid, plan.target);
        pinned = plan;
      } catch (error) {
        process.stderr.write(`warning: could not pin ${name}: ${(error as Error).message}\n`);
      }
    }
    try {
      const result = await runScenario({ scenario, target, label: name, workers, auth, thresholds, progress, pinned });
      if (fitted.warning) result.warnings.unshift(fitted.warning);
      results.push(result);
      process.stdout.write(`${formatSummary(result)}\n`);
    } finally {
      await target.stop();
    }
  }
  if (results.length > 1) process.stdout.write(`${formatComparison(results)}\n`);
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify({ generated: new Date().toISOString(), machine: machine(), results }, null, 2)}\n`);
    process.stderr.write(`wrote ${values.json}\n`);
  }
  if (values.html) {
    writeFileSync(values.html, renderHtml(results));
    process.stderr.write(`wrote ${values.html}\n`);
  }
  if (results.some((r) => !r.ok)) return 1;
  return unavailable ? 2 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError || (error instanceof Error && error.name === 'ThresholdSyntaxError')) {
        process.stderr.write(`loadtest: ${error.message}\n(see --help)\n`);
        process.exit(2);
      }
      process.stderr.write(`loadtest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(2);
    },
  );
}
