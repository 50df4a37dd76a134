/**
 * The load harness's vocabulary: scenarios (what load to apply), targets (what to apply it
 * to) and results (what came out). Scenario files in loadtest/scenarios/ export a
 * `Scenario`; the JSON report is an array of `RunResult`.
 */

export const TargetName = {
  relay: 'relay',
  cluster: 'cluster',
  socketio: 'socketio',
  uws: 'uws',
  url: 'url',
} as const;
export type TargetName = (typeof TargetName)[keyof typeof TargetName];

/** The wire a target speaks: chat protocol v1 over a WebSocket, or Socket.IO events. */
export const WireKind = { v1: 'v1', socketio: 'socketio' } as const;
export type WireKind = (typeof WireKind)[keyof typeof WireKind];

export const ScenarioKind = {
  /** Stages of rate and clients; thresholds on the whole run. */
  load: 'load',
  /** Rate raised in steps until p99 exceeds a limit; reports the highest sustained deliveries/s. */
  capacity: 'capacity',
  /** Many idle clients: memory per connection, then a short burst of traffic to prove they live. */
  connections: 'connections',
  /** Reconnect storms while messages flow; resumed with `join after`, nothing may be lost. */
  churn: 'churn',
} as const;
export type ScenarioKind = (typeof ScenarioKind)[keyof typeof ScenarioKind];

export interface Stage {
  /** Seconds this stage lasts. */
  duration: number;
  /** Messages per second, all senders together, reached at the end of the stage (linear ramp from the previous stage). */
  rate: number;
  /** Connected clients at the end of the stage (linear ramp up from the previous stage); default: unchanged. */
  clients?: number;
}

export interface CapacityPlan {
  /** Messages per second of the first step. */
  startRate: number;
  /** Each step multiplies the rate by this factor (> 1). */
  stepFactor: number;
  /** Seconds per step; the first second of each step is not measured (the rate is settling). */
  stepSeconds: number;
  /** Last step at the latest (the loop is bounded). */
  maxSteps: number;
  /** A step is sustained while p99 fan-out latency stays at or below this (in all but one of its seconds). */
  p99LimitMs: number;
  /** A missed step is measured again at the same rate this many times before the run stops (default 1). */
  retries?: number;
}

export interface ChurnPlan {
  /** Seconds between the starts of two storms. */
  everySeconds: number;
  /** Share of the connected clients dropped abruptly in one storm (0..1). */
  fraction: number;
  /** How long dropped clients stay away before reconnecting (all at once: the storm). */
  downMs: number;
}

export interface Scenario {
  name: string;
  description: string;
  kind: ScenarioKind;
  /** Virtual users at full strength. */
  clients: number;
  conversations: number;
  /** Clients connected before the first stage; default `clients`. */
  initialClients?: number;
  /** Members of each conversation that send (the others only receive); default all. */
  sendersPerConversation?: number;
  /** Characters of text per message, the timestamp included; default 64. */
  messageBytes?: number;
  stages: Stage[];
  /** `metric op number`, e.g. `fanout_p99_ms < 50`, `lost == 0` (see thresholds.ts for the metrics). */
  thresholds: string[];
  capacity?: CapacityPlan;
  churn?: ChurnPlan;
  /** Seconds to wait after the last stage for outstanding acks and deliveries; default 15. */
  drainSeconds?: number;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

export interface TimelinePoint {
  /** Seconds since the load phase started. */
  t: number;
  sent: number;
  delivered: number;
  p50: number;
  p99: number;
  max: number;
  connected: number;
  /** Target messages per second during this second. */
  rate: number;
  /** Worst generator event-loop delay (a worker's p99) during this second. */
  lag: number;
}

export interface CapacityStep {
  rate: number;
  target_deliveries_per_s: number;
  deliveries_per_s: number;
  /** p99 over the whole step (its first second excepted). */
  p99_ms: number;
  /** Measured seconds of the step whose own p99 exceeded the limit. */
  seconds_over_limit: number;
  sustained: boolean;
  /** Target CPU over the step, % of one core. */
  cpu_pct: number | null;
  /** Worst generator event-loop delay in the step: high means the harness, not the target, was the limit. */
  generator_lag_ms: number;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ThresholdResult {
  expression: string;
  value: number | null;
  ok: boolean;
}

export interface RunResult {
  target: string;
  scenario: string;
  kind: ScenarioKind;
  url: string;
  clients: number;
  conversations: number;
  workers: number;
  duration_s: number;
  sent: number;
  acked: number;
  unacked: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Seqs delivered again during a legitimate catch-up (rejoin after `resync` or reconnect): not duplicates. */
  redelivered: number;
  /** A message id that arrived under two different seqs: stored twice (idempotency broken). */
  duplicate_ids: number;
  /** Deliveries for a conversation the client had not joined, or older than what it asked for. */
  unexpected: number;
  catchup: number;
  resyncs: number;
  reconnects: number;
  connect_errors: number;
  unjoined: number;
  dropped_sends: number;
  errors: Record<string, number>;
  fanout_ms: LatencySummary;
  ack_ms: LatencySummary;
  connect_ms: LatencySummary;
  deliveries_per_s: number;
  peak_deliveries_per_s: number;
  messages_per_s: number;
  relay_cpu_s: number | null;
  /** CPU time as a share of one core over the load phase. */
  relay_cpu_pct: number | null;
  /** Target CPU (utime + stime from /proc) over the load phase ÷ the deliveries of the load phase, in µs. */
  cpu_us_per_delivery: number | null;
  /** The target's own event-loop delay over the load phase (GET /stats; a cluster: the worse relay). */
  target_loop_delay_p99_ms: number | null;
  target_loop_delay_max_ms: number | null;
  /** CPU lists the target and the harness were pinned to (`--pin`), or null when not pinned. */
  pinned: { target: string; harness: string } | null;
  relay_rss_mb: number | null;
  rss_per_connection_kb: number | null;
  harness_cpu_s: number;
  /** Worst event-loop delay seen in a load generator: high values mean the harness, not the target, was the limit. */
  generator_lag_p99_ms: number;
  /** The machine's 1-minute load average at the end of the run: above its core count, everything was queueing for CPU. */
  load_average: number | null;
  capacity: { p99_limit_ms: number; steps: CapacityStep[]; highest_sustained_deliveries_per_s: number } | null;
  timeline: TimelinePoint[];
  /** Fan-out latency by percentile, for the percentile chart. */
  percentiles: Array<{ percentile: number; ms: number }>;
  checks: CheckResult[];
  thresholds: ThresholdResult[];
  warnings: string[];
  ok: boolean;
}
