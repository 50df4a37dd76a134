/**
 * Refusals in the snapshot (`refusal`), with a scripted socket: the session's (credentials,
 * origin) and a conversation's (join refused), what tells them apart, and how a new token
 * ends them: no retry loop before that.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Session } from './session.js';
import { FakeClock } from './test/fake-clock.js';
import { FakeSocket } from './test/fake-socket.js';
import { MemoryStorage } from './test/memory-storage.js';

const settle = () => new Promise((resolve) => setImmediate(resolve));
const sessions: Session[] = [];

/** An unsigned JWT with these claims (the core reads claims; the relay verifies). */
function token(claims: object): string {
  const part = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${part({ alg: 'HS256' })}.${part(claims)}.sig`;
}

async function setup(jwt: string) {
  const clock = new FakeClock();
  const session = new Session(
    { relay: 'ws://relay.test/ws', token: jwt, storage: new MemoryStorage(), WebSocket: FakeSocket as unknown as typeof WebSocket },
    { clock, network: { online: true, subscribe: () => () => {} }, tabs: null },
  );
  sessions.push(session);
  const chat = session.conversation('c1');
  await chat.start();
  return { clock, session, chat };
}

function welcome(socket: FakeSocket): void {
  socket.open();
  socket.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } });
}

const joinsSent = () => FakeSocket.instances.flatMap((s) => s.sentOfType('join') as Array<{ ref: string }>);

describe('refusal', () => {
  beforeEach(() => FakeSocket.reset());
  afterEach(() => {
    for (const session of sessions.splice(0)) session.dispose();
  });

  test('refusal - a token the relay refuses is expired or invalid; no reconnect loop; a new token connects again', async () => {
    const nowSeconds = Math.floor(new FakeClock().now() / 1000);
    const { session, chat, clock } = await setup(token({ sub: 'alice', exp: nowSeconds - 10 }));
    FakeSocket.last.open();
    FakeSocket.last.drop(4401, 'unauthorized');
    await settle();
    assert.deepEqual(chat.snapshot.refusal, { code: 'unauthorized', params: { reason: 'expired' } });
    clock.advance(60_000);
    assert.equal(FakeSocket.instances.length, 1, 'no reconnect');
    session.setToken(token({ sub: 'alice', exp: nowSeconds + 3600 }));
    assert.equal(FakeSocket.instances.length, 2, 'connects again with the new token');
    assert.equal(chat.snapshot.refusal, null);
    welcome(FakeSocket.last);
    assert.equal(joinsSent().length, 1);
  });

  test('refusal - a valid-looking token refused is invalid; an origin the relay refuses is forbidden for the origin', async () => {
    const first = await setup(token({ sub: 'alice' }));
    FakeSocket.last.drop(4401, 'unauthorized');
    await settle();
    assert.deepEqual(first.chat.snapshot.refusal, { code: 'unauthorized', params: { reason: 'invalid' } });
    FakeSocket.reset();
    const second = await setup(token({ sub: 'alice' }));
    FakeSocket.last.drop(4403, 'origin');
    await settle();
    assert.deepEqual(second.chat.snapshot.refusal, { code: 'forbidden', params: { reason: 'origin' } });
  });

  test('refusal - a refused join is not asked again on reconnect; a new token asks once more', async () => {
    const { session, chat, clock } = await setup(token({ sub: 'alice' }));
    welcome(FakeSocket.last);
    const [join] = joinsSent();
    FakeSocket.last.receive({ type: 'error', code: 'forbidden', message: 'not in convs', conv: 'c1', ref: join!.ref });
    assert.deepEqual(chat.snapshot.refusal, { code: 'forbidden', params: { reason: 'conversation' } });
    FakeSocket.last.drop();
    clock.advance(5000);
    welcome(FakeSocket.last);
    assert.equal(joinsSent().length, 1, 'not asked again');
    session.setToken(token({ sub: 'alice', convs: ['c1'] }));
    assert.equal(chat.snapshot.refusal, null);
    assert.equal(FakeSocket.last.sentOfType('hello').length, 2, 'the token renewed on the open connection');
    assert.equal(joinsSent().length, 1, 'not before the relay has taken the new token');
    FakeSocket.last.receive({ type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } });
    const again = joinsSent();
    assert.equal(again.length, 2, 'asked once more with the new token');
    FakeSocket.last.receive({ type: 'error', code: 'forbidden', message: 'banned', conv: 'c1', ref: again[1]!.ref });
    assert.deepEqual(chat.snapshot.refusal, { code: 'forbidden', params: { reason: 'conversation' } });
  });
});
