/**
 * Clock and latency histograms shared by the generator workers and the coordinator.
 */
import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './types.js';

export type Histogram = hdr.Histogram;

/**
 * Milliseconds on the monotonic clock (CLOCK_MONOTONIC via uv_hrtime). It is one clock for
 * every thread and process of the machine, unlike `performance.now()`, whose origin differs
 * per worker: a message sent in one worker and received in another is timed correctly.
 */
export function monoMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/** Values are recorded in microseconds: integers, 3 significant digits, auto-resizing. */
export function newHistogram(): Histogram {
  return hdr.build({ numberOfSignificantValueDigits: 3 });
}

export function recordMs(histogram: Histogram, ms: number): void {
  histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export function encodeHistogram(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded);
}

export function atPercentileMs(histogram: Histogram, percentile: number): number {
  return histogram.totalCount === 0 ? 0 : histogram.getValueAtPercentile(percentile) / 1000;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export function summarize(histogram: Histogram): LatencySummary {
  const empty = histogram.totalCount === 0;
  return {
    p50: round(atPercentileMs(histogram, 50)),
    p95: round(atPercentileMs(histogram, 95)),
    p99: round(atPercentileMs(histogram, 99)),
    max: empty ? 0 : round(histogram.maxValue / 1000),
    mean: empty ? 0 : round(histogram.mean / 1000),
    count: histogram.totalCount,
  };
}

/** Percentiles spaced evenly in "nines" (50, 90, 99, 99.9 …), as HdrHistogram plots them. */
export function percentileSeries(histogram: Histogram): Array<{ percentile: number; ms: number }> {
  if (histogram.totalCount === 0) return [];
  const points: Array<{ percentile: number; ms: number }> = [];
  const maxNines = Math.min(5, Math.log10(Math.max(10, histogram.totalCount)));
  for (let nines = 0; nines <= maxNines + 1e-9; nines += 0.1) {
    const percentile = 100 * (1 - 10 ** -nines);
    points.push({ percentile: Math.round(percentile * 1e4) / 1e4, ms: round(atPercentileMs(histogram, percentile)) });
  }
  points.push({ percentile: 100, ms: round(histogram.maxValue / 1000) });
  return points;
}
