/**
 * The one way to start a relay as a child process (tests, the web-test-runner config, the
 * load harness, `npm run cluster`): `node --import tsx relay/main.ts` on a port picked here,
 * ready once `GET /healthz` answers 200 — not when some log line looks right.
 *
 * Plain JavaScript with JSDoc types, so that .mjs configs can import it as well as
 * TypeScript (types in spawn-relay.d.mts).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (where relay/main.ts and node_modules are). */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** A relay's output is kept up to this many lines (the newest), so a chatty relay cannot grow a test's memory. */
export const MAX_LOG_LINES = 2000;

const DEFAULT_TIMEOUT_MS = 20_000;
const POLL_MS = 50;
/** How the relay says its port is taken (the bind failed, or the listen retry started). */
const PORT_IN_USE = /port[^\n]{0,40}\bin use\b|EADDRINUSE|address already in use/i;

/**
 * A port of `host` that nothing listened on a moment ago (the OS picked it). Another process
 * can still take it before the relay binds it: spawnRelay retries on a new port then.
 * @param {string} [host]
 * @returns {Promise<number>}
 */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * One GET /healthz; resolves with the status code, or 0 when nothing answered.
 * @param {string} host
 * @param {number} port
 * @returns {Promise<number>}
 */
function healthStatus(host, port) {
  return new Promise((resolve) => {
    // This side closes the connection (keep-alive asked for, then destroyed): whoever closes
    // first holds TIME_WAIT, and on the relay's side it would block the port for a restart
    // on the same port for up to a minute.
    const request = get({ host, port, path: '/healthz', agent: false, headers: { connection: 'keep-alive' }, timeout: 1000 }, (response) => {
      resolve(response.statusCode ?? 0);
      request.destroy();
    });
    request.once('timeout', () => request.destroy());
    request.once('error', () => resolve(0));
  });
}

/**
 * Whether process `pid` holds the socket listening on `port`: a 200 from /healthz may come
 * from another relay that took the port first (ours then exits "in use"). Linux only (/proc);
 * elsewhere the answer is taken on trust.
 * @param {number | undefined} pid
 * @param {number} port
 * @returns {Promise<boolean>}
 */
async function listensHere(pid, port) {
  if (pid === undefined) return true;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  try {
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      const text = await readFile(table, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        // local_address is fields[1] (ADDR:PORT), st is fields[3] (0A = LISTEN), inode is fields[9].
        if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A' && fields[9]) inodes.add(`socket:[${fields[9]}]`);
      }
    }
    if (inodes.size === 0) return true;
    const fds = await readdir(`/proc/${pid}/fd`);
    for (const fd of fds) {
      if (inodes.has(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))) return true;
    }
    return false;
  } catch {
    return true;
  }
}

/** @param {string} host */
function probeHost(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/**
 * @param {import('node:child_process').ChildProcess} child
 * @returns {Promise<void>}
 */
async function killHard(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/**
 * Starts `node --import tsx relay/main.ts` and waits until /healthz answers 200.
 * Rejects (with the relay's output) when the child exits first ("relay exited with CODE
 * before listening") or does not answer within `timeoutMs` (the child is killed then). When
 * the port was picked here and the relay reports it in use, starts again on a new port
 * (`portRetries` times).
 * @param {import('./spawn-relay.d.mts').SpawnRelayOptions} [options]
 * @returns {Promise<import('./spawn-relay.d.mts').SpawnedRelay>}
 */
export async function spawnRelay(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const fixedPort = options.port !== undefined && options.port !== 0;
  const retries = fixedPort ? 0 : (options.portRetries ?? 2);
  /** @type {number[]} */
  const tried = [];
  for (let attempt = 0; ; attempt++) {
    const port = fixedPort ? /** @type {number} */ (options.port) : await (options.pickPort ?? freePort)(probeHost(host));
    tried.push(port);
    const result = await spawnOnce(options, host, port);
    if (result.ok) return result.relay;
    if (result.portInUse && attempt < retries) continue;
    const earlier = tried.length > 1 ? ` (ports tried: ${tried.join(', ')})` : '';
    throw new Error(`${result.why}${earlier}:\n${result.logs.join('\n')}`);
  }
}

/**
 * @param {import('./spawn-relay.d.mts').SpawnRelayOptions} options
 * @param {string} host
 * @param {number} port
 * @returns {Promise<{ ok: true, relay: import('./spawn-relay.d.mts').SpawnedRelay } | { ok: false, why: string, portInUse: boolean, logs: string[] }>}
 */
async function spawnOnce(options, host, port) {
  const fixedPort = options.port !== undefined && options.port !== 0;
  /** @type {Record<string, string | undefined>} */
  const merged = { ...process.env, ...options.env, HOST: host, PORT: String(port) };
  if (options.dataDir !== undefined) merged.DATA_DIR = options.dataDir;
  const env = /** @type {NodeJS.ProcessEnv} */ (Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)));
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/main.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  /** @type {string[]} */
  const logs = [];
  let portInUse = false;
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  /** Output ended too (its last lines have arrived). */
  const closed = new Promise((resolve) => child.once('close', resolve));
  /** @param {string} line */
  const onLine = (line) => {
    logs.push(line);
    if (logs.length > MAX_LOG_LINES) logs.splice(0, logs.length - MAX_LOG_LINES);
    if (PORT_IN_USE.test(line)) portInUse = true;
    options.onLine?.(line);
  };
  // Read for the child's whole life, so a full pipe never blocks it.
  createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stdout) }).on('line', onLine);
  createInterface({ input: /** @type {import('node:stream').Readable} */ (child.stderr) }).on('line', onLine);
  let exitCode = /** @type {number | null | undefined} */ (undefined);
  void exited.then((code) => (exitCode = code));
  child.once('error', (error) => onLine(`spawn failed: ${error.message}`));

  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const probe = probeHost(host);
  for (;;) {
    if (exitCode !== undefined || child.signalCode !== null) {
      // Let the last lines of output arrive before reporting them (and judging "in use").
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
      const code = exitCode ?? child.signalCode;
      return { ok: false, why: `relay exited with ${code} before listening on ${host}:${port}`, portInUse, logs };
    }
    // A port we picked that the relay reports taken: it would only wait for it; another one is quicker.
    if (portInUse && !fixedPort) {
      await killHard(child);
      return { ok: false, why: `relay could not listen on ${host}:${port}: port in use`, portInUse, logs };
    }
    if ((await healthStatus(probe, port)) === 200 && exitCode === undefined && (await listensHere(child.pid, port))) {
      return { ok: true, relay: { port, host, child, logs, exited } };
    }
    if (Date.now() >= deadline) {
      await killHard(child);
      const seconds = Math.round((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000);
      return { ok: false, why: `relay did not start in ${seconds} s (no 200 from http://${probe}:${port}/healthz)`, portInUse, logs };
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * A relay for tests, benchmarks and the load harness: on 127.0.0.1, open mode, its own temp
 * data dir (unless one is given), and none of the parent's JWT/origin/NATS/PostgreSQL
 * settings unless passed in `env`.
 * @param {import('./spawn-relay.d.mts').RelayOptions} [options]
 * @returns {Promise<import('./spawn-relay.d.mts').RelayProcess>}
 */
export async function startRelay(options = {}) {
  return startManaged(options, !options.dataDir, options.port);
}

/**
 * @param {import('./spawn-relay.d.mts').RelayOptions} options what the caller asked for (restarts keep it)
 * @param {boolean} ownsDir
 * @param {number | undefined} port this start's port
 * @returns {Promise<import('./spawn-relay.d.mts').RelayProcess>}
 */
async function startManaged(options, ownsDir, port) {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'chat-relay-test-')));
  /** @type {import('./spawn-relay.d.mts').SpawnedRelay} */
  let spawned;
  try {
    spawned = await spawnRelay({
      dataDir,
      port,
      timeoutMs: options.timeoutMs,
      env: {
        LOG_LEVEL: 'info',
        CHAT_JWT_SECRET: undefined,
        ALLOWED_ORIGINS: undefined,
        NATS_URL: undefined,
        DATABASE_URL: undefined,
        // Host-integration settings of the shell running the tests must not leak into test relays.
        CHAT_API_KEY: undefined,
        WEBHOOK_URL: undefined,
        WEBHOOK_SECRET: undefined,
        METRICS_TOKEN: undefined,
        ...options.env,
      },
    });
  } catch (error) {
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const { child, logs, exited } = spawned;
  /** @type {import('./spawn-relay.d.mts').RelayProcess} */
  const relay = {
    port: spawned.port,
    wsUrl: `ws://127.0.0.1:${spawned.port}/ws`,
    httpUrl: `http://127.0.0.1:${spawned.port}`,
    dataDir,
    child,
    logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      await killHard(child);
    },
    async restart(restartOptions = {}) {
      await killHard(child);
      // samePort: the old port, explicitly (the relay waits while it sits in TIME_WAIT);
      // otherwise what the caller first asked for (usually any free port).
      return startManaged(
        { ...options, env: { ...options.env, ...restartOptions.env }, dataDir },
        ownsDir,
        restartOptions.samePort ? spawned.port : options.port,
      );
    },
    async dispose() {
      await killHard(child);
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return relay;
}
