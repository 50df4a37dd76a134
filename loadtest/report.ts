/**
 * Human output in k6's manner: checks and thresholds with ✓/✗, dotted metric lines, and a
 * side-by-side table with ratios when several targets ran.
 */
import type { LatencySummary, RunResult } from './types.js';

const num = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const dots = (label: string, width = 34): string => `${label} ${'.'.repeat(Math.max(2, width - label.length))}`;
const mark = (ok: boolean): string => (ok ? '✓' : '✗');

function latency(s: LatencySummary): string {
  if (s.count === 0) return 'no samples';
  return `p50=${ms(s.p50)} p95=${ms(s.p95)} p99=${ms(s.p99)} max=${ms(s.max)} (${num(s.count)} samples)`;
}

export function formatSummary(r: RunResult): string {
  const lines: string[] = [];
  lines.push('');
  lines.push(`  scenario ${r.scenario} (${r.kind})  ·  target ${r.target}  ${r.url}`);
  lines.push(`  ${num(r.clients)} clients in ${num(r.conversations)} conversations  ·  ${r.workers} worker(s)  ·  ${r.duration_s} s`);
  lines.push('');
  lines.push('  checks');
  for (const c of r.checks) lines.push(`    ${mark(c.ok)} ${dots(c.name, 40)} ${c.detail}`);
  lines.push('');
  lines.push('  metrics');
  lines.push(`    ${dots('fanout_ms')} ${latency(r.fanout_ms)}`);
  lines.push(`    ${dots('ack_ms')} ${latency(r.ack_ms)}`);
  lines.push(`    ${dots('connect_ms')} ${latency(r.connect_ms)}`);
  lines.push(`    ${dots('messages sent')} ${num(r.sent)}  ${num(r.messages_per_s)}/s`);
  lines.push(
    `    ${dots('deliveries')} ${num(r.delivered)} of ${num(r.expected)} expected  ` +
      `${num(r.deliveries_per_s)}/s (peak ${num(r.peak_deliveries_per_s)}/s)`,
  );
  lines.push(`    ${dots('lost / duplicated / reordered')} ${num(r.lost)} / ${num(r.duplicated)} / ${num(r.reordered)}`);
  if (r.reconnects > 0 || r.resyncs > 0 || r.catchup > 0) {
    lines.push(
      `    ${dots('reconnects / resyncs / caught up')} ${num(r.reconnects)} / ${num(r.resyncs)} / ${num(r.catchup)} ` +
        `(${num(r.redelivered)} legitimately redelivered)`,
    );
  }
  if (r.relay_cpu_s !== null) lines.push(`    ${dots('target cpu')} ${r.relay_cpu_s} s (${r.relay_cpu_pct}% of one core)`);
  if (r.cpu_us_per_delivery !== null) lines.push(`    ${dots('target cpu per delivery')} ${r.cpu_us_per_delivery} µs (load phase)`);
  if (r.target_loop_delay_p99_ms !== null) {
    lines.push(`    ${dots('target event-loop delay')} p99=${ms(r.target_loop_delay_p99_ms)} max=${ms(r.target_loop_delay_max_ms ?? 0)} ms (load phase)`);
  }
  if (r.relay_rss_mb !== null) lines.push(`    ${dots('target peak rss')} ${r.relay_rss_mb} MB`);
  if (r.rss_per_connection_kb !== null) lines.push(`    ${dots('target rss per connection')} ${r.rss_per_connection_kb} kB`);
  lines.push(
    `    ${dots('harness')} ${r.harness_cpu_s} s cpu, generator lag p99 ${r.generator_lag_p99_ms} ms` +
      (r.load_average === null ? '' : `, machine load ${r.load_average}`) +
      (r.pinned ? `; pinned: target cpu ${r.pinned.target}, harness cpu ${r.pinned.harness}` : '; not pinned'),
  );
  if (r.capacity) {
    lines.push('');
    lines.push(
      `  capacity steps (sustained = p99 ≤ ${r.capacity.p99_limit_ms} ms in all but one second, and ≥ 95% of the deliveries)`,
    );
    for (const s of r.capacity.steps) {
      lines.push(
        `    ${mark(s.sustained)} ${num(s.rate).padStart(6)} msgs/s  ${num(s.deliveries_per_s).padStart(8)} of ` +
          `${num(s.target_deliveries_per_s).padStart(8)} deliveries/s  p99 ${ms(s.p99_ms).padStart(5)} ms ` +
          `(${s.seconds_over_limit} s over)` +
          `${s.cpu_pct === null ? '' : `  target cpu ${s.cpu_pct}%`}  generator lag ${s.generator_lag_ms} ms`,
      );
    }
    lines.push(`    highest sustained: ${num(r.capacity.highest_sustained_deliveries_per_s)} deliveries/s`);
  }
  lines.push('');
  lines.push('  thresholds');
  for (const t of r.thresholds) lines.push(`    ${mark(t.ok)} ${dots(t.expression, 40)} ${t.value === null ? 'not measured' : String(t.value)}`);
  if (r.warnings.length > 0) {
    lines.push('');
    lines.push('  warnings');
    for (const w of r.warnings) lines.push(`    ! ${w}`);
  }
  lines.push('');
  lines.push(`  ${r.ok ? '✓ all thresholds passed' : '✗ some thresholds failed'}`);
  return lines.join('\n');
}

interface Row {
  label: string;
  value: (r: RunResult) => number | null;
  show: (n: number) => string;
}

const ROWS: Row[] = [
  { label: 'deliveries/s', value: (r) => r.deliveries_per_s, show: num },
  { label: 'fanout p50 ms', value: (r) => r.fanout_ms.p50, show: ms },
  { label: 'fanout p95 ms', value: (r) => r.fanout_ms.p95, show: ms },
  { label: 'fanout p99 ms', value: (r) => r.fanout_ms.p99, show: ms },
  { label: 'fanout max ms', value: (r) => r.fanout_ms.max, show: ms },
  { label: 'ack p50 ms', value: (r) => r.ack_ms.p50, show: ms },
  { label: 'ack p99 ms', value: (r) => r.ack_ms.p99, show: ms },
  { label: 'connect p99 ms', value: (r) => r.connect_ms.p99, show: ms },
  { label: 'target cpu s', value: (r) => r.relay_cpu_s, show: (n) => n.toFixed(1) },
  { label: 'cpu µs per delivery', value: (r) => r.cpu_us_per_delivery, show: (n) => n.toFixed(1) },
  { label: 'target loop delay p99 ms', value: (r) => r.target_loop_delay_p99_ms, show: ms },
  { label: 'target peak rss MB', value: (r) => r.relay_rss_mb, show: (n) => n.toFixed(1) },
  { label: 'rss per connection kB', value: (r) => r.rss_per_connection_kb, show: (n) => n.toFixed(1) },
  { label: 'capacity deliveries/s', value: (r) => r.capacity?.highest_sustained_deliveries_per_s ?? null, show: num },
  { label: 'generator lag p99 ms', value: (r) => r.generator_lag_p99_ms, show: ms },
  { label: 'lost', value: (r) => r.lost, show: num },
  { label: 'duplicated', value: (r) => r.duplicated, show: num },
  { label: 'reordered', value: (r) => r.reordered, show: num },
];

/** Every target side by side; each cell of the 2nd+ column carries its ratio to the first. */
export function formatComparison(results: readonly RunResult[]): string {
  if (results.length === 0) return '';
  const base = results[0]!;
  const header = ['', ...results.map((r) => r.target)];
  const table: string[][] = [header];
  for (const row of ROWS) {
    const values = results.map(row.value);
    if (values.every((v) => v === null)) continue;
    const baseValue = values[0] ?? null;
    table.push([
      row.label,
      ...values.map((v, i) => {
        if (v === null) return '—';
        if (i === 0 || baseValue === null || baseValue === 0) return row.show(v);
        return `${row.show(v)} (${(v / baseValue).toFixed(2)}×)`;
      }),
    ]);
  }
  table.push(['thresholds', ...results.map((r) => (r.ok ? '✓ pass' : '✗ fail'))]);
  const widths = header.map((_, c) => Math.max(...table.map((line) => line[c]!.length)));
  const lines = table.map((line) => '  ' + line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   '));
  return ['', `  comparison: scenario ${base.scenario}, ratios against ${base.target}`, ...lines, ''].join('\n');
}
