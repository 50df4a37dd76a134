/**
 * Defects 4 and 5 of the hardening issue: a token is valid until its `exp` and not a moment
 * longer (`exp` is mandatory, and no further away than MAX_TOKEN_TTL), it can be renewed on
 * the open socket with another `hello`, and a weak or empty secret refuses to start instead
 * of failing open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { CloseCode, ErrorCode } from '../../../protocol/index.js';
import { JwtVerifier } from '../../auth/jwt.js';
import { startRelay, TestClient, type RelayProcess } from '../harness.js';
import { isError } from './support.js';

const SECRET = 'attack-test-secret-of-at-least-32-bytes!';
const jwt = new JwtVerifier(SECRET);
const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

describe('attack - tokens past their expiry', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_JWT_SECRET: SECRET, MAX_TOKEN_TTL: '1h' } });
  });
  after(() => relay.dispose());

  test('exp - at expiry an open connection gets unauthorized "token expired" and close 4401', async () => {
    const client = await TestClient.login(relay.wsUrl, { token: await jwt.sign({ sub: 'alice', convs: ['*'] }, inSeconds(2)) });
    await client.join('c');
    client.send({ type: 'send', conv: 'c', id: 'before-exp', text: 'fine' });
    await client.next((f) => f.type === 'ack');
    const expired = await client.next(isError(ErrorCode.unauthorized), 5000);
    assert.match(expired.type === 'error' ? expired.message : '', /token expired/);
    assert.equal((await client.closed).code, CloseCode.unauthorized);
  });

  test('renewal - a hello with a fresh token before expiry keeps the connection, joined and live', async () => {
    const client = await TestClient.login(relay.wsUrl, { token: await jwt.sign({ sub: 'bob', convs: ['*'] }, inSeconds(2)) });
    await client.join('c');
    client.send({ type: 'hello', v: 1, token: await jwt.sign({ sub: 'bob', convs: ['*'] }, '30m'), ref: 'renew' });
    await client.next((f) => f.type === 'welcome' && f.ref === 'renew');
    await new Promise((resolve) => setTimeout(resolve, 3500));
    assert.ok(client.isOpen, 'still open past the first token\'s exp');
    client.send({ type: 'send', conv: 'c', id: 'after-renewal', text: 'still here' });
    await client.next((f) => f.type === 'ack' && f.id === 'after-renewal');
    client.close();
  });

  test('renewal - a token that narrows convs leaves the conversations it no longer allows', async () => {
    const client = await TestClient.login(relay.wsUrl, { token: await jwt.sign({ sub: 'carol', convs: ['a', 'b'] }, '10m') });
    await client.join('a');
    await client.join('b');
    client.send({ type: 'hello', v: 1, token: await jwt.sign({ sub: 'carol', convs: ['a'] }, '10m'), ref: 'narrow' });
    await client.next((f) => f.type === 'welcome' && f.ref === 'narrow');
    const left = await client.next(isError(ErrorCode.forbidden));
    assert.equal(left.type === 'error' && left.conv, 'b');
    client.send({ type: 'send', conv: 'b', id: 'nope', text: 'x', ref: 'sb' });
    const refused = await client.next((f) => 'ref' in f && f.ref === 'sb');
    assert.ok(refused.type === 'error' && refused.code === ErrorCode.notJoined);
    client.close();
  });

  test('exp - a token without exp, or expiring later than MAX_TOKEN_TTL, is refused with a clear reason', async () => {
    const key = new TextEncoder().encode(SECRET);
    const forever = await new SignJWT({ convs: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('dave').sign(key);
    const tooLong = await jwt.sign({ sub: 'dave', convs: ['*'] }, '3h');
    for (const [token, reason] of [[forever, /no exp/], [tooLong, /expires too late/]] as const) {
      const client = await TestClient.connect(relay.wsUrl);
      client.send({ type: 'hello', v: 1, token });
      const error = await client.next(isError(ErrorCode.unauthorized));
      assert.match(error.type === 'error' ? error.message : '', reason);
      assert.equal((await client.closed).code, CloseCode.unauthorized);
      const upload = await fetch(`${relay.httpUrl}/upload?conv=c`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: 'x' });
      assert.equal(upload.status, 401, 'uploads use the same rules');
    }
  });
});

describe('attack - weak secrets', () => {
  for (const [name, secret, message] of [
    ['set but empty', '', /set but empty/],
    ['one character', 'x', /at least 32/],
    ['31 bytes', 'a'.repeat(31), /at least 32/],
  ] as const) {
    test(`secret - ${name}: the relay refuses to start and says why`, async () => {
      await assert.rejects(startRelay({ env: { CHAT_JWT_SECRET: secret } }), message);
    });
  }

  test('secret - 32 bytes is enough; unset is open mode', async () => {
    const strict = await startRelay({ env: { CHAT_JWT_SECRET: 'b'.repeat(32) } });
    const open = await startRelay();
    try {
      const anonymous = await TestClient.login(strict.wsUrl, { user: 'alice' });
      assert.ok(anonymous.frames.some(isError(ErrorCode.unauthorized)));
      const named = await TestClient.login(open.wsUrl, { user: 'alice' });
      assert.ok(named.frames.some((f) => f.type === 'welcome'));
      named.close();
    } finally {
      await strict.dispose();
      await open.dispose();
    }
  });
});
