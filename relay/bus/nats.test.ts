import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Id } from '../../protocol/index.js';
import * as v from 'valibot';
import type { Logger } from '../hub/index.js';
import { startNats, type NatsServer } from '../test/services.js';
import { conversationSubject, NatsBus, parseNatsUrl } from './nats.js';
import type { BusEvent, BusHandlers, ClusterEvent } from './types.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

class Recorder implements BusHandlers {
  readonly events: Array<{ conv: string; event: BusEvent }> = [];
  readonly gaps: string[][] = [];
  readonly broadcasts: ClusterEvent[] = [];
  reconnects = 0;
  onEvent(conv: string, event: BusEvent): void {
    this.events.push({ conv, event });
  }
  onGap(convs: readonly string[]): void {
    this.gaps.push([...convs]);
  }
  onBroadcast(event: ClusterEvent): void {
    this.broadcasts.push(event);
  }
  onReconnect(): void {
    this.reconnects++;
  }
}

const typing = (conv: string, user: string): BusEvent => ({ kind: 'typing', conv, user, active: true });

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('NatsBus', () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNats();
  });
  after(() => nats.dispose());

  test('subjects - every valid id is one safe token; anything else is encoded, never colliding', () => {
    for (const id of ['c1', 'support:42', 'a_b-c', 'x'.repeat(128)]) {
      assert.ok(v.is(Id, id));
      assert.equal(conversationSubject('chat', id), `chat.conv.${id}`);
    }
    // The protocol's id rule excludes the characters NATS treats specially.
    for (const bad of ['a.b', '*', '>', 'a b', 'a\tb', '']) assert.equal(v.is(Id, bad), false, JSON.stringify(bad));
    for (const bad of ['a.b', '*', '>', 'a b', 'chat.conv.x', 'ä']) {
      const subject = conversationSubject('chat', bad);
      assert.match(subject, /^chat\.convx\.[A-Za-z0-9_-]+$/);
    }
    assert.notEqual(conversationSubject('chat', 'a.b'), conversationSubject('chat', 'a_b'));
  });

  test('urls - several servers and credentials', () => {
    assert.deepEqual(parseNatsUrl('nats://u:p%40ss@h1:4222, h2:4223'), { servers: ['nats://h1:4222', 'nats://h2:4223'], user: 'u', pass: 'p@ss' });
    assert.deepEqual(parseNatsUrl('nats://s3cret@h1:4222'), { servers: ['nats://h1:4222'], token: 's3cret' });
  });

  test('fan-out - each subscribed instance gets every event once, the publisher included; others none', async () => {
    const [ra, rb, rc] = [new Recorder(), new Recorder(), new Recorder()];
    const [a, b, c] = await Promise.all([NatsBus.connect(nats.url, ra, quiet), NatsBus.connect(nats.url, rb, quiet), NatsBus.connect(nats.url, rc, quiet)]);
    await Promise.all([a.subscribe('room'), b.subscribe('room'), c.subscribe('elsewhere')]);
    // Subscribing twice is idempotent: still one delivery per event.
    await a.subscribe('room');
    for (let i = 0; i < 20; i++) (i % 2 ? a : b).publish('room', typing('room', `u${i}`));
    await until(() => ra.events.length >= 20 && rb.events.length >= 20, '20 events on both');
    a.publish('room', typing('room', 'marker'));
    await until(() => ra.events.some((e) => e.event.kind === 'typing' && e.event.user === 'marker'), 'marker');
    await until(() => rb.events.some((e) => e.event.kind === 'typing' && e.event.user === 'marker'), 'marker on b');
    for (const r of [ra, rb]) {
      const users = r.events.map((e) => (e.event.kind === 'typing' ? e.event.user : '?'));
      assert.equal(new Set(users).size, users.length, 'no event twice');
      assert.equal(users.length, 21);
    }
    assert.equal(rc.events.length, 0);
    b.unsubscribe('room');
    await b.subscribe('marker');
    a.publish('room', typing('room', 'after-unsubscribe'));
    // NATS keeps one publisher's order towards each subscriber: once b has the marker,
    // it would already have had the event if the unsubscribe had not worked.
    a.publish('marker', typing('marker', 'm'));
    await until(() => rb.events.some((e) => e.conv === 'marker'), 'marker on b');
    assert.equal(ra.events.length, 22);
    assert.equal(rb.events.filter((e) => e.conv === 'room').length, 21);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('broadcast - a cluster event reaches every instance, whatever it subscribed, the sender included', async () => {
    const [ra, rb, rc] = [new Recorder(), new Recorder(), new Recorder()];
    const [a, b, c] = await Promise.all([NatsBus.connect(nats.url, ra, quiet), NatsBus.connect(nats.url, rb, quiet), NatsBus.connect(nats.url, rc, quiet)]);
    await b.subscribe('room');
    a.broadcast({ kind: 'presence-query', relay: 'a' });
    c.broadcast({ kind: 'presence', relay: 'c', changes: [{ conv: 'room', user: 'u', online: true, ts: 1 }] });
    for (const r of [ra, rb, rc]) await until(() => r.broadcasts.length === 2, 'both broadcasts everywhere');
    for (const r of [ra, rb, rc]) {
      assert.deepEqual(r.broadcasts.map((e) => e.relay).sort(), ['a', 'c']);
      assert.equal(r.events.length, 0, 'cluster events are not conversation events');
    }
    // A conversation named like the cluster subject's token stays a conversation.
    await a.subscribe('relays');
    b.publish('relays', typing('relays', 'x'));
    await until(() => ra.events.length === 1, 'event of conversation "relays"');
    assert.equal(rc.broadcasts.length, 2);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  test('subscribe - resolves only once the server has it: an event published right after is received', async () => {
    const [ra, rb] = [new Recorder(), new Recorder()];
    const [a, b] = await Promise.all([NatsBus.connect(nats.url, ra, quiet), NatsBus.connect(nats.url, rb, quiet)]);
    for (let i = 0; i < 30; i++) {
      await b.subscribe(`fresh-${i}`);
      a.publish(`fresh-${i}`, typing(`fresh-${i}`, 'x'));
    }
    await until(() => rb.events.length === 30, 'one event per fresh subscription');
    await Promise.all([a.close(), b.close()]);
  });

  test('outage - while NATS is away events stay local; after it, a gap for every subscribed conversation', async () => {
    const [ra, rb] = [new Recorder(), new Recorder()];
    const options = { reconnectTimeWaitMs: 100 };
    const [a, b] = await Promise.all([NatsBus.connect(nats.url, ra, quiet, options), NatsBus.connect(nats.url, rb, quiet, options)]);
    await Promise.all([a.subscribe('one'), a.subscribe('two'), b.subscribe('one')]);
    await nats.stop();
    await until(() => a.connected === false, 'a notices the outage');
    a.publish('one', typing('one', 'while-down'));
    assert.deepEqual(
      ra.events.map((e) => e.event.kind === 'typing' && e.event.user),
      ['while-down'],
      'delivered locally, synchronously',
    );
    // Joining during the outage does not hang.
    await a.subscribe('three');
    await nats.start();
    await until(() => ra.gaps.length > 0 && rb.gaps.length > 0, 'gaps on both');
    assert.deepEqual(ra.gaps[0]?.sort(), ['one', 'three', 'two']);
    assert.ok(ra.reconnects >= 1 && rb.reconnects >= 1, 'both told they reconnected');
    // Cluster events flow again after the outage (the subject was subscribed again).
    a.broadcast({ kind: 'presence-query', relay: 'a' });
    await until(() => rb.broadcasts.length === 1, 'broadcast after the outage');
    assert.ok(rb.gaps.some((g) => g.includes('one')));
    // Live delivery resumes through NATS, exactly once on each side.
    await until(() => a.connected && b.connected, 'both connected');
    a.publish('one', typing('one', 'after'));
    await until(() => rb.events.length === 1 && ra.events.length === 2, 'event after reconnect');
    await Promise.all([a.close(), b.close()]);
    assert.equal(ra.events.length, 2);
  });

  test('partition - an instance cut off alone tells the others to resync what they missed from it', async () => {
    const proxy = await tcpProxy(nats.port);
    const [ra, rb] = [new Recorder(), new Recorder()];
    const options = { reconnectTimeWaitMs: 100 };
    const [a, b] = await Promise.all([
      NatsBus.connect(`nats://127.0.0.1:${proxy.port}`, ra, quiet, options),
      NatsBus.connect(nats.url, rb, quiet, options),
    ]);
    await Promise.all([a.subscribe('one'), a.subscribe('quiet'), b.subscribe('one'), b.subscribe('quiet')]);
    await proxy.cut();
    await until(() => a.connected === false, 'a notices the partition');
    a.publish('one', typing('one', 'while-cut'));
    await proxy.restore();
    await until(() => ra.gaps.length > 0 && rb.gaps.length > 0, 'gap on a and notice on b');
    assert.deepEqual(ra.gaps[0]?.sort(), ['one', 'quiet']);
    // b never lost its connection: only the conversation a published to needs a resync.
    assert.deepEqual(rb.gaps, [['one']]);
    assert.equal(ra.gaps.length, 1, 'a ignores its own notice');
    assert.equal(rb.events.length, 0);
    await Promise.all([a.close(), b.close()]);
    await proxy.close();
  });

  test('connect - fails when no server answers', async () => {
    const port = nats.port;
    await nats.stop();
    try {
      await assert.rejects(NatsBus.connect(`nats://127.0.0.1:${port}`, new Recorder(), quiet, { connectTimeoutMs: 1000 }));
    } finally {
      await nats.start();
    }
  });
});

/** A TCP proxy to NATS that can be cut and restored, to partition one client alone. */
async function tcpProxy(targetPort: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = createConnection(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address === 'object' && address) port = address.port;
  };
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
