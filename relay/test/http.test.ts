import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { JwtVerifier } from '../auth/jwt.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const LIMIT = 512 * 1024;

async function upload(relay: RelayProcess, conv: string, body: Buffer, headers: Record<string, string>) {
  const response = await fetch(`${relay.httpUrl}/upload?conv=${encodeURIComponent(conv)}`, { method: 'POST', body: new Uint8Array(body), headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

/** Stored files (not counting the temp dir), to prove a refused upload left nothing behind. */
async function storedFiles(relay: RelayProcess): Promise<string[]> {
  const dir = join(relay.dataDir, 'files');
  const entries = await readdir(dir).catch(() => []);
  const tmp: string[] = [];
  for (const processDir of await readdir(join(dir, 'tmp')).catch(() => [])) {
    for (const file of await readdir(join(dir, 'tmp', processDir))) tmp.push(`tmp/${processDir}/${file}`);
  }
  return [...entries.filter((e) => e !== 'tmp'), ...tmp];
}

/** A chunked upload with no Content-Length, so the limit must be enforced while streaming. */
function chunkedUpload(relay: RelayProcess, conv: string, total: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${relay.httpUrl}/upload?conv=${conv}`, {
      method: 'POST',
      headers: { 'Transfer-Encoding': 'chunked', 'X-Chat-User': 'alice', 'Content-Type': 'application/octet-stream' },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        const chunk = randomBytes(Math.min(64 * 1024, total - sent));
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('uploads - open mode', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { MAX_UPLOAD_BYTES: String(LIMIT) } });
  });
  after(() => relay.dispose());

  test('upload - round trip byte for byte, with the headers PROTOCOL.md names', async () => {
    const bytes = randomBytes(300 * 1024);
    const name = 'résumé final (2).pdf';
    const created = await upload(relay, 'files-1', bytes, {
      'X-Chat-User': 'alice',
      'X-File-Name': encodeURIComponent(name),
      'Content-Type': 'application/pdf',
    });
    assert.equal(created.status, 201);
    assert.deepEqual({ ...created.body, url: undefined }, { url: undefined, name, size: bytes.length, type: 'application/pdf' });
    assert.match(String(created.body['url']), /^\/files\/[A-Za-z0-9_-]{22}$/);
    const download = await fetch(`${relay.httpUrl}${created.body['url']}`);
    assert.equal(download.status, 200);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(bytes));
    assert.equal(download.headers.get('content-type'), 'application/pdf');
    assert.equal(download.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(download.headers.get('content-security-policy'), 'sandbox');
    assert.match(download.headers.get('content-disposition') ?? '', /^attachment; filename\*=UTF-8''r%C3%A9sum%C3%A9/);
  });

  test('upload - images are served inline; unknown or hostile types become downloads', async () => {
    const png = await upload(relay, 'files-1', randomBytes(100), { 'X-Chat-User': 'alice', 'X-File-Name': 'a.png', 'Content-Type': 'image/png' });
    const image = await fetch(`${relay.httpUrl}${png.body['url']}`);
    assert.match(image.headers.get('content-disposition') ?? '', /^inline/);
    const svg = await upload(relay, 'files-1', Buffer.from('<svg onload="alert(1)"/>'), { 'X-Chat-User': 'alice', 'X-File-Name': 'x.svg', 'Content-Type': 'image/svg+xml' });
    const vector = await fetch(`${relay.httpUrl}${svg.body['url']}`);
    assert.match(vector.headers.get('content-disposition') ?? '', /^attachment/);
    const odd = await upload(relay, 'files-1', randomBytes(10), { 'X-Chat-User': 'alice', 'Content-Type': 'not a type <script>' });
    assert.equal(odd.body['type'], 'application/octet-stream');
    assert.equal(odd.body['name'], 'file');
  });

  test('upload - names cannot become paths; ids cannot be traversed', async () => {
    const created = await upload(relay, 'files-1', randomBytes(10), { 'X-Chat-User': 'alice', 'X-File-Name': encodeURIComponent('../../chat.db') });
    assert.equal(created.status, 201);
    assert.equal(created.body['name'], '.._.._chat.db');
    for (const path of ['/files/..%2Fchat.db', '/files/%2e%2e', '/files/..', '/files/chat.db', '/files/abc', '/files/tmp']) {
      // Raw request: fetch would normalise dot segments away before sending.
      const status = await new Promise<number>((resolve, reject) => {
        request(`${relay.httpUrl}/`, { path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on('error', reject)
          .end();
      });
      assert.equal(status, 404, path);
    }
  });

  test('upload - over the limit by Content-Length: 413 and nothing stored', async () => {
    const before = await storedFiles(relay);
    const refused = await upload(relay, 'files-2', randomBytes(LIMIT + 1), { 'X-Chat-User': 'alice' });
    assert.equal(refused.status, 413);
    assert.match(String(refused.body['error']), /larger than/);
    assert.deepEqual(await storedFiles(relay), before);
  });

  test('upload - over the limit while streaming (chunked): 413 and the partial file removed', async () => {
    const before = await storedFiles(relay);
    assert.equal(await chunkedUpload(relay, 'files-3', LIMIT * 3), 413);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await storedFiles(relay), before);
    assert.equal(await chunkedUpload(relay, 'files-3', 1000), 201, 'a small chunked upload works');
  });

  test('upload - no user header is 401; a bad conv is 400', async () => {
    assert.equal((await upload(relay, 'files-1', randomBytes(10), {})).status, 401);
    assert.equal((await upload(relay, 'bad conv!', randomBytes(10), { 'X-Chat-User': 'alice' })).status, 400);
  });

  test('CORS - preflight answers the headers the widget sends', async () => {
    const response = await fetch(`${relay.httpUrl}/upload`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://site.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-file-name' },
    });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    for (const header of ['Authorization', 'X-File-Name', 'X-Chat-User', 'Content-Type']) {
      assert.match(response.headers.get('access-control-allow-headers') ?? '', new RegExp(header));
    }
    const files = await fetch(`${relay.httpUrl}/files/abcdefghijklmnopqrstuv`, { method: 'OPTIONS', headers: { Origin: 'https://site.example' } });
    assert.equal(files.status, 204);
  });
});

describe('uploads - token mode and origins', () => {
  const secret = 'upload-secret-upload-secret-1234';
  const auth = new JwtVerifier(secret);
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_JWT_SECRET: secret, ALLOWED_ORIGINS: 'https://allowed.example' } });
  });
  after(() => relay.dispose());

  test('upload - bearer token required (401), conversation must be allowed (403)', async () => {
    const token = await auth.sign({ sub: 'alice', convs: ['team-*'] });
    const ok = await upload(relay, 'team-1', randomBytes(64), { Authorization: `Bearer ${token}` });
    assert.equal(ok.status, 201);
    assert.equal((await upload(relay, 'team-1', randomBytes(64), {})).status, 401);
    assert.equal((await upload(relay, 'team-1', randomBytes(64), { Authorization: 'Bearer nope' })).status, 401);
    assert.equal((await upload(relay, 'team-1', randomBytes(64), { 'X-Chat-User': 'alice' })).status, 401);
    const expired = await auth.sign({ sub: 'alice', convs: ['*'] }, Math.floor(Date.now() / 1000) - 5);
    assert.equal((await upload(relay, 'team-1', randomBytes(64), { Authorization: `Bearer ${expired}` })).status, 401);
    const forbidden = await upload(relay, 'other', randomBytes(64), { Authorization: `Bearer ${token}` });
    assert.equal(forbidden.status, 403);
    const [processDir, ...others] = await readdir(join(relay.dataDir, 'files', 'tmp'));
    assert.deepEqual(others, []);
    assert.deepEqual(await readdir(join(relay.dataDir, 'files', 'tmp', processDir!)), []);
  });

  test('CORS - allow-list applies to preflight, upload and the WebSocket upgrade', async () => {
    const allowed = await fetch(`${relay.httpUrl}/upload`, { method: 'OPTIONS', headers: { Origin: 'https://allowed.example' } });
    assert.equal(allowed.status, 204);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://allowed.example');
    const denied = await fetch(`${relay.httpUrl}/upload`, { method: 'OPTIONS', headers: { Origin: 'https://denied.example' } });
    assert.equal(denied.status, 403);
    const token = await auth.sign({ sub: 'alice', convs: ['*'] });
    const post = await upload(relay, 'x', randomBytes(10), { Authorization: `Bearer ${token}`, Origin: 'https://denied.example' });
    assert.equal(post.status, 403);
  });
});

describe('http', () => {
  let relay: RelayProcess;
  let dir: string;
  let bundlePath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-bundle-'));
    bundlePath = join(dir, 'chat-room.js');
    await writeFile(bundlePath, `export const marker = ${JSON.stringify('x'.repeat(2000))};\n`);
    relay = await startRelay({ env: { WIDGET_BUNDLE: bundlePath } });
  });
  after(async () => {
    await relay.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('healthz - 200 once the relay accepts connections', async () => {
    const response = await fetch(`${relay.httpUrl}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { status: string }).status, 'ok');
  });

  test('chat-room.js - served as a CORS-enabled module with ETag, gzip and 304', async () => {
    const plain = await fetch(`${relay.httpUrl}/chat-room.js`, { headers: { 'Accept-Encoding': 'identity' } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('access-control-allow-origin'), '*');
    assert.match(plain.headers.get('content-type') ?? '', /javascript/);
    assert.match(plain.headers.get('cache-control') ?? '', /max-age/);
    const etag = plain.headers.get('etag');
    assert.ok(etag);
    const text = await plain.text();
    assert.match(text, /export const marker/);
    const zipped = await new Promise<Buffer>((resolve, reject) => {
      request(`${relay.httpUrl}/chat-room.js`, { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
        assert.equal(res.headers['content-encoding'], 'gzip');
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(gunzipSync(zipped).toString(), text);
    assert.ok(zipped.length < Buffer.byteLength(text));
    const cached = await fetch(`${relay.httpUrl}/chat-room.js`, { headers: { 'If-None-Match': etag } });
    assert.equal(cached.status, 304);
  });

  test('demo - / serves the demo page; unknown paths are 404', async () => {
    const page = await fetch(`${relay.httpUrl}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal((await fetch(`${relay.httpUrl}/nope`)).status, 404);
    assert.equal((await fetch(`${relay.httpUrl}/nope`, { method: 'DELETE' })).status, 404);
  });

  test('websocket - still answers while HTTP traffic flows', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'mixed' });
    client.send({ type: 'ping', ref: 1 });
    await client.next((f) => f.type === 'pong');
    client.close();
  });
});
