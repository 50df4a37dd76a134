import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { FileStore, isOutOfSpace, UploadTooLargeError } from './store.js';

const META = { name: 'a.pdf', type: 'application/pdf', conv: 'c1', uploader: 'alice' };

async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'chat-files-'));
}

/** Everything under DATA_DIR/files, temp dirs' contents included. */
async function allFiles(dataDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else out.push(`${prefix}${entry.name}`);
    }
  };
  await walk(join(dataDir, 'files'), '');
  return out.sort();
}

/** A write stream that fails like a full disk after `okBytes`. */
function failingStream(okBytes: number, code = 'ENOSPC'): Writable {
  let written = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      if (written <= okBytes) return callback();
      callback(Object.assign(new Error(`${code}: simulated`), { code }));
    },
  });
}

describe('files - store', () => {
  let dataDir: string;
  let files: FileStore;
  before(async () => {
    dataDir = await tempDataDir();
    files = new FileStore(dataDir);
    await files.init();
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  test('files - a committed upload is its bytes and its metadata, nothing in the temp dir', async () => {
    const writer = files.begin(META, 1000);
    const bytes = randomBytes(600);
    writer.write(bytes);
    const ref = await writer.commit();
    assert.deepEqual(ref, { url: `/files/${writer.id}`, name: 'a.pdf', size: 600, type: 'application/pdf' });
    assert.ok((await readFile(files.dataPath(writer.id))).equals(bytes));
    const listed = await allFiles(dataDir);
    assert.deepEqual(listed, [writer.id, `${writer.id}.json`].sort());
    assert.deepEqual(await files.describe(ref.url), { name: 'a.pdf', type: 'application/pdf', size: 600, conv: 'c1', uploader: 'alice' });
  });

  test('files - over the limit throws while writing; abort leaves nothing', async () => {
    const writer = files.begin(META, 10);
    assert.throws(() => writer.write(randomBytes(11)), UploadTooLargeError);
    await writer.abort();
    assert.equal((await allFiles(dataDir)).filter((f) => f.includes(writer.id)).length, 0);
  });

  test('files - the metadata cannot be put in place: the commit fails and the bytes are removed too', async () => {
    const writer = files.begin(META, 1000);
    writer.write(randomBytes(100));
    // A directory where the metadata goes: the last rename fails.
    await mkdir(files.metaPath(writer.id));
    await assert.rejects(writer.commit());
    await rm(files.metaPath(writer.id), { recursive: true });
    assert.deepEqual((await allFiles(dataDir)).filter((f) => f.includes(writer.id)), []);
    assert.equal(await files.lookup(writer.id), null);
  });
});

describe('files - write errors', () => {
  test('files - a write error is reported once; later writes are ignored and commit rejects with it', async () => {
    const dataDir = await tempDataDir();
    try {
      const files = new FileStore(dataDir, { createWriteStream: () => failingStream(100) });
      await files.init();
      const errors: Error[] = [];
      let reported = () => {};
      const wasReported = new Promise<void>((resolve) => (reported = resolve));
      const writer = files.begin(META, 10_000, (error) => {
        errors.push(error);
        reported();
      });
      writer.write(randomBytes(64));
      writer.write(randomBytes(64));
      await wasReported;
      assert.equal(writer.write(randomBytes(10)), true, 'writes after the failure are ignored');
      await assert.rejects(writer.commit(), /ENOSPC/);
      await writer.abort();
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(errors.length, 1);
      assert.equal(isOutOfSpace(errors[0]), true);
      assert.deepEqual(await allFiles(dataDir), []);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('files - an error while committing rejects the commit (not the error callback) and leaves nothing', async () => {
    const dataDir = await tempDataDir();
    try {
      const files = new FileStore(dataDir, {
        createWriteStream: () =>
          new Writable({
            write: (_chunk, _encoding, callback) => callback(),
            final: (callback) => callback(Object.assign(new Error('EIO: simulated'), { code: 'EIO' })),
          }),
      });
      await files.init();
      let callbacks = 0;
      const writer = files.begin(META, 1000, () => callbacks++);
      writer.write(randomBytes(10));
      await assert.rejects(writer.commit(), /EIO/);
      assert.equal(callbacks, 0);
      assert.deepEqual(await allFiles(dataDir), []);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('files - isOutOfSpace: ENOSPC and EDQUOT only', () => {
    assert.equal(isOutOfSpace(Object.assign(new Error('x'), { code: 'EDQUOT' })), true);
    assert.equal(isOutOfSpace(Object.assign(new Error('x'), { code: 'EMFILE' })), false);
    assert.equal(isOutOfSpace(null), false);
  });
});

describe('files - lookup and describe (the truth behind a /files/<id> reference)', () => {
  let dataDir: string;
  let files: FileStore;
  let id: string;
  before(async () => {
    dataDir = await tempDataDir();
    files = new FileStore(dataDir);
    await files.init();
    const writer = files.begin(META, 1000);
    writer.write(randomBytes(42));
    id = (await writer.commit()).url.slice('/files/'.length);
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  test('describe - a relay-issued URL: name, type, size, conv and uploader as stored', async () => {
    assert.deepEqual(await files.describe(`/files/${id}`), { name: 'a.pdf', type: 'application/pdf', size: 42, conv: 'c1', uploader: 'alice' });
  });

  test('describe - anything else is null', async () => {
    for (const url of [
      `files/${id}`,
      `/files/${id}/`,
      `/files/${id}.json`,
      `https://relay.example/files/${id}`,
      `/files/${id}?x=1`,
      '/files/../chat.db',
      '/files/tmp',
      '/files/abcdefghijklmnopqrstuv',
      '',
    ]) {
      assert.equal(await files.describe(url), null, url);
    }
  });

  async function withMeta(content: string | null, dataBytes: number | null): Promise<string> {
    const fake = randomBytes(16).toString('base64url');
    if (content !== null) await writeFile(files.metaPath(fake), content);
    if (dataBytes !== null) await writeFile(files.dataPath(fake), randomBytes(dataBytes));
    return fake;
  }

  test('lookup - metadata without its bytes, with bytes of another size, empty or malformed metadata: null', async () => {
    const good = JSON.stringify({ ...META, size: 5, createdAt: 1 });
    assert.notEqual(await files.lookup(await withMeta(good, 5)), null, 'the control case is found');
    assert.equal(await files.lookup(await withMeta(good, null)), null, 'no bytes');
    assert.equal(await files.lookup(await withMeta(good, 4)), null, 'truncated bytes');
    assert.equal(await files.lookup(await withMeta('', 5)), null, 'a 0-byte metadata file');
    assert.equal(await files.lookup(await withMeta('{"name":"x"}', 5)), null, 'fields missing');
    assert.equal(await files.lookup(await withMeta(JSON.stringify({ ...META, size: '5', createdAt: 1 }), 5)), null, 'size not a number');
    assert.equal(await files.lookup(await withMeta(null, 5)), null, 'bytes without metadata');
    assert.equal(await files.lookup('../chat.db'), null);
  });
});

describe('files - temp dirs of relays that are gone', () => {
  test('files - this host: removed when its process is gone (or had our pid), kept while alive; other hosts: after 24 h', async () => {
    const dataDir = await tempDataDir();
    try {
      const tmpRoot = join(dataDir, 'files', 'tmp');
      const host = hostname();
      const exited = spawnSync(process.execPath, ['-e', '0']).pid!;
      const dirs = {
        deadHere: `${host}-${exited}-0a0b0c0d`,
        aliveHere: `${host}-${process.ppid}-0a0b0c0d`,
        ourPidEarlierRun: `${host}-${process.pid}-0a0b0c0d`,
        otherHostFresh: `elsewhere-${exited}-0a0b0c0d`,
        otherHostOld: `elsewhere-${process.pid}-01020304`,
        strayOld: 'not-a-relay-dir',
      };
      for (const dir of Object.values(dirs)) {
        await mkdir(join(tmpRoot, dir), { recursive: true });
        await writeFile(join(tmpRoot, dir, 'partial'), randomBytes(10));
      }
      const old = new Date(Date.now() - 25 * 60 * 60 * 1000);
      await utimes(join(tmpRoot, dirs.otherHostOld), old, old);
      await utimes(join(tmpRoot, dirs.strayOld), old, old);

      const files = new FileStore(dataDir);
      await files.init();
      const left = new Set(await readdir(tmpRoot));
      assert.equal(left.has(dirs.deadHere), false, 'a dead process of this host');
      assert.equal(left.has(dirs.ourPidEarlierRun), false, 'an earlier process that had our pid (containers restart as pid 1)');
      assert.equal(left.has(dirs.otherHostOld), false, 'another host, untouched for a day');
      assert.equal(left.has(dirs.strayOld), false);
      assert.equal(left.has(dirs.aliveHere), true, 'a live relay of this host keeps its uploads in progress');
      assert.equal(left.has(dirs.otherHostFresh), true, 'another host: its process cannot be checked from here');
      assert.equal(left.size, 3, 'and our own');
      assert.ok((await stat(join(tmpRoot, dirs.aliveHere, 'partial'))).isFile());
      await files.close();
      assert.equal((await readdir(tmpRoot)).length, 2);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
