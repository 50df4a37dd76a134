import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { CloseCode, ErrorCode, type ServerFrame } from '../../protocol/index.js';
import { JwtVerifier } from '../auth/jwt.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const auth = new JwtVerifier(SECRET);
const isError = (code: string) => (f: ServerFrame) => f.type === 'error' && f.code === code;

describe('session - JWT mode', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_JWT_SECRET: SECRET, HELLO_TIMEOUT_MS: '800' } });
  });
  after(() => relay.dispose());

  test('hello - a valid token is welcomed as its sub and name', async () => {
    const token = await auth.sign({ sub: 'alice', name: 'Alice', convs: ['support-*'] });
    const client = await TestClient.connect(relay.wsUrl);
    client.send({ type: 'hello', v: 1, token, ref: 'h1' });
    const welcome = await client.next((f) => f.type === 'welcome');
    assert.deepEqual(welcome.type === 'welcome' && [welcome.user, welcome.ref, welcome.v], [{ id: 'alice', name: 'Alice' }, 'h1', 1]);
    client.close();
  });

  for (const [name, makeToken, reason] of [
    ['missing token', async () => undefined, /needs a token/],
    ['expired token', async () => auth.sign({ sub: 'alice', convs: ['*'] }, Math.floor(Date.now() / 1000) - 60), /expired/],
    ['wrong signature', async () => new JwtVerifier('another-secret-another-secret-123').sign({ sub: 'alice', convs: ['*'] }), /signature/],
    ['garbage token', async () => 'not.a.jwt', /rejected/],
    [
      'token without sub',
      async () => new SignJWT({ convs: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET)),
      /sub/,
    ],
  ] as const) {
    test(`hello - ${name} gets unauthorized and close 4401`, async () => {
      const client = await TestClient.connect(relay.wsUrl);
      client.send({ type: 'hello', v: 1, token: await makeToken(), ref: 7 });
      const error = await client.next(isError(ErrorCode.unauthorized));
      assert.ok(error.type === 'error');
      assert.match(error.message, reason);
      assert.equal(error.ref, 7);
      assert.equal((await client.closed).code, CloseCode.unauthorized);
    });
  }

  test('join - a conversation outside the token convs is forbidden; prefix patterns match', async () => {
    const token = await auth.sign({ sub: 'alice', convs: ['support-*', 'exact'] });
    const client = await TestClient.login(relay.wsUrl, { token });
    assert.equal((await client.join('support-42')).type, 'joined');
    assert.equal((await client.join('exact')).type, 'joined');
    client.send({ type: 'join', conv: 'sales-1', ref: 'f' });
    const error = await client.next(isError(ErrorCode.forbidden));
    assert.ok(error.type === 'error' && error.ref === 'f' && error.conv === 'sales-1');
    client.send({ type: 'history', conv: 'exact-not', ref: 'h' });
    await client.next(isError(ErrorCode.forbidden));
    assert.ok(client.isOpen, 'a forbidden conversation does not close the connection');
    client.close();
  });

  test('send - the sender is taken from the session, never from the frame', async () => {
    const token = await auth.sign({ sub: 'alice', name: 'Alice', convs: ['forge'] });
    const client = await TestClient.login(relay.wsUrl, { token });
    await client.join('forge');
    client.send({ type: 'send', conv: 'forge', id: 'forged-1', text: 'hi', from: { id: 'mallory', name: 'Mallory' }, user: 'mallory' });
    const message = await client.next((f) => f.type === 'msg');
    assert.ok(message.type === 'msg');
    assert.deepEqual(message.from, { id: 'alice', name: 'Alice' });
    client.close();
  });

  test('hello - a user field is ignored when a token is required', async () => {
    const client = await TestClient.connect(relay.wsUrl);
    client.send({ type: 'hello', v: 1, user: 'alice' });
    await client.next(isError(ErrorCode.unauthorized));
    assert.equal((await client.closed).code, CloseCode.unauthorized);
  });

  test('hello - no hello in time closes with 4408', async () => {
    const client = await TestClient.connect(relay.wsUrl);
    assert.equal((await client.closed).code, CloseCode.helloTimeout);
  });

  test('hello - frames before hello get unauthenticated and the connection stays', async () => {
    const client = await TestClient.connect(relay.wsUrl);
    client.send({ type: 'join', conv: 'c1', ref: 'early' });
    const error = await client.next(isError(ErrorCode.unauthenticated));
    assert.equal(error.type === 'error' && error.ref, 'early');
    client.send({ type: 'hello', v: 1, token: await auth.sign({ sub: 'bob', convs: ['*'] }) });
    await client.next((f) => f.type === 'welcome');
    client.close();
  });

  test('hello - frames sent right behind hello wait for it and are handled in order', async () => {
    const token = await auth.sign({ sub: 'carol', convs: ['*'] });
    const client = await TestClient.connect(relay.wsUrl);
    client.send({ type: 'hello', v: 1, token });
    client.send({ type: 'join', conv: 'eager', ref: 'j' });
    client.send({ type: 'send', conv: 'eager', id: 'e1', text: 'first', ref: 's' });
    const ack = await client.next((f) => f.type === 'ack');
    assert.ok(ack.type === 'ack' && ack.seq === 1);
    assert.deepEqual(client.frames.map((f) => f.type).slice(0, 2), ['welcome', 'joined']);
    client.close();
  });

  test('hello - unsupported protocol version gets unsupported_version', async () => {
    const client = await TestClient.connect(relay.wsUrl);
    client.send({ type: 'hello', v: 99, token: 'x', ref: 'v' });
    const error = await client.next(isError(ErrorCode.unsupportedVersion));
    assert.equal(error.type === 'error' && error.ref, 'v');
    client.close();
  });

  test('hello - a second hello renews the token of the same user; another user\'s token is refused', async () => {
    const token = await auth.sign({ sub: 'dave', convs: ['*'] }, '1h');
    const client = await TestClient.login(relay.wsUrl, { token });
    const renewed = await auth.sign({ sub: 'dave', convs: ['*'] }, '2h');
    client.send({ type: 'hello', v: 1, token: renewed, ref: 'renew' });
    const welcome = await client.next((f) => f.type === 'welcome' && f.ref === 'renew');
    assert.ok(welcome.type === 'welcome' && welcome.expires! > Date.now() + 90 * 60_000, 'welcome carries the new expiry');
    client.send({ type: 'hello', v: 1, token: await auth.sign({ sub: 'eve', convs: ['*'] }), ref: 'swap' });
    const refused = await client.next((f) => f.type === 'error' && f.ref === 'swap');
    assert.ok(refused.type === 'error' && refused.code === ErrorCode.unauthorized && /another user/.test(refused.message));
    assert.ok(client.isOpen, 'the connection stays, on its current token');
    client.close();
  });
});

describe('session - open mode and origins', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { ALLOWED_ORIGINS: 'https://good.example, http://localhost:3000' } });
  });
  after(() => relay.dispose());

  test('hello - open mode takes the user and name the client gives', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'alice', name: 'Alice A.' });
    const welcome = client.frames[0];
    assert.ok(welcome?.type === 'welcome');
    assert.deepEqual(welcome.user, { id: 'alice', name: 'Alice A.' });
    assert.equal(typeof welcome.limits?.maxUploadBytes, 'number');
    client.close();
  });

  test('hello - open mode without a user is a bad frame, not a disconnect', async () => {
    const client = await TestClient.connect(relay.wsUrl);
    client.send({ type: 'hello', v: 1 });
    await client.next(isError(ErrorCode.badFrame));
    client.send({ type: 'hello', v: 1, user: 'late' });
    await client.next((f) => f.type === 'welcome');
    client.close();
  });

  test('origin - a listed origin connects, an unlisted one is closed with 4403', async () => {
    const good = await TestClient.connect(relay.wsUrl, { origin: 'https://good.example' });
    good.send({ type: 'hello', v: 1, user: 'a' });
    await good.next((f) => f.type === 'welcome');
    good.close();
    const evil = await TestClient.connect(relay.wsUrl, { origin: 'https://evil.example' });
    assert.equal((await evil.closed).code, CloseCode.originNotAllowed);
  });
});
