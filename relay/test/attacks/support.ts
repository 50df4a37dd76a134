/**
 * Measuring tools for the attack tests: the relay's memory and CPU from /proc, its live
 * connection count from /healthz, and how long a fresh client takes to be served.
 */
import { readFile } from 'node:fs/promises';
import type { ServerFrame } from '../../../protocol/index.js';
import { TestClient, type RelayProcess } from '../harness.js';

export async function rssBytes(relay: RelayProcess): Promise<number> {
  const status = await readFile(`/proc/${relay.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** The relay's user+system CPU time so far, in ms. */
export async function cpuMs(relay: RelayProcess): Promise<number> {
  const stat = await readFile(`/proc/${relay.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export async function connections(relay: RelayProcess): Promise<number> {
  const response = await fetch(`${relay.httpUrl}/healthz`);
  return ((await response.json()) as { connections: number }).connections;
}

/** Samples the relay's RSS every 100 ms until stopped; resolves the peak. */
export function watchRss(relay: RelayProcess): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssBytes(relay).catch(() => 0));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/**
 * A new client connects, says hello, joins a conversation of its own and sends a message:
 * resolves the ms from opening the socket to the ack.
 */
export async function timeToAck(relay: RelayProcess, who: { user?: string; token?: string } = {}): Promise<number> {
  const started = performance.now();
  const user = who.user ?? `fresh-${Math.random().toString(36).slice(2, 10)}`;
  const client = await TestClient.login(relay.wsUrl, who.token ? { token: who.token } : { user });
  try {
    await client.join(`fresh-${user}`);
    client.send({ type: 'send', conv: `fresh-${user}`, id: 'hello', text: 'still served?' });
    await client.next((f) => f.type === 'ack', 5000);
    return performance.now() - started;
  } finally {
    client.close();
  }
}

/** Stores `count` messages of `textChars` characters in `conv` (the relay must allow the rate). */
export async function seed(relay: RelayProcess, conv: string, count: number, textChars: number): Promise<void> {
  const writer = await TestClient.login(relay.wsUrl, { user: 'seeder' });
  await writer.join(conv);
  const text = 'x'.repeat(textChars);
  for (let i = 1; i <= count; i++) writer.send({ type: 'send', conv, id: `seed-${i}`, text });
  await writer.until((frames) => frames.filter((f) => f.type === 'ack').length === count, 60_000);
  writer.close();
}

export const isError = (code: string) => (f: ServerFrame) => f.type === 'error' && f.code === code;

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
