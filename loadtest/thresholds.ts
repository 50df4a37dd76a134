/**
 * Thresholds in k6's spirit: `metric op number` strings in a scenario (or on the command
 * line) that turn a run into pass or fail.
 */
import type { RunResult, ThresholdResult } from './types.js';

type Getter = (r: RunResult) => number | null;

/** Every metric a threshold may name. */
export const METRICS: Readonly<Record<string, Getter>> = {
  fanout_p50_ms: (r) => r.fanout_ms.p50,
  fanout_p95_ms: (r) => r.fanout_ms.p95,
  fanout_p99_ms: (r) => r.fanout_ms.p99,
  fanout_max_ms: (r) => r.fanout_ms.max,
  ack_p50_ms: (r) => r.ack_ms.p50,
  ack_p99_ms: (r) => r.ack_ms.p99,
  connect_p99_ms: (r) => r.connect_ms.p99,
  sent: (r) => r.sent,
  unacked: (r) => r.unacked,
  expected: (r) => r.expected,
  delivered: (r) => r.delivered,
  lost: (r) => r.lost,
  duplicated: (r) => r.duplicated,
  reordered: (r) => r.reordered,
  duplicate_ids: (r) => r.duplicate_ids,
  unexpected: (r) => r.unexpected,
  unjoined: (r) => r.unjoined,
  connect_errors: (r) => r.connect_errors,
  errors: (r) => Object.values(r.errors).reduce((a, b) => a + b, 0),
  reconnects: (r) => r.reconnects,
  deliveries_per_s: (r) => r.deliveries_per_s,
  delivered_ratio: (r) => (r.expected === 0 ? 1 : r.delivered / r.expected),
  relay_cpu_s: (r) => r.relay_cpu_s,
  relay_rss_mb: (r) => r.relay_rss_mb,
  cpu_us_per_delivery: (r) => r.cpu_us_per_delivery,
  target_loop_delay_p99_ms: (r) => r.target_loop_delay_p99_ms,
  rss_per_connection_kb: (r) => r.rss_per_connection_kb,
  capacity_deliveries_per_s: (r) => r.capacity?.highest_sustained_deliveries_per_s ?? null,
};

const OPS = {
  '<': (a: number, b: number) => a < b,
  '<=': (a: number, b: number) => a <= b,
  '>': (a: number, b: number) => a > b,
  '>=': (a: number, b: number) => a >= b,
  '==': (a: number, b: number) => a === b,
  '!=': (a: number, b: number) => a !== b,
} as const;
type Op = keyof typeof OPS;

export interface Threshold {
  expression: string;
  metric: string;
  op: Op;
  value: number;
}

export class ThresholdSyntaxError extends Error {
  override name = 'ThresholdSyntaxError';
}

export function parseThreshold(expression: string): Threshold {
  const match = /^\s*([a-z0-9_]+)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expression);
  if (!match) throw new ThresholdSyntaxError(`threshold ${JSON.stringify(expression)} is not "metric op number" (e.g. "fanout_p99_ms < 50")`);
  const [, metric, op, value] = match as unknown as [string, string, Op, string];
  if (!(metric in METRICS)) {
    throw new ThresholdSyntaxError(`threshold ${JSON.stringify(expression)}: unknown metric ${metric}; known: ${Object.keys(METRICS).join(', ')}`);
  }
  return { expression: expression.trim(), metric, op, value: Number(value) };
}

/** A metric the run could not measure (e.g. CPU of a remote relay) fails its threshold: unknown is not a pass. */
export function evaluateThresholds(result: RunResult, expressions: readonly string[]): ThresholdResult[] {
  return expressions.map((expression) => {
    const t = parseThreshold(expression);
    const value = METRICS[t.metric]!(result);
    return { expression: t.expression, value, ok: value !== null && OPS[t.op](value, t.value) };
  });
}
