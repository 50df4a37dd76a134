import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { Connection, type NetworkSignal } from './connection.js';
import { FakeClock } from './test/fake-clock.js';
import { FakeSocket } from './test/fake-socket.js';
import type { ConnectionState } from './types.js';

const WELCOME = { type: 'welcome', v: 1, user: { id: 'alice', name: 'Alice' } };

class FakeNetwork implements NetworkSignal {
  online = true;
  private _onOnline = () => {};
  private _onOffline = () => {};
  subscribe(onOnline: () => void, onOffline: () => void): () => void {
    this._onOnline = onOnline;
    this._onOffline = onOffline;
    return () => {};
  }
  goOffline(): void {
    this.online = false;
    this._onOffline();
  }
  goOnline(): void {
    this.online = true;
    this._onOnline();
  }
}

function setup(urls = 'ws://a/ws') {
  const clock = new FakeClock();
  const network = new FakeNetwork();
  const states: ConnectionState[] = [];
  const frames: ServerFrame[] = [];
  const fatal: Array<{ code: string; message: string }> = [];
  const connection = new Connection({
    urls,
    WebSocket: FakeSocket,
    hello: () => ({ type: 'hello', v: 1, user: 'alice' }),
    clock,
    network,
    handlers: {
      onState: (state) => states.push(state),
      onWelcome: () => {},
      onFrame: (frame) => frames.push(frame),
      onFatal: (code, message) => fatal.push({ code, message }),
    },
  });
  return { clock, network, states, frames, fatal, connection };
}

/** Opens the current socket and completes hello/welcome. */
function accept(): FakeSocket {
  const socket = FakeSocket.last;
  socket.open();
  socket.receive(WELCOME);
  return socket;
}

describe('connection', () => {
  beforeEach(() => FakeSocket.reset());

  test('connection - says hello on open and is open once welcomed', () => {
    const { states, connection } = setup();
    connection.start();
    assert.equal(connection.state, 'connecting');
    const socket = FakeSocket.last;
    socket.open();
    assert.deepEqual(socket.sent, [{ type: 'hello', v: 1, user: 'alice' }]);
    assert.equal(connection.send({ type: 'ping' }), false, 'nothing but hello before welcome');
    socket.receive(WELCOME);
    assert.deepEqual(states, ['connecting', 'open']);
    assert.equal(connection.send({ type: 'ping', ref: 1 }), true);
  });

  test('connection - a lost socket is replaced after a backoff, trying the next URL in turn', () => {
    const { clock, states, connection } = setup('ws://a/ws, ws://b/ws');
    connection.start();
    accept().drop();
    assert.equal(connection.state, 'reconnecting');
    assert.equal(FakeSocket.instances.length, 1, 'not at once');
    // The first retry comes within 2 × 500 ms, the second within 4 × 500 ms (full jitter).
    clock.advance(1000);
    assert.equal(FakeSocket.instances.length, 2);
    assert.equal(FakeSocket.last.url, 'ws://b/ws');
    FakeSocket.last.drop();
    clock.advance(2000);
    assert.equal(FakeSocket.instances.length, 3);
    assert.equal(FakeSocket.last.url, 'ws://a/ws');
    accept();
    assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'open']);
  });

  test('connection - 4401 ends in closed with an error and no reconnect loop', () => {
    const { clock, fatal, connection } = setup();
    connection.start();
    const socket = FakeSocket.last;
    socket.open();
    socket.receive({ type: 'error', code: 'unauthorized', message: 'token expired' });
    socket.drop(4401, 'unauthorized');
    assert.equal(connection.state, 'closed');
    assert.deepEqual(fatal, [{ code: 'unauthorized', message: 'token expired' }]);
    clock.advance(120_000);
    assert.equal(FakeSocket.instances.length, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  test('connection - 4403 (origin not allowed) is final too', () => {
    const { clock, fatal, connection } = setup();
    connection.start();
    FakeSocket.last.open();
    FakeSocket.last.drop(4403, 'origin not allowed');
    clock.advance(120_000);
    assert.equal(connection.state, 'closed');
    assert.equal(fatal[0]?.code, 'forbidden');
    assert.equal(FakeSocket.instances.length, 1);
  });

  test('connection - a silent socket gets a ping, and without an answer it is replaced', () => {
    const { clock, connection } = setup();
    connection.start();
    const socket = accept();
    clock.advance(24_000);
    assert.deepEqual(socket.sentOfType('ping'), []);
    clock.advance(1000);
    assert.equal(socket.sentOfType('ping').length, 1);
    clock.advance(9_999);
    assert.equal(connection.state, 'open');
    clock.advance(1);
    assert.equal(connection.state, 'reconnecting');
    assert.notEqual(socket.closedWith, null, 'the dead socket is closed by the client');
  });

  test('connection - any frame counts as life: an answered ping keeps the socket', () => {
    const { clock, connection } = setup();
    connection.start();
    const socket = accept();
    for (let i = 0; i < 10; i++) {
      clock.advance(25_000);
      const ping = socket.sentOfType('ping').at(-1) as { ref: string };
      socket.receive({ type: 'pong', ref: ping.ref });
    }
    assert.equal(socket.sentOfType('ping').length, 10);
    assert.equal(connection.state, 'open');
    assert.equal(FakeSocket.instances.length, 1);
  });

  test('connection - offline closes the socket itself; online reconnects at once', () => {
    const { network, states, connection } = setup();
    connection.start();
    const socket = accept();
    network.goOffline();
    assert.equal(connection.state, 'offline');
    assert.notEqual(socket.closedWith, null);
    assert.equal(connection.send({ type: 'ping' }), false);
    network.goOnline();
    assert.equal(FakeSocket.instances.length, 2, 'no backoff wait after online');
    accept();
    assert.deepEqual(states, ['connecting', 'open', 'offline', 'connecting', 'open']);
  });

  test('connection - starting while offline waits for online', () => {
    const { network, connection } = setup();
    network.online = false;
    connection.start();
    assert.equal(connection.state, 'offline');
    assert.equal(FakeSocket.instances.length, 0);
    network.goOnline();
    assert.equal(connection.state, 'connecting');
  });

  test('connection - a connect that never completes is abandoned', () => {
    const { clock, connection } = setup();
    connection.start();
    clock.advance(15_000);
    assert.equal(connection.state, 'reconnecting');
    assert.notEqual(FakeSocket.last.closedWith, null);
  });

  test('connection - invalid frames are ignored, valid ones passed on', () => {
    const { frames, connection } = setup();
    connection.start();
    const socket = accept();
    socket.receive('not json');
    socket.receive({ type: 'msg', conv: 'c1', seq: 0, id: 'x', from: { id: 'b', name: 'B' }, ts: 1 });
    socket.receive({ type: 'resync', conv: 'c1' });
    assert.deepEqual(frames, [{ type: 'resync', conv: 'c1' }]);
  });

  test('connection - stop is final and leaves no timers behind', () => {
    const { clock, connection } = setup();
    connection.start();
    const socket = accept();
    connection.stop();
    assert.equal(connection.state, 'closed');
    assert.equal(socket.closedWith?.code, 1000);
    assert.equal(clock.pendingTimers, 0);
    socket.drop();
    clock.advance(60_000);
    assert.equal(FakeSocket.instances.length, 1);
  });
});
