import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startRelay, type RelayProcess } from '../harness.js';
import { exchange, openRequest, within } from './http-support.js';

/** Stored files (not counting the temp dirs). */
async function stored(relay: RelayProcess): Promise<string[]> {
  return (await readdir(join(relay.dataDir, 'files')).catch(() => [])).filter((entry) => entry !== 'tmp');
}

describe('framing - ambiguous request bodies (RFC 9112 6.3)', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('framing - two Content-Length headers: 400 and the connection closed, nothing stored', async () => {
    const before = await stored(relay);
    const upload = await exchange(
      relay.port,
      'POST /upload?conv=c1 HTTP/1.1\r\nHost: x\r\nX-Chat-User: alice\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
    );
    assert.equal(upload.responses[0]?.status, 400);
    assert.match(upload.responses[0]?.body.toString() ?? '', /Content-Length/);
    assert.equal(upload.closed, true);
    assert.deepEqual(await stored(relay), before);

    const get = await exchange(relay.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n');
    assert.equal(get.responses[0]?.status, 400, 'repeated even with equal values, on any route');
    assert.equal(get.closed, true);
    const head = await exchange(relay.port, 'HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n', { heads: [true] });
    assert.equal(head.responses[0]?.status, 400);
    assert.equal(head.closed, true);
  });

  test('framing - a request smuggled behind two Content-Length headers is never served, and the connection is closed', async () => {
    const before = await stored(relay);
    // uWS frames the first body by the first header (3 bytes); a proxy in front may use the
    // last one (the whole rest), and never see the upload hidden in it.
    const smuggled = 'POST /upload?conv=c1 HTTP/1.1\r\nHost: x\r\nX-Chat-User: mallory\r\nContent-Length: 5\r\n\r\nhello';
    const result = await exchange(
      relay.port,
      `POST /upload?conv=c1 HTTP/1.1\r\nHost: x\r\nX-Chat-User: alice\r\nContent-Length: 3\r\nContent-Length: ${3 + smuggled.length}\r\n\r\nabc${smuggled}`,
    );
    assert.deepEqual(result.responses.map((r) => r.status).filter((s) => s !== 400), [], 'nothing but a 400 is answered');
    assert.equal(result.closed, true);
    assert.deepEqual(await stored(relay), before, 'the smuggled upload was not stored');
  });

  test('framing - Content-Length with Transfer-Encoding: refused, never processed (uWS closes before routing)', async () => {
    const before = await stored(relay);
    const result = await exchange(
      relay.port,
      'POST /upload?conv=c1 HTTP/1.1\r\nHost: x\r\nX-Chat-User: alice\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    assert.equal(result.closed, true);
    assert.ok(result.responses.every((r) => r.status === 400), `answers: ${result.responses.map((r) => r.status).join()}`);
    assert.deepEqual(await stored(relay), before);
  });
});

describe('HEAD - answered wherever GET is', () => {
  let relay: RelayProcess;
  let dir: string;
  let fileUrl: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-bundle-'));
    const bundle = join(dir, 'chat-room.js');
    await writeFile(bundle, `export const marker = ${JSON.stringify('y'.repeat(3000))};\n`);
    relay = await startRelay({ env: { WIDGET_BUNDLE: bundle } });
    const created = await fetch(`${relay.httpUrl}/upload?conv=c1`, {
      method: 'POST',
      body: new Uint8Array(randomBytes(5000)),
      headers: { 'X-Chat-User': 'alice', 'Content-Type': 'application/pdf', 'X-File-Name': 'a.pdf' },
    });
    fileUrl = ((await created.json()) as { url: string }).url;
  });
  after(async () => {
    await relay.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const volatile = new Set(['date']);

  for (const [path, extra] of [
    ['/healthz', ''],
    ['/chat-room.js', 'Accept-Encoding: identity\r\n'],
    ['/chat-room.js', 'Accept-Encoding: gzip\r\n'],
    ['FILE', ''],
    ['/', ''],
    ['/embed.html', ''],
  ] as const) {
    test(`HEAD - ${path} ${extra.trim()}: GET's status and headers (Content-Length included), no body, connection reusable`, async () => {
      const target = path === 'FILE' ? fileUrl : path;
      const get = await exchange(relay.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);
      const response = get.responses[0]!;
      assert.equal(response.status, 200);
      // HEAD, then a GET on the same connection: a body after the HEAD answer would corrupt the second.
      // (Not pipelined: uWS drops a connection whose next request arrives before an async answer.)
      const connection = await openRequest(relay.port, `HEAD ${target} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`);
      const headAnswer = await within(connection.next(true), 5000, null);
      assert.equal(headAnswer?.status, 200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(connection.pending().length, 0, 'no body after the HEAD answer');
      connection.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      const next = await within(connection.next(), 5000, null);
      connection.socket.destroy();
      const strip = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).filter(([k]) => !volatile.has(k)));
      assert.deepEqual(strip(headAnswer.headers), strip(response.headers));
      assert.equal(headAnswer.headers['content-length'], String(response.body.length));
      assert.equal(next?.status, 200, 'the next request on the connection is answered');
      assert.match(next.body.toString(), /"status":"ok"/);
    });
  }

  test('HEAD - an unknown file is 404 without a body', async () => {
    const head = await exchange(relay.port, 'HEAD /files/abcdefghijklmnopqrstuv HTTP/1.1\r\nHost: x\r\n\r\n', { heads: [true] });
    assert.equal(head.responses[0]?.status, 404);
    assert.equal(head.trailing.length, 0);
  });
});

describe('tokens - an oversized Authorization header', () => {
  const secret = 'framing-secret-framing-secret-12';
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_JWT_SECRET: secret, ALLOWED_ORIGINS: 'https://site.example' } });
  });
  after(() => relay.dispose());

  for (const length of [8193, 20_000]) {
    test(`tokens - a ${length}-character bearer token on /upload: a clean 401 with CORS headers, the body drained, the connection kept`, async () => {
      const body = randomBytes(100_000);
      // The headers in one write, as browsers and node send them (see the next test for why).
      const connection = await openRequest(
        relay.port,
        `POST /upload?conv=c1 HTTP/1.1\r\nHost: x\r\nOrigin: https://site.example\r\nAuthorization: Bearer ${'a'.repeat(length)}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
      );
      connection.socket.write(body);
      const refused = await within(connection.next(), 5000, null);
      // The next request only after the answer: uWS drops a connection that pipelines behind an asynchronous one.
      connection.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      const next = await within(connection.next(), 5000, null);
      connection.socket.destroy();
      assert.equal(refused?.status, 401);
      assert.equal(refused.headers['access-control-allow-origin'], 'https://site.example');
      assert.match(JSON.parse(refused.body.toString()).error, /longer than 8192/);
      assert.equal(next?.status, 200, 'the body was read and the connection serves the next request');
    });
  }

  test(
    'tokens - headers over 4 KiB that arrive in two reads still get an answer',
    { todo: 'uWS 20.30 buffers at most 4 KiB of headers across reads (a fixed MAX_FALLBACK_SIZE; UWS_HTTP_MAX_HEADERS_SIZE is not read by this build) and closes the connection without answering' },
    async () => {
      const connection = await openRequest(relay.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(5000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      connection.socket.write('\r\n\r\n');
      const answer = await within(connection.next(), 2000, null);
      connection.socket.destroy();
      assert.equal(answer?.status, 200);
    },
  );
});
