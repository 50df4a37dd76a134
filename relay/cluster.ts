/**
 * `npm run cluster`: a scaled-out deployment on one machine, to try and to demo — a
 * throwaway nats-server and PostgreSQL (free ports, temp dirs) and two relays sharing them
 * (ports 8081 and 8082; `--ports 9001,9002,9003` or CLUSTER_PORTS for others, any number).
 * The demo page served by every relay puts Alice on the first relay and Bob on the second,
 * each widget falling back to the other relays, so killing a relay shows failover.
 * Ctrl-C (or SIGTERM) stops the relays, then NATS and PostgreSQL, and removes every temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNats, startPostgres, type NatsServer, type PostgresServer } from '../tools/services.js';
import { spawnRelay } from '../tools/spawn-relay.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface Relay {
  port: number;
  child: ChildProcess;
  exited: Promise<void>;
}

function parsePorts(raw: string): number[] {
  const ports = raw.split(',').map((p) => Number(p.trim()));
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new Error(`--ports must be a comma-separated list of ports, got ${JSON.stringify(raw)}`);
  }
  if (new Set(ports).size !== ports.length) throw new Error('--ports lists a port twice');
  return ports;
}

async function assertFree(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', () => reject(new Error(`port ${port} is in use; pick others with --ports or CLUSTER_PORTS`)));
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

/** The demo page: one widget per relay, each listing the others as fallbacks. */
function demoPage(host: string, ports: number[]): string {
  const people = [
    ['alice', 'Alice'],
    ['bob', 'Bob'],
    ['carol', 'Carol'],
    ['dave', 'Dave'],
  ] as const;
  const relayList = (first: number) => [first, ...ports.filter((p) => p !== first)].map((p) => `ws://${host}:${p}/ws`).join(',');
  const widgets = ports
    .slice(0, people.length)
    .map((port, i) => {
      const [user, name] = people[i]!;
      return `<figure><figcaption>${name} — relay :${port}</figcaption>
        <chat-room conversation="demo" user="${user}" name="${name}" relay="${relayList(port)}"></chat-room></figure>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat-room cluster demo</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
  body { margin: 0 auto; padding: 1.5rem; max-width: 72rem; }
  .pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1.25rem; }
  figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .4rem; } chat-room { height: 30rem; }
</style></head>
<body><main>
  <h1>chat-room, scaled out</h1>
  <p>${ports.length} relays share PostgreSQL (the store) and NATS (fan-out). Each person is connected to a different
  relay; messages, typing and receipts cross between them. Stop a relay (its pid is printed in the terminal) and
  its widget fails over to another one, resending what was not acknowledged.</p>
  <div class="pair">${widgets}</div>
</main>
<script type="module" src="/chat-room.js"></script>
</body></html>
`;
}

async function ensureWidgetBundle(): Promise<void> {
  if (existsSync(join(ROOT, 'dist/chat-room.js'))) return;
  console.log('cluster: building the widget bundle (dist/chat-room.js) for the demo page…');
  const code = await new Promise<number | null>((resolve) => {
    const build = spawn('npm', ['run', 'build:widget'], { cwd: ROOT, stdio: 'inherit' });
    build.once('exit', resolve);
    build.once('error', () => resolve(1));
  });
  if (code !== 0) console.warn('cluster: widget build failed; the relays run, but the demo page will have no widget');
}

async function startRelay(port: number, host: string, env: Record<string, string>): Promise<Relay> {
  const relay = await spawnRelay({
    port,
    host,
    env,
    timeoutMs: 30_000,
    onLine: (line) => console.log(`[relay :${port}] ${line}`),
  }).catch((error: unknown) => {
    // Its output is on the terminal already (onLine); the first line says what went wrong.
    throw new Error(String((error as Error).message).split('\n')[0]);
  });
  return { port, child: relay.child, exited: relay.exited.then(() => undefined) };
}

async function stopRelay(relay: Relay): Promise<void> {
  if (relay.child.exitCode !== null || relay.child.signalCode !== null) return;
  relay.child.kill('SIGTERM');
  const forced = setTimeout(() => relay.child.kill('SIGKILL'), 12_000);
  await relay.exited;
  clearTimeout(forced);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { ports: { type: 'string' }, host: { type: 'string' } },
    allowPositionals: false,
  });
  const ports = parsePorts(values.ports ?? process.env.CLUSTER_PORTS ?? '8081,8082');
  const host = values.host ?? process.env.HOST ?? '127.0.0.1';
  const shownHost = host === '0.0.0.0' ? 'localhost' : host;
  for (const port of ports) await assertFree(host, port);

  let nats: NatsServer | undefined;
  let pg: PostgresServer | undefined;
  let work = '';
  const relays: Relay[] = [];
  let stopping: Promise<void> | null = null;
  const stop = (code: number) => {
    stopping ??= (async () => {
      console.log('\ncluster: stopping relays, NATS and PostgreSQL…');
      await Promise.all(relays.map(stopRelay));
      await Promise.all([nats?.dispose(), pg?.dispose()].map((p) => p?.catch((error: unknown) => console.error('cluster:', error))));
      if (work) await rm(work, { recursive: true, force: true });
      console.log('cluster: stopped, temp dirs removed');
      process.exit(code);
    })();
    return stopping;
  };
  // A terminal's Ctrl-C reaches the children too; they shut down on their own, and
  // stop() waits for them and cleans up whatever is left.
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    work = await mkdtemp(join(tmpdir(), 'chat-cluster-'));
    const dataDir = join(work, 'data');
    const demoDir = join(work, 'demo');
    await mkdir(dataDir, { recursive: true });
    await mkdir(demoDir, { recursive: true });
    await writeFile(join(demoDir, 'index.html'), demoPage(shownHost, ports));
    const built = ensureWidgetBundle();
    [nats, pg] = await Promise.all([startNats(), startPostgres()]);
    const databaseUrl = await pg.createDatabase('chat');
    await built;
    const env = { NATS_URL: nats.url, DATABASE_URL: databaseUrl, DATA_DIR: dataDir, DEMO_DIR: demoDir };
    // One after the other: relays that share a DATA_DIR must not initialise it at the same moment.
    for (const port of ports) relays.push(await startRelay(port, host, env));
    for (const relay of relays) {
      void relay.exited.then(() => {
        if (!stopping) console.warn(`cluster: relay :${relay.port} exited (${relay.child.exitCode ?? relay.child.signalCode}); the others keep serving`);
      });
    }
    console.log(
      [
        '',
        'chat-room cluster is running:',
        ...relays.map((r) => `  relay   http://${shownHost}:${r.port}/   (ws://${shownHost}:${r.port}/ws, pid ${r.child.pid})`),
        `  demo    http://${shownHost}:${ports[0]}/  (every person on another relay)`,
        `  NATS    ${nats.url}`,
        `  Postgres ${databaseUrl}`,
        `  data    ${dataDir} (shared DATA_DIR: uploads)`,
        '',
        'Ctrl-C stops everything and removes the temp dirs.',
        '',
      ].join('\n'),
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`cluster: ${message}`);
    if (/ENOENT/.test(message)) {
      console.error('cluster: needs nats-server and PostgreSQL on this machine (Debian: apt-get install -y nats-server postgresql)');
    }
    await stop(1);
  }
}

void main();
