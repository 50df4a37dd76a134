/**
 * The event loop's delay, as the load harness reads it from every target (GET /stats): a
 * libuv timer every 10 ms records how late it fired (Node's histogram holds the whole
 * interval; the 10 ms are taken off here). The relay and the comparison servers
 * (loadtest/servers/) use this same class, so their figures compare.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LoopDelaySnapshot {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  samples: number;
}

const RESOLUTION_MS = 10;
/** The histogram holds whole timer intervals (≥ the resolution): the delay is what exceeds it. */
const ms = (ns: number) => Math.max(0, Math.round((ns - RESOLUTION_MS * 1e6) / 1e4) / 100);

export class LoopDelay {
  private readonly _histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });

  constructor() {
    this._histogram.enable();
  }

  /** Since the start or the last reset; `reset` starts a new measurement afterwards. */
  snapshot(reset = false): LoopDelaySnapshot {
    const h = this._histogram;
    const empty = h.count === 0;
    const snapshot: LoopDelaySnapshot = {
      p50_ms: empty ? 0 : ms(h.percentile(50)),
      p99_ms: empty ? 0 : ms(h.percentile(99)),
      max_ms: empty ? 0 : ms(h.max),
      mean_ms: empty ? 0 : ms(h.mean),
      samples: h.count,
    };
    if (reset) h.reset();
    return snapshot;
  }
}

/** Only a client on this machine may reset the figures (a load harness measuring a phase). */
export function isLoopback(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1' || address.startsWith('127.') || address === '0000:0000:0000:0000:0000:0000:0000:0001';
}
