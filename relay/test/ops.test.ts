/**
 * Operations: /healthz and /readyz, and the SQLite backup (`npm run backup -- PATH`)
 * restored into a new data directory that a relay then serves.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { ROOT } from '../../tools/spawn-relay.mjs';
import { startRelay, TestClient, type RelayProcess } from './harness.js';
import { startNats, startPostgres, type NatsServer, type PostgresServer } from './services.js';

const run = promisify(execFile);

async function getJson(url: string, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const response = await fetch(url, { method });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function sendAll(client: TestClient, conv: string, texts: string[]): Promise<void> {
  for (const text of texts) {
    const id = `m-${text}`;
    client.send({ type: 'send', conv, id, text });
    await client.next((f) => f.type === 'ack' && f.id === id);
  }
}

describe('ops - health and readiness (SQLite, no bus)', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('ops - /healthz reports the store and the bus; /readyz is ready; HEAD answers both', async () => {
    const health = await getJson(`${relay.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual({ ...health.body, connections: undefined }, { status: 'ok', store: 'ok', bus: 'local', connections: undefined });
    assert.deepEqual(await getJson(`${relay.httpUrl}/readyz`), { status: 200, body: { status: 'ready' } });
    for (const path of ['/healthz', '/readyz']) {
      const head = await fetch(`${relay.httpUrl}${path}`, { method: 'HEAD' });
      assert.equal(head.status, 200, path);
      assert.equal(await head.text(), '');
    }
  });
});

describe('ops - /healthz with PostgreSQL going away', () => {
  let pg: PostgresServer;
  let relay: RelayProcess;
  before(async () => {
    pg = await startPostgres({ fast: true });
    relay = await startRelay({ env: { DATABASE_URL: await pg.createDatabase() } });
  });
  after(async () => {
    await relay?.dispose();
    await pg?.dispose();
  });

  test('ops - /healthz answers 503 (store unreachable) while PostgreSQL is down and 200 once it is back', async () => {
    assert.equal((await getJson(`${relay.httpUrl}/healthz`)).status, 200);
    await pg.stop();
    const down = await waitFor('healthz with the database down', () => getJson(`${relay.httpUrl}/healthz`), (r) => r.status === 503);
    assert.deepEqual({ ...down.body, connections: undefined }, { status: 'unavailable', store: 'unreachable', bus: 'local', connections: undefined });
    // The relay itself is not shutting down: still ready for a load balancer that only asks /readyz.
    assert.equal((await getJson(`${relay.httpUrl}/readyz`)).status, 200);
    await pg.start();
    await waitFor('healthz with the database back', () => getJson(`${relay.httpUrl}/healthz`), (r) => r.status === 200, 30_000);
  });
});

describe('ops - /healthz with NATS going away', () => {
  let nats: NatsServer;
  let relay: RelayProcess;
  before(async () => {
    nats = await startNats();
    relay = await startRelay({ env: { NATS_URL: nats.url } });
  });
  after(async () => {
    await relay?.dispose();
    await nats?.dispose();
  });

  test('ops - the bus state shows in /healthz (connected, disconnected, connected again) and a bus outage is not a 503', async () => {
    const health = () => getJson(`${relay.httpUrl}/healthz`);
    assert.equal((await health()).body?.bus, 'connected');
    await nats.stop();
    const down = await waitFor('bus disconnected', health, (r) => r.body?.bus === 'disconnected');
    assert.equal(down.status, 200);
    assert.equal(down.body?.store, 'ok');
    await nats.start();
    await waitFor('bus connected again', health, (r) => r.body?.bus === 'connected', 30_000);
  });
});

describe('ops - backup and restore of the SQLite store', () => {
  let relay: RelayProcess;
  let restored: RelayProcess | undefined;
  let dir: string;
  before(async () => {
    relay = await startRelay();
    dir = await mkdtemp(join(tmpdir(), 'chat-backup-test-'));
  });
  after(async () => {
    await restored?.dispose();
    await relay.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const backup = (args: string[], dataDir: string) =>
    run(process.execPath, ['--import', 'tsx', 'relay/backup.ts', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '' } });

  test('ops - a backup taken while the relay runs restores into a relay that serves every message', async () => {
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const joined = await alice.join('backup');
    await sendAll(alice, 'backup', ['one', 'two', 'three']);
    const copy = join(dir, 'chat-backup.db');
    const { stdout } = await backup([copy], relay.dataDir);
    assert.match(stdout, /backup written to .*integrity ok/);
    // Written after the backup: must not be in the copy.
    await sendAll(alice, 'backup', ['after']);
    alice.close();
    await relay.stop();

    const restoreDir = join(dir, 'restored');
    await run('mkdir', ['-p', restoreDir]);
    await copyFile(copy, join(restoreDir, 'chat.db'));
    restored = await startRelay({ dataDir: restoreDir });
    const bob = await TestClient.login(restored.wsUrl, { user: 'bob' });
    const again = await bob.join('backup', { after: 0 });
    // The same store's life: a client's cache from before stays valid (no reset).
    assert.equal(again.epoch, joined.epoch);
    assert.equal(again.head, 3);
    await bob.until((frames) => frames.filter((f) => f.type === 'msg').length === 3);
    assert.deepEqual(bob.messages('backup').map((m) => [m.seq, m.text]), [[1, 'one'], [2, 'two'], [3, 'three']]);
    // And it takes new messages after the restored ones.
    bob.send({ type: 'send', conv: 'backup', id: 'm-new', text: 'new' });
    const ack = await bob.next((f) => f.type === 'ack' && f.id === 'm-new');
    assert.equal(ack.type === 'ack' && ack.seq, 4);
    bob.close();
  });

  test('ops - backup refuses to overwrite a file, a missing store, and a missing directory, with a reason', async () => {
    const existing = join(dir, 'existing.db');
    await writeFile(existing, 'keep me');
    await assert.rejects(backup([existing], relay.dataDir), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /exists; pass --force/);
      return true;
    });
    await assert.rejects(backup([join(dir, 'x.db')], join(dir, 'no-such-data-dir')), (error: { stderr: string }) => /no SQLite store/.test(error.stderr));
    await assert.rejects(backup([join(dir, 'missing', 'x.db')], relay.dataDir), (error: { stderr: string }) => /does not exist/.test(error.stderr));
    await assert.rejects(backup([], relay.dataDir), (error: { code: number; stderr: string }) => error.code === 2 && /usage/.test(error.stderr));
  });
});

describe('ops - widget chunks at /chat-room/<name>', () => {
  let relay: RelayProcess;
  let dir: string;
  const chunk = 'export const full = "the lazily loaded part";\n'.repeat(20);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-chunks-test-'));
    await writeFile(join(dir, 'chat-room.js'), 'import("./chat-room/full-3f9a1c.js");\n');
    await mkdir(join(dir, 'chat-room'));
    await writeFile(join(dir, 'chat-room', 'full-3f9a1c.js'), chunk);
    await writeFile(join(dir, 'chat-room', 'full-3f9a1c.js.map'), '{"version":3}');
    await writeFile(join(dir, 'secret.js'), 'not for the world');
    await writeFile(join(dir, 'chat-room', 'notes.txt'), 'not a chunk');
    relay = await startRelay({ env: { WIDGET_BUNDLE: join(dir, 'chat-room.js') } });
  });
  after(async () => {
    await relay.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('ops - a chunk is served for any origin, cached for good, gzipped when accepted, 304 on its ETag; HEAD too', async () => {
    const response = await fetch(`${relay.httpUrl}/chat-room/full-3f9a1c.js`, { headers: { origin: 'https://shop.example' } });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), chunk);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
    const etag = response.headers.get('etag');
    assert.ok(etag);
    const raw = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ get }) =>
        get(`${relay.httpUrl}/chat-room/full-3f9a1c.js`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(parts) }));
        }).on('error', reject),
      );
    });
    assert.equal(raw.encoding, 'gzip');
    assert.equal(gunzipSync(raw.body).toString(), chunk);
    assert.equal((await fetch(`${relay.httpUrl}/chat-room/full-3f9a1c.js`, { headers: { 'if-none-match': etag } })).status, 304);
    const head = await fetch(`${relay.httpUrl}/chat-room/full-3f9a1c.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const map = await fetch(`${relay.httpUrl}/chat-room/full-3f9a1c.js.map`);
    assert.equal(map.status, 200);
    assert.equal(map.headers.get('content-type'), 'application/json');
  });

  test('ops - nothing but chunk files of that folder: other names, traversal and missing files are 404', async () => {
    for (const name of ['notes.txt', '..%2Fsecret.js', '%2e%2e%2fsecret.js', 'missing-000000.js', '.hidden.js', 'full-3f9a1c.js%00']) {
      const response = await fetch(`${relay.httpUrl}/chat-room/${name}`);
      assert.equal(response.status, 404, name);
      assert.doesNotMatch(await response.text(), /not for the world|not a chunk/);
    }
    assert.equal((await fetch(`${relay.httpUrl}/chat-room/../secret.js`)).status, 404);
  });
});
