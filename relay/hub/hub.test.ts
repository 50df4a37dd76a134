/**
 * The hub as a domain, without sockets: fake connections, a real in-memory SQLite store
 * (wrapped where a test needs the store to fail), the in-process bus. The store commits on
 * this thread (InlineSqliteStore): the tests step in 20 ms settles, which the worker
 * store's thread start would not fit in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, type ServerFrame } from '../../protocol/index.js';
import { Authenticator } from './handshake.js';
import { LocalBus } from '../bus/local.js';
import { Hub, SendResult, type HubOptions, type Logger, type Session, type WebSocketLike } from './index.js';
import { InlineSqliteStore } from '../store/sqlite-inline.js';
import { StoreUnavailableError, type Store } from '../store/types.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

class FakeSocket implements WebSocketLike {
  readonly frames: ServerFrame[] = [];
  buffered = 0;
  /** While true, every send is dropped as uWS does past maxBackpressure. */
  congested = false;
  closedWith: number | null = null;
  send(text: string) {
    if (this.congested) return SendResult.dropped;
    this.frames.push(JSON.parse(text) as ServerFrame);
    return SendResult.sent;
  }
  close(code: number) {
    this.closedWith = code;
  }
  bufferedAmount() {
    return this.buffered;
  }
  of<T extends ServerFrame['type']>(type: T) {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: T }> => f.type === type);
  }
}

/** A hub in open mode over an in-memory store and the local bus; `overrides` replace any option. */
function hubOptions(overrides: Partial<HubOptions> = {}): HubOptions {
  return {
    store: new InlineSqliteStore({ path: ':memory:' }),
    busFactory: async (handlers) => new LocalBus(handlers),
    auth: new Authenticator({ verifier: null }),
    files: { describe: async () => null },
    logger: silent,
    maxUploadBytes: 1000,
    ...overrides,
  };
}

async function makeHub(store: Store = new InlineSqliteStore({ path: ':memory:' })) {
  const hub = new Hub(hubOptions({ store }));
  await hub.start();
  return hub;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

async function connect(hub: Hub, user: string, conv?: string): Promise<{ socket: FakeSocket; session: Session }> {
  const socket = new FakeSocket();
  const session = hub.open(socket);
  hub.message(session, JSON.stringify({ type: 'hello', v: 1, user }));
  await settle();
  if (conv) {
    hub.message(session, JSON.stringify({ type: 'join', conv }));
    await settle();
  }
  return { socket, session };
}

test('hub - frames dropped under backpressure are repaired with resync once drained', async () => {
  const hub = await makeHub();
  const alice = await connect(hub, 'alice', 'c');
  const bob = await connect(hub, 'bob', 'c');
  bob.socket.congested = true;
  bob.socket.buffered = 10 * 1024 * 1024;
  hub.message(alice.session, JSON.stringify({ type: 'send', conv: 'c', id: 'm1', text: 'lost for bob' }));
  await settle();
  assert.equal(bob.socket.of('msg').length, 0);
  hub.drained(bob.session); // still congested: nothing yet
  assert.equal(bob.socket.of('resync').length, 0);
  bob.socket.congested = false;
  bob.socket.buffered = 0;
  hub.drained(bob.session);
  assert.deepEqual(bob.socket.of('resync'), [{ type: 'resync', conv: 'c' }]);
  hub.drained(bob.session);
  assert.equal(bob.socket.of('resync').length, 1, 'one resync per drop episode');
  await hub.shutdown();
});

test('hub - store outage answers unavailable (never an ack); other failures answer internal', async () => {
  const real = new InlineSqliteStore({ path: ':memory:' });
  let failure: Error | null = null;
  const flaky: Store = Object.assign(Object.create(real) as Store, {
    append: (input: Parameters<Store['append']>[0]) => (failure ? Promise.reject(failure) : real.append(input)),
    close: () => real.close(),
  });
  const hub = await makeHub(flaky);
  const { socket, session } = await connect(hub, 'alice', 'c');
  failure = new StoreUnavailableError('database down');
  hub.message(session, JSON.stringify({ type: 'send', conv: 'c', id: 'x1', text: 'hi', ref: 'r1' }));
  await settle();
  assert.deepEqual(socket.of('error').map((e) => [e.code, e.ref, e.id]), [[ErrorCode.unavailable, 'r1', 'x1']]);
  failure = new Error('disk on fire');
  hub.message(session, JSON.stringify({ type: 'send', conv: 'c', id: 'x2', text: 'hi', ref: 'r2' }));
  await settle();
  assert.deepEqual(socket.of('error').at(-1)?.code, ErrorCode.internal);
  failure = null;
  hub.message(session, JSON.stringify({ type: 'send', conv: 'c', id: 'x1', text: 'hi', ref: 'r3' }));
  await settle();
  assert.deepEqual(socket.of('ack').map((a) => [a.id, a.seq]), [['x1', 1]]);
  await hub.shutdown();
});

test('hub - events arriving during catch-up are held back and not duplicated', async () => {
  const hub = await makeHub();
  const alice = await connect(hub, 'alice', 'c');
  for (let i = 1; i <= 20; i++) hub.message(alice.session, JSON.stringify({ type: 'send', conv: 'c', id: `m${i}`, text: 'x' }));
  await settle();
  const bob = new FakeSocket();
  const session = hub.open(bob);
  hub.message(session, JSON.stringify({ type: 'hello', v: 1, user: 'bob' }));
  await settle();
  hub.message(session, JSON.stringify({ type: 'join', conv: 'c', after: 0 }));
  // Sent while bob's catch-up reads are in flight.
  for (let i = 21; i <= 25; i++) hub.message(alice.session, JSON.stringify({ type: 'send', conv: 'c', id: `m${i}`, text: 'x' }));
  await settle();
  assert.deepEqual(bob.of('msg').map((m) => m.seq), Array.from({ length: 25 }, (_, i) => i + 1));
  const joinedAt = bob.frames.findIndex((f) => f.type === 'joined');
  const firstMsg = bob.frames.findIndex((f) => f.type === 'msg');
  assert.ok(joinedAt >= 0 && joinedAt < firstMsg, 'joined comes before the replay');
  await hub.shutdown();
});

test('hub - hello timeout and shutdown close sessions with the protocol codes', async () => {
  const store = new InlineSqliteStore({ path: ':memory:' });
  const hub = new Hub(hubOptions({ store, helloTimeoutMs: 30 }));
  await hub.start();
  const idle = new FakeSocket();
  hub.open(idle);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(idle.closedWith, 4408);
  const { socket } = await connect(hub, 'alice', 'c');
  await hub.shutdown();
  assert.equal(socket.closedWith, 1001);
  assert.equal(hub.sessionCount, 0);
});

test('hub - messages that reach this relay out of seq order (another relay published them) go out in order', async () => {
  let bus: import('../bus/types.js').BusHandlers | undefined;
  const store = new InlineSqliteStore({ path: ':memory:' });
  const hub = new Hub(
    hubOptions({
      store,
      busFactory: async (handlers) => {
        bus = handlers;
        return new LocalBus(handlers);
      },
    }),
  );
  await hub.start();
  const { socket } = await connect(hub, 'bob', 'c');
  const from = { id: 'alice', name: 'Alice' };
  const msg = (seq: number) => ({ kind: 'msg' as const, message: { type: 'msg' as const, conv: 'c', seq, id: `m${seq}`, from, text: 'x', ts: seq } });
  // As if published by two other relays: 2 overtakes 1, then 4 and 5 overtake 3.
  bus!.onEvent('c', msg(2));
  assert.equal(socket.of('msg').length, 0, 'seq 2 waits for seq 1');
  bus!.onEvent('c', msg(1));
  bus!.onEvent('c', msg(5));
  bus!.onEvent('c', msg(4));
  bus!.onEvent('c', msg(3));
  assert.deepEqual(socket.of('msg').map((m) => m.seq), [1, 2, 3, 4, 5]);
  // Seq 6 was lost on the bus: 7 and 8 wait a moment, then go out in order anyway.
  bus!.onEvent('c', msg(8));
  bus!.onEvent('c', msg(7));
  assert.equal(socket.of('msg').length, 5);
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.deepEqual(socket.of('msg').map((m) => m.seq), [1, 2, 3, 4, 5, 7, 8]);
  bus!.onEvent('c', msg(9));
  assert.deepEqual(socket.of('msg').map((m) => m.seq).at(-1), 9, 'back in step after the gap');
  await hub.shutdown();
});
