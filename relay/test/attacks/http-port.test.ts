import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startRelay, TestClient, type RelayProcess } from '../harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function healthz(relay: RelayProcess): Promise<{ status: string; connections: number }> {
  const response = await fetch(`${relay.httpUrl}/healthz`);
  return (await response.json()) as { status: string; connections: number };
}

/** Runs a relay process to its exit (at most `timeoutMs`): its exit code (null = still running, killed) and output. */
async function runToExit(env: Record<string, string>, timeoutMs = 20_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr.on('data', (data: Buffer) => (output += data.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  return { code, output };
}

test('port - a second relay on a taken port exits non-zero saying so, and the first keeps every client', async () => {
  const first = await startRelay();
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-port-'));
  const clients: TestClient[] = [];
  try {
    // Spawned directly: a readiness probe on the shared port would be answered by the first relay.
    const started = Date.now();
    const second = await runToExit({ HOST: '127.0.0.1', PORT: String(first.port), DATA_DIR: dataDir });
    assert.notEqual(second.code, null, `the second relay was still running after 20 s (it shares the port):\n${second.output}`);
    assert.notEqual(second.code, 0);
    assert.match(second.output, new RegExp(`port 127\\.0\\.0\\.1:${first.port} is in use by another process`));
    assert.ok(Date.now() - started < 10_000, 'refused at once, not after the TIME_WAIT retry');

    for (let i = 0; i < 8; i++) clients.push(await TestClient.login(first.wsUrl, { user: `u${i}` }));
    for (let i = 0; i < 4; i++) {
      // Only this relay answers, and it holds all eight clients (healthz may say more, e.g. store and bus state).
      const { status, connections } = (await healthz(first)) as { status?: unknown; connections?: unknown };
      assert.deepEqual({ status, connections }, { status: 'ok', connections: 8 });
    }
  } finally {
    for (const client of clients) client.close();
    await first.dispose();
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** A free port, found by binding and releasing it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const python = spawnSync('python3', ['-c', 'print(1)']).status === 0;

test(
  'port - bound but not listening (as after a restart, TIME_WAIT): the relay waits until it is free',
  { skip: python ? false : 'python3 is needed to hold a bound, non-listening socket (node cannot)' },
  async () => {
    const port = await freePort();
    // A socket bound to the port without SO_REUSEADDR and never listening: bind fails, connect is refused.
    const holder = spawn('python3', [
      '-c',
      `import socket, sys, time\ns = socket.socket()\ns.bind(("127.0.0.1", ${port}))\nprint("bound", flush=True)\ntime.sleep(3)\n`,
    ]);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const started = Date.now();
    const relay = await startRelay({ port });
    try {
      assert.equal(relay.port, port);
      assert.ok(Date.now() - started >= 1500, 'the relay waited for the port');
      assert.ok(relay.logs.some((line) => line.includes('retrying')), 'the wait was logged');
      assert.equal((await healthz(relay)).status, 'ok');
    } finally {
      holder.kill();
      await relay.dispose();
    }
  },
);
