import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRelay, type RelayProcess } from '../harness.js';
import { exchange, openRequest, within } from './http-support.js';

const MiB = 1024 * 1024;

/** Everything under DATA_DIR/files, temp dirs included, as relative paths. */
async function listFiles(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'files');
  const out: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else out.push(`${prefix}${entry.name}`);
    }
  };
  await walk(root, '');
  return out.sort();
}

function uploadHead(length: number): string {
  return `POST /upload?conv=c1 HTTP/1.1\r\nHost: x\r\nX-Chat-User: alice\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;
}

/** Sends an upload of `size` random bytes as fast as the relay takes them; the answer or null (closed / nothing within 8 s). */
async function upload(port: number, size: number) {
  const { socket, next } = await openRequest(port, uploadHead(size));
  const response = next();
  const body = randomBytes(size);
  for (let offset = 0; offset < size && !socket.destroyed; offset += 64 * 1024) {
    if (!socket.write(body.subarray(offset, offset + 64 * 1024))) {
      const outcome = await within(
        new Promise<string>((resolve) => {
          socket.once('drain', () => resolve('drain'));
          void response.then(() => resolve('answered'));
        }),
        8000,
        'stalled',
      );
      if (outcome !== 'drain') break;
    }
  }
  const answer = await within(response, 8000, null);
  socket.destroy();
  return answer;
}

const canMount = (() => {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  const probe = spawnSync('sh', ['-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d"; r=$?; rmdir "$d"; exit $r']);
  return probe.status === 0 ? true : `cannot mount a tmpfs here (needs root and mount rights): ${probe.stderr.toString().trim()}`;
})();

describe('uploads - a full disk (a real 256 KiB tmpfs as DATA_DIR/files)', { skip: canMount === true ? false : canMount }, () => {
  let dataDir: string;
  let filesDir: string;
  let relay: RelayProcess;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'chat-enospc-'));
    filesDir = join(dataDir, 'files');
    await mkdir(filesDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', filesDir]);
    relay = await startRelay({ dataDir, env: { MAX_UPLOAD_BYTES: String(32 * MiB) } });
  });
  after(async () => {
    await relay?.dispose();
    spawnSync('umount', [filesDir]);
    await rm(dataDir, { recursive: true, force: true });
  });

  const free = async () => {
    const fs = await statfs(filesDir);
    return fs.bavail * fs.bsize;
  };

  test('uploads - ENOSPC mid-body: 507 at once, the partial file removed, logged, and the relay still takes uploads', async () => {
    const before = await listFiles(dataDir);
    const freeBefore = await free();
    const started = Date.now();
    // The whole body, then another request on the same connection.
    const { socket, next } = await openRequest(relay.port, uploadHead(MiB));
    socket.write(randomBytes(MiB));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const answer = await within(next(), 8000, null);
    assert.ok(answer, 'the relay answered (before the fix it paused the request forever)');
    assert.equal(answer.status, 507);
    assert.match(JSON.parse(answer.body.toString()).error, /storage|space/i);
    assert.ok(Date.now() - started < 5000);
    assert.equal((await within(next(), 5000, null))?.status, 200, 'the rest of the body was read and the connection serves the next request');
    socket.destroy();
    assert.deepEqual(await listFiles(dataDir), before, 'nothing left behind');
    assert.equal(await free(), freeBefore, 'the disk space is given back');
    assert.ok(relay.logs.some((line) => /ENOSPC/.test(line) && /"level":50/.test(line)), 'the failure is logged as an error');
    const small = await upload(relay.port, 10_000);
    assert.equal(small?.status, 201);
  });

  test('uploads - ENOSPC early in a 20 MiB upload: 507 at once, long before the body ends', async () => {
    const before = await listFiles(dataDir);
    const started = Date.now();
    const answer = await upload(relay.port, 20 * MiB);
    assert.equal(answer?.status, 507);
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(await listFiles(dataDir), before);
  });

  test('uploads - the data fits but its metadata does not: 507, and neither a meta without data nor data without meta', async () => {
    const before = await listFiles(dataDir);
    // Exactly the free space: the bytes fit, the metadata needs one more block.
    const answer = await upload(relay.port, await free());
    assert.deepEqual({ status: answer?.status, files: await listFiles(dataDir) }, { status: 507, files: before });
    for (const name of await readdir(filesDir)) {
      if (name.endsWith('.json')) assert.ok((await stat(join(filesDir, name))).size > 0, `${name} is not empty`);
    }
  });
});

describe('uploads - other write errors', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { MAX_UPLOAD_BYTES: String(8 * MiB) } });
  });
  after(() => relay.dispose());

  test('uploads - EMFILE when opening the temp file: 500 at once, nothing left, the relay recovers', async (t) => {
    const pid = relay.child.pid!;
    const before = await listFiles(relay.dataDir);
    // The connection is accepted (and served once) first; then the relay may open no further file.
    const { socket, next } = await openRequest(relay.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await next())?.status, 200);
    const fds = new Set((await readdir(`/proc/${pid}/fd`)).map(Number));
    let lowestFree = 0;
    while (fds.has(lowestFree)) lowestFree++;
    const original = spawnSync('prlimit', [`--pid=${pid}`, '--nofile', '--output=SOFT', '--noheadings']).stdout.toString().trim();
    const limit = spawnSync('prlimit', [`--pid=${pid}`, `--nofile=${lowestFree}:`]);
    if (limit.status !== 0) return t.skip(`prlimit failed: ${limit.stderr.toString().trim()}`);
    let answer;
    try {
      socket.write(uploadHead(1 * MiB));
      socket.write(randomBytes(1 * MiB));
      answer = await within(next(), 5000, null);
    } finally {
      spawnSync('prlimit', [`--pid=${pid}`, `--nofile=${original}:`]);
      socket.destroy();
    }
    assert.ok(answer, 'the relay answered (before the fix the request stayed paused forever)');
    assert.equal(answer.status, 500);
    assert.deepEqual(await listFiles(relay.dataDir), before);
    assert.ok(relay.logs.some((line) => /EMFILE/.test(line)), 'the failure is logged');
    assert.equal((await upload(relay.port, 10_000))?.status, 201);
  });
});

test('uploads - SIGKILL mid-upload, restart on the same DATA_DIR: the partial temp file is gone at once', async () => {
  const relay = await startRelay({ env: { MAX_UPLOAD_BYTES: String(8 * MiB) } });
  let restarted: RelayProcess | undefined;
  try {
    const { socket } = await openRequest(relay.port, uploadHead(4 * MiB));
    socket.write(randomBytes(MiB));
    const tmpRoot = join(relay.dataDir, 'files', 'tmp');
    const deadline = Date.now() + 5000;
    while (!(await listFiles(relay.dataDir)).some((f) => f.startsWith('tmp/'))) {
      if (Date.now() > deadline) assert.fail('the partial upload never reached the temp dir');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await relay.kill();
    socket.destroy();
    const [dead] = await readdir(tmpRoot);
    restarted = await relay.restart();
    const left = await listFiles(relay.dataDir);
    assert.deepEqual(left, [], `left after the restart: ${left.join(', ')}`);
    assert.ok(!(await readdir(tmpRoot)).includes(dead!), 'the dead process temp dir is removed');
  } finally {
    await restarted?.dispose();
    await relay.dispose();
  }
});

test('uploads - a healthy upload after all this: 201 and byte-exact', async () => {
  const relay = await startRelay();
  try {
    const body = randomBytes(300_000);
    const result = await exchange(relay.port, [uploadHead(body.length), body], { count: 1 });
    assert.equal(result.responses[0]?.status, 201);
    const { url } = JSON.parse(result.responses[0]!.body.toString()) as { url: string };
    const download = Buffer.from(await (await fetch(`${relay.httpUrl}${url}`)).arrayBuffer());
    assert.ok(download.equals(body));
  } finally {
    await relay.dispose();
  }
});
