/**
 * The session against a real relay: one connection for many conversations, and a token
 * renewed on the open connection before it expires.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import WS from 'ws';
import { JwtVerifier } from '../../relay/auth/jwt.js';
import { startRelay, type RelayProcess } from '../../relay/test/harness.js';
import { renewDelay, Session } from './session.js';
import { MemoryStorage } from './test/memory-storage.js';
import { FAST, joined, waitFor, waitUntil } from './test/relay-client.js';
import type { ChatClient, ConnectionState } from './types.js';

const SECRET = 's'.repeat(40);
const sessions: Session[] = [];

async function connections(relay: RelayProcess): Promise<number> {
  const response = await fetch(`${relay.httpUrl}/healthz`);
  return ((await response.json()) as { connections: number }).connections;
}

function session(options: ConstructorParameters<typeof Session>[0]): Session {
  const made = new Session({ storage: new MemoryStorage(), WebSocket: WS as unknown as typeof WebSocket, ...options }, FAST);
  sessions.push(made);
  return made;
}

afterEach(() => {
  for (const s of sessions.splice(0)) s.dispose();
});

test('session - renewal happens at 80 % or 60 s before exp, whichever first, never before half the lifetime', () => {
  assert.equal(renewDelay(3_600_000, 0), 2_880_000);
  assert.equal(renewDelay(200_000, 0), 140_000);
  assert.equal(renewDelay(100_000, 0), 50_000);
  assert.equal(renewDelay(4_000, 0), 2_000);
  assert.equal(renewDelay(0, 10), 0);
});

describe('session against a relay', () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay({});
  });

  after(async () => {
    await relay.dispose();
  });

  test('session - two conversations share one WebSocket; unread counts per conversation and in total', async () => {
    const before = await connections(relay);
    const alice = session({ relay: relay.wsUrl, user: 'alice', name: 'Alice' });
    const one = alice.conversation('s-one');
    const two = alice.conversation('s-two');
    await Promise.all([one.start(), two.start()]);
    await Promise.all([waitFor(one, joined('alice'), 'one joined'), waitFor(two, joined('alice'), 'two joined')]);
    assert.equal((await connections(relay)) - before, 1);

    const bob = session({ relay: relay.wsUrl, user: 'bob', name: 'Bob' });
    const bobOne = bob.conversation('s-one');
    const bobTwo = bob.conversation('s-two');
    await Promise.all([bobOne.start(), bobTwo.start()]);
    await Promise.all([waitFor(bobOne, joined('bob'), 'bob one'), waitFor(bobTwo, joined('bob'), 'bob two')]);
    bobOne.send('hello one');
    bobTwo.send('hello two');
    bobTwo.send('again two');
    await waitFor(one, (s) => s.messages.some((m) => m.text === 'hello one'), 'one has it');
    await waitFor(two, (s) => s.messages.filter((m) => !m.own).length === 2, 'two has both');
    assert.deepEqual(one.snapshot.messages.map((m) => m.text), ['hello one']);
    assert.deepEqual(two.snapshot.messages.map((m) => m.text), ['hello two', 'again two']);
    await waitUntil(() => alice.snapshot.totalUnread === 3, 'three unread');
    assert.deepEqual(alice.snapshot.unread, { 's-one': 1, 's-two': 2 });
    assert.equal((await connections(relay)) - before, 2);
  });

  test('session - disposing one conversation keeps the connection for the other', async () => {
    const alice = session({ relay: relay.wsUrl, user: 'alice', name: 'Alice' });
    const one = alice.conversation('k-one');
    const two = alice.conversation('k-two');
    await Promise.all([one.start(), two.start()]);
    await Promise.all([waitFor(one, joined('alice'), 'one'), waitFor(two, joined('alice'), 'two')]);
    one.dispose();
    two.send('still here');
    await waitFor(two, (s) => s.messages.some((m) => m.status === 'sent'), 'sent after the other left');
    assert.equal(alice.snapshot.connection, 'open');
  });
});

describe('session with a secret-protected relay', () => {
  let relay: RelayProcess;
  const jwt = new JwtVerifier(SECRET);

  before(async () => {
    relay = await startRelay({ env: { CHAT_JWT_SECRET: SECRET } });
  });

  after(async () => {
    await relay.dispose();
  });

  test('session - a token that expires is renewed on the open connection: no reconnect, no lost message', async () => {
    let issued = 0;
    const getToken = async () => {
      issued++;
      return jwt.sign({ sub: 'alice', name: 'Alice', convs: ['renew'] }, '4s');
    };
    const alice = session({ relay: relay.wsUrl, getToken });
    const states: ConnectionState[] = [];
    alice.on((event) => event.type === 'status' && states.push(event.connection));
    const conv: ChatClient = alice.conversation('renew');
    await conv.start();
    await waitFor(conv, joined('alice'), 'joined');
    // Past two expiries of the first token, sending all the way.
    for (let i = 0; i < 10; i++) {
      conv.send(`m${i}`);
      await new Promise((resolve) => setTimeout(resolve, 900));
    }
    await waitFor(conv, (s) => s.messages.length === 10 && s.messages.every((m) => m.status === 'sent'), 'all ten sent');
    assert.deepEqual(conv.snapshot.messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.ok(issued >= 3, `getToken called ${issued} times`);
    assert.deepEqual(states, ['connecting', 'open'], 'never reconnected');
  });

  test('session - setToken renews with the new token instead of reconnecting', async () => {
    const token = await jwt.sign({ sub: 'bob', name: 'Bob', convs: ['set'] }, '3s');
    const bob = session({ relay: relay.wsUrl, token });
    const states: ConnectionState[] = [];
    bob.on((event) => event.type === 'status' && states.push(event.connection));
    const conv = bob.conversation('set');
    await conv.start();
    await waitFor(conv, joined('bob'), 'joined');
    bob.setToken(await jwt.sign({ sub: 'bob', name: 'Bob', convs: ['set'] }, '1h'));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    conv.send('after the first exp');
    await waitFor(conv, (s) => s.messages.some((m) => m.status === 'sent'), 'sent');
    assert.deepEqual(states, ['connecting', 'open']);
  });
});
