/**
 * A self-contained HTML report: uPlot's script and stylesheet are inlined, so the file
 * opens offline (and can be attached to an issue). Charts: fan-out latency over time,
 * deliveries per second over time, and latency by percentile, one series per target.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RunResult } from './types.js';

const require = createRequire(import.meta.url);
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Aligns series with different x values onto one x axis (uPlot's data layout), null where absent. */
export function align(series: ReadonlyArray<ReadonlyArray<readonly [number, number | null]>>): Array<Array<number | null>> {
  const xs = [...new Set(series.flatMap((points) => points.map(([x]) => x)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns: Array<Array<number | null>> = [xs];
  for (const points of series) {
    const column: Array<number | null> = xs.map(() => null);
    for (const [x, y] of points) column[index.get(x)!] = y;
    columns.push(column);
  }
  return columns;
}

/** JSON that is safe inside a <script> element. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');
const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function renderHtml(results: readonly RunResult[]): string {
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const nines = (p: number) => (p >= 100 ? 6 : Math.round(-Math.log10(1 - p / 100) * 1000) / 1000);
  const charts = {
    names: results.map((r) => r.target),
    colors: results.map((_, i) => COLORS[i % COLORS.length]!),
    latency: align(
      results.flatMap((r) => [
        // A second without samples has no latency (and 0 has no place on a log scale).
        r.timeline.map((p) => [p.t, p.p50 || null] as const),
        r.timeline.map((p) => [p.t, p.p99 || null] as const),
      ]),
    ),
    deliveries: align(results.map((r) => r.timeline.map((p) => [p.t, p.delivered] as const))),
    percentiles: align(results.map((r) => r.percentiles.map((p) => [nines(p.percentile), Math.max(p.ms, 0.001)] as const))),
  };
  const rows = results
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.target)}</td><td>${r.ok ? '✓' : '✗'}</td><td>${r.deliveries_per_s}</td>` +
        `<td>${r.fanout_ms.p50}</td><td>${r.fanout_ms.p95}</td><td>${r.fanout_ms.p99}</td><td>${r.fanout_ms.max}</td>` +
        `<td>${r.ack_ms.p50}</td><td>${r.ack_ms.p99}</td><td>${r.delivered}/${r.expected}</td>` +
        `<td>${r.lost}/${r.duplicated}/${r.reordered}</td><td>${r.relay_cpu_s ?? '—'}</td><td>${r.relay_rss_mb ?? '—'}</td>` +
        `<td>${r.capacity?.highest_sustained_deliveries_per_s ?? '—'}</td><td>${r.generator_lag_p99_ms}</td></tr>`,
    )
    .join('\n');
  const first = results[0];
  const title = first ? `chat-room load test: ${first.scenario}` : 'chat-room load test';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${uplotCss}</style>
<style>
  body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
  table { border-collapse: collapse; margin: 12px 0 24px; }
  th, td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  h2 { margin-top: 32px; font-size: 16px; }
  .note { color: #666; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${results.map((r) => `${escapeHtml(r.target)}: ${r.clients} clients, ${r.conversations} conversations, ${r.duration_s} s`).join(' · ')}</p>
<table>
<tr><th>target</th><th>ok</th><th>deliveries/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th>
<th>ack p50</th><th>ack p99</th><th>delivered/expected</th><th>lost/dup/reord</th><th>cpu s</th><th>rss MB</th>
<th>capacity deliveries/s</th><th>generator lag ms</th></tr>
${rows}
</table>
<h2>Fan-out latency over time (p50 dashed, p99 solid; ms, log scale)</h2><div id="latency"></div>
<h2>Deliveries per second</h2><div id="deliveries"></div>
<h2>Fan-out latency by percentile (ms, log scale)</h2><div id="percentiles"></div>
<script>${uplotJs}</script>
<script>
const data = ${scriptJson(charts)};
const width = Math.min(1100, document.body.clientWidth - 20);
const axisMs = { label: 'ms', values: (u, vals) => vals.map((v) => v == null ? '' : +v.toPrecision(3)) };
new uPlot({
  width, height: 320, scales: { x: { time: false }, y: { distr: 3 } },
  axes: [{ label: 'seconds' }, axisMs],
  series: [{ label: 's' }, ...data.names.flatMap((name, i) => [
    { label: name + ' p50', stroke: data.colors[i], dash: [6, 4], spanGaps: true },
    { label: name + ' p99', stroke: data.colors[i], width: 2, spanGaps: true },
  ])],
}, data.latency, document.getElementById('latency'));
new uPlot({
  width, height: 260, scales: { x: { time: false } },
  axes: [{ label: 'seconds' }, { label: 'deliveries/s', size: 70 }],
  series: [{ label: 's' }, ...data.names.map((name, i) => ({ label: name, stroke: data.colors[i], width: 2, spanGaps: true }))],
}, data.deliveries, document.getElementById('deliveries'));
const nines = [0, 1, 2, 3, 4, 5, 6];
const nineLabel = (n) => n >= 6 ? 'max' : n === 0 ? '0%' : (100 - 100 / 10 ** n).toFixed(Math.max(0, n - 2)) + '%';
new uPlot({
  width, height: 320, scales: { x: { time: false, range: [0, 6] }, y: { distr: 3 } },
  axes: [{ label: 'percentile', splits: () => nines, values: (u, vals) => vals.map(nineLabel) }, axisMs],
  series: [{ label: 'percentile', value: (u, v) => v == null ? '' : nineLabel(v) },
    ...data.names.map((name, i) => ({ label: name, stroke: data.colors[i], width: 2, spanGaps: true }))],
}, data.percentiles, document.getElementById('percentiles'));
</script>
</body>
</html>
`;
}
