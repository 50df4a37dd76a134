/**
 * Scale-out under faults: a relay killed mid-burst, NATS restarted mid-burst, PostgreSQL
 * stopped and started. Clients behave like the widget (outbox with stable ids, gap fill,
 * resync, failover to another relay); what must hold is that every message is stored
 * exactly once and every client ends up with all of them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '../../protocol/index.js';
import { closeAllClients, connectAll, ClusterClient } from './cluster-client.js';
import { startCluster, startServices, type ClusterServices } from './cluster-setup.js';
import { checkSeqs } from './harness.js';

/** Every client holds 1..total, and every ack any client got names the message at that seq. */
function assertConsistent(clients: ClusterClient[], total: number, sentIds: Set<string>): void {
  const acked = new Map<string, number>();
  for (const c of clients) {
    for (const [id, { seq }] of c.acks) {
      const known = acked.get(id);
      if (known !== undefined) assert.equal(seq, known, `${id} acked with two seqs`);
      acked.set(id, seq);
    }
  }
  assert.equal(acked.size, sentIds.size, 'every message acked');
  for (const c of clients) {
    assert.equal(checkSeqs(c.seqs(), total), null, `${c.user} holds 1..${total}`);
    const ids = c.seqs().map((s) => c.held.get(s)!.id);
    assert.equal(new Set(ids).size, ids.length, `${c.user}: no message stored twice`);
    assert.deepEqual(new Set(ids), sentIds, `${c.user}: exactly the messages sent`);
    for (const [id, seq] of acked) assert.equal(c.held.get(seq)?.id, id, `${c.user}: seq ${seq} is ${id}`);
  }
}

const waitForAcks = (clients: ClusterClient[], n: number) =>
  clients[0]!.until(() => clients.reduce((sum, c) => sum + c.acks.size, 0) >= n, `${n} acks`);

describe('cluster faults', () => {
  let services: ClusterServices;
  before(async () => {
    services = await startServices();
  });
  after(() => services.dispose());

  test('failover - kill -9 one relay mid-burst: its clients resend unacked through the other; all stored once, delivered to all', async () => {
    const cluster = await startCluster(services);
    let pump: NodeJS.Timeout | undefined;
    try {
      const [one, two] = cluster.relays as [(typeof cluster.relays)[0], (typeof cluster.relays)[0]];
      const conv = 'failover';
      const clients = await connectAll([
        ...['k0', 'k1', 'k2'].map((user) => ({ user, conv, urls: [one.wsUrl, two.wsUrl] })),
        ...['s0', 's1', 's2'].map((user) => ({ user, conv, urls: [two.wsUrl, one.wsUrl] })),
      ]);
      const perClient = 400;
      const sent = new Set<string>();
      // A steady stream rather than one write, so the kill lands in the middle of it
      // however fast the relay drains its socket.
      let next = 0;
      pump = setInterval(() => {
        for (const end = Math.min(next + 20, perClient); next < end; next++) {
          for (const c of clients) {
            c.send(`${c.user}-${next}`);
            sent.add(`${c.user}-${next}`);
          }
        }
        if (next === perClient) clearInterval(pump);
      }, 5);
      await waitForAcks(clients.slice(0, 3), 150);
      await one.kill();
      const survivors = clients.slice(0, 3);
      const unackedAtKill = survivors.reduce((sum, c) => sum + c.outbox.size, 0);
      for (const c of survivors) await c.until(() => c.reconnects > 0 && c.state === 'ready', 'failover to the other relay');
      await clients[0]!.until(() => next === perClient, 'every message sent');
      for (const c of clients) await c.until(() => c.outbox.size === 0, 'outbox empty', 60_000);
      const total = sent.size;
      assert.equal(total, clients.length * perClient);
      // Messages the killed relay stored but never published are found through history,
      // as a widget does on reconnect or when the next message shows a gap.
      for (const c of clients) c.catchUp();
      for (const c of clients) await c.until(() => c.contiguous === total, `1..${total}`, 60_000);
      assertConsistent(clients, total, sent);
      assert.ok(unackedAtKill > 0 && unackedAtKill < 3 * perClient, 'the kill interrupted the burst');
      for (const c of clients) c.close();
    } finally {
      clearInterval(pump);
      closeAllClients();
      await cluster.dispose();
    }
  });

  test('bus outage - nats-server restarted mid-burst: no acked message is missing for any client, and live delivery resumes', async () => {
    const cluster = await startCluster(services);
    try {
      const [one, two] = cluster.relays as [(typeof cluster.relays)[0], (typeof cluster.relays)[0]];
      const conv = 'bus-outage';
      const clients = await connectAll(['n0', 'n1', 'n2', 'n3'].map((user, i) => ({ user, conv, urls: [i % 2 ? two.wsUrl : one.wsUrl] })));
      const sent = new Set<string>();
      const burst = (round: number, count: number) => {
        for (let i = 0; i < count; i++) {
          for (const c of clients) {
            c.send(`${c.user}-${round}-${i}`);
            sent.add(`${c.user}-${round}-${i}`);
          }
        }
      };
      burst(0, 300);
      await waitForAcks(clients, 100);
      await services.nats.stop();
      // Sends go on during the outage: the store still acks them.
      burst(1, 100);
      await waitForAcks(clients, sent.size);
      await services.nats.start();
      // ... and while the relays reconnect.
      burst(2, 100);
      for (const c of clients) await c.until(() => c.resyncs > 0, 'resync after NATS is back');
      burst(3, 100);
      await waitForAcks(clients, sent.size);
      // No explicit catch-up: resync and gap fill alone must bring everyone to the end.
      for (const c of clients) await c.until(() => c.contiguous === sent.size, `1..${sent.size} through resync`, 60_000);
      assertConsistent(clients, sent.size, sent);
      // Live delivery works again, across relays.
      const before = clients.map((c) => c.deliveries.size);
      clients[0]!.send('after-outage');
      sent.add('after-outage');
      for (const c of clients) await c.until(() => c.contiguous === sent.size, 'the message after the outage');
      clients.forEach((c, i) => assert.equal(c.deliveries.size, before[i]! + 1, `${c.user} got it as a live msg`));
      for (const c of clients) c.close();
    } finally {
      closeAllClients();
      await cluster.dispose();
    }
  });

  test('store outage - PostgreSQL stopped: sends get `unavailable`, not an ack; resent afterwards, each is stored once', async () => {
    const cluster = await startCluster(services);
    try {
      const [one, two] = cluster.relays as [(typeof cluster.relays)[0], (typeof cluster.relays)[0]];
      const conv = 'store-outage';
      const clients = await connectAll(['p0', 'p1'].map((user, i) => ({ user, conv, urls: [i ? two.wsUrl : one.wsUrl] })));
      const sent = new Set<string>();
      const send = (c: ClusterClient, id: string) => {
        c.send(id);
        sent.add(id);
      };
      for (let i = 0; i < 20; i++) for (const c of clients) send(c, `${c.user}-before-${i}`);
      await waitForAcks(clients, sent.size);
      await services.pg.stop();
      try {
        for (let i = 0; i < 20; i++) for (const c of clients) send(c, `${c.user}-during-${i}`);
        for (const c of clients) {
          await c.until(() => c.errors.filter((e) => e.code === ErrorCode.unavailable && e.id?.includes('-during-')).length === 20, '20 unavailable');
        }
        for (const c of clients) {
          assert.equal(c.outbox.size, 20, `${c.user}: nothing sent during the outage was acked`);
          assert.ok([...c.acks.keys()].every((id) => !id.includes('-during-')));
        }
      } finally {
        await services.pg.start();
      }
      // The relays reconnect by themselves; the clients' outboxes resend with the same ids
      // until acked, twice at a time, as an impatient client would.
      for (const c of clients) {
        for (let attempt = 0; c.outbox.size > 0; attempt++) {
          assert.ok(attempt < 40, `${c.user}: resends still unacked after ${attempt} attempts`);
          c.resendOutbox();
          c.resendOutbox();
          await c.until(() => c.outbox.size === 0, 'resends acked', 500).catch(() => undefined);
        }
      }
      for (const c of clients) await c.until(() => c.contiguous === sent.size, `1..${sent.size}`);
      assertConsistent(clients, sent.size, sent);
      for (const c of clients) c.close();
    } finally {
      closeAllClients();
      await cluster.dispose();
    }
  });
});
