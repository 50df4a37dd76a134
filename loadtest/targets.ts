/**
 * Starting (and stopping) what a run loads: our relay, a two-relay cluster, the Socket.IO
 * and bare-uWS comparison servers, or an already running relay given by URL. Every server
 * the harness starts is a child process on a free port of 127.0.0.1, so its CPU time and
 * memory can be read from /proc.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LIFTED_LIMITS_ENV } from '../relay/config.js';
import { startRelay, type RelayProcess } from '../tools/spawn-relay.mjs';
import { TargetName, WireKind } from './types.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * Our relay's per-client limits (frame rate, connections per address and per user, joins,
 * read budgets) are there to stop abusive clients; a load test opens thousands of
 * connections from one address and sends far faster per connection, so they are lifted.
 */
export const RELAY_LOAD_ENV = LIFTED_LIMITS_ENV;

export interface StartedTarget {
  name: TargetName;
  wire: WireKind;
  /** Clients are spread over these round-robin (several for a cluster). */
  urls: string[];
  /** Processes whose CPU and memory are the target's cost (empty when unknown). */
  pids: number[];
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** For `url`: the running relay. */
  url?: string;
  /** For `url`: a local relay process to measure. */
  pid?: number;
}

export class TargetUnavailableError extends Error {
  override name = 'TargetUnavailableError';
}

export async function startTarget(name: TargetName, options: TargetOptions = {}): Promise<StartedTarget> {
  switch (name) {
    case TargetName.relay:
      return relayTarget(await startRelay({ env: { ...RELAY_LOAD_ENV } }));
    case TargetName.cluster:
      return startCluster();
    case TargetName.socketio:
      return spawnServer(name, WireKind.socketio, 'loadtest/servers/socketio-server.ts', (port) => `http://127.0.0.1:${port}`);
    case TargetName.uws:
      return spawnServer(name, WireKind.v1, 'loadtest/servers/uws-server.ts', (port) => `ws://127.0.0.1:${port}/ws`);
    case TargetName.url: {
      if (!options.url) throw new TargetUnavailableError('--url ws://HOST:PORT/ws is required for the url target');
      return { name, wire: WireKind.v1, urls: [options.url], pids: options.pid ? [options.pid] : [], stop: async () => {} };
    }
  }
}

function relayTarget(relay: RelayProcess): StartedTarget {
  return {
    name: TargetName.relay,
    wire: WireKind.v1,
    urls: [relay.wsUrl],
    pids: relay.child.pid ? [relay.child.pid] : [],
    stop: () => relay.dispose(),
  };
}

/**
 * Two relays sharing one PostgreSQL store, with NATS carrying events between them; the
 * virtual users of every conversation alternate between the two, so most deliveries cross
 * the bus. PostgreSQL runs with its durable defaults (fsync on), like a production store.
 * The reported CPU and memory are the two relays' (nats-server and PostgreSQL not included).
 */
async function startCluster(): Promise<StartedTarget> {
  const needed = ['relay/bus/nats.ts', 'relay/store/postgres.ts', 'tools/services.ts'];
  const missing = needed.filter((file) => !existsSync(`${ROOT}${file}`));
  if (missing.length > 0) {
    throw new TargetUnavailableError(
      `cluster mode not available: this checkout has no ${missing.join(', ')} (NATS bus / PostgreSQL store not built yet)`,
    );
  }
  const services = await import('../tools/services.js');
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  };
  try {
    let nats: Awaited<ReturnType<typeof services.startNats>>;
    let postgres: Awaited<ReturnType<typeof services.startPostgres>>;
    try {
      nats = await services.startNats();
      cleanups.push(() => nats.dispose());
      postgres = await services.startPostgres();
      cleanups.push(() => postgres.dispose());
    } catch (error) {
      throw new TargetUnavailableError(
        `cluster mode not available: cannot start nats-server/PostgreSQL (${(error as Error).message.split('\n')[0]}); ` +
          'install them with `apt-get install -y nats-server postgresql`',
      );
    }
    const env = { ...RELAY_LOAD_ENV, NATS_URL: nats.url, DATABASE_URL: await postgres.createDatabase() };
    const relays: RelayProcess[] = [];
    // One after the other: the first applies the store's migrations.
    for (let i = 0; i < 2; i++) {
      const relay = await startRelay({ env });
      cleanups.push(() => relay.dispose());
      relays.push(relay);
    }
    return {
      name: TargetName.cluster,
      wire: WireKind.v1,
      urls: relays.map((r) => r.wsUrl),
      pids: relays.flatMap((r) => (r.child.pid ? [r.child.pid] : [])),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function spawnServer(
  name: TargetName,
  wire: WireKind,
  script: string,
  url: (port: number) => string,
): Promise<StartedTarget> {
  const child = spawn(process.execPath, ['--import', 'tsx', `${ROOT}${script}`], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} server did not start in 20 s:\n${output.join('\n')}`)), 20_000);
    const onLine = (line: string) => {
      if (output.length < 200) output.push(line);
      const match = /"msg":"listening","port":(\d+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${name} server exited before listening:\n${output.join('\n')}`));
    });
  });
  return {
    name,
    wire,
    urls: [url(port)],
    pids: child.pid ? [child.pid] : [],
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
