/**
 * The target's own view of a run: every server the harness loads (our relay and the
 * comparison servers) answers GET /stats with its event-loop delay (relay/http/loop-delay.ts);
 * `?reset` at the start of the load phase makes the figure cover the load phase only.
 */
import { get } from 'node:http';

/** http://host:port/stats of a target URL (ws://host:port/ws or http://host:port). */
export function statsUrl(targetUrl: string): string {
  const url = new URL(targetUrl);
  url.protocol = url.protocol === 'wss:' || url.protocol === 'https:' ? 'https:' : 'http:';
  url.pathname = '/stats';
  url.search = '';
  return url.href;
}

interface Stats {
  event_loop_delay?: { p99_ms?: number; max_ms?: number };
}

function fetchStats(url: string): Promise<Stats | null> {
  return new Promise((resolve) => {
    if (!url.startsWith('http:')) return resolve(null);
    const request = get(url, { timeout: 2000, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        try {
          resolve(response.statusCode === 200 ? (JSON.parse(body) as Stats) : null);
        } catch {
          resolve(null);
        }
      });
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(null));
  });
}

/** Starts a new measurement on every target process. */
export async function resetStats(urls: readonly string[]): Promise<void> {
  await Promise.all(urls.map((u) => fetchStats(`${statsUrl(u)}?reset`)));
}

/** The worst event-loop delay p99 (and max) over the target's processes, or null if one does not say. */
export async function loopDelay(urls: readonly string[]): Promise<{ p99_ms: number; max_ms: number } | null> {
  const all = await Promise.all(urls.map((u) => fetchStats(statsUrl(u))));
  let p99 = 0;
  let max = 0;
  for (const stats of all) {
    const d = stats?.event_loop_delay;
    if (typeof d?.p99_ms !== 'number' || typeof d.max_ms !== 'number') return null;
    p99 = Math.max(p99, d.p99_ms);
    max = Math.max(max, d.max_ms);
  }
  return all.length === 0 ? null : { p99_ms: p99, max_ms: max };
}
