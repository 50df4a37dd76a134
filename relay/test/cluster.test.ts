/**
 * Scale-out: several relays behind no load balancer at all — clients pick a relay each —
 * sharing PostgreSQL (the store) and NATS (the bus), against real servers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeAllClients, connectAll, ClusterClient } from './cluster-client.js';
import { startCluster, startServices, type Cluster, type ClusterServices } from './cluster-setup.js';
import { checkSeqs, startRelay } from './harness.js';
import { freePort } from './services.js';

/** Every message a client holds, checked against what the senders were told (acks). */
function assertConsistent(clients: ClusterClient[], total: number): void {
  const acked = new Map<string, number>();
  for (const c of clients) for (const [id, { seq }] of c.acks) acked.set(id, seq);
  for (const c of clients) {
    assert.equal(checkSeqs(c.seqs(), total), null, `${c.user} holds 1..${total}`);
    for (const [id, seq] of acked) assert.equal(c.held.get(seq)?.id, id, `${c.user}: seq ${seq} is ${id}`);
  }
}

describe('cluster', () => {
  let services: ClusterServices;
  before(async () => {
    services = await startServices();
  });
  after(() => services.dispose());

  describe('two relays', () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster(services);
    });
    after(async () => {
      closeAllClients();
      await cluster.dispose();
    });

    test('fan-out - concurrent senders on both relays: every client gets seq 1..N exactly once', async () => {
      const [r1, r2] = cluster.relays.map((r) => r.wsUrl) as [string, string];
      const conv = 'fanout';
      const clients = await connectAll([
        ...['a0', 'a1', 'a2'].map((user) => ({ user, conv, urls: [r1] })),
        ...['b0', 'b1', 'b2'].map((user) => ({ user, conv, urls: [r2] })),
      ]);
      const perClient = 150;
      const total = clients.length * perClient;
      for (let i = 0; i < perClient; i++) for (const c of clients) c.send(`${c.user}-${i}`);
      for (const c of clients) await c.until(() => c.outbox.size === 0 && c.contiguous === total, `all ${total} messages`);
      assertConsistent(clients, total);
      for (const c of clients) {
        const twice = [...c.deliveries].filter(([, n]) => n !== 1);
        assert.deepEqual(twice, [], `${c.user}: every msg frame arrived exactly once`);
        assert.equal(c.resyncs, 0);
      }
      // Each sender's messages keep the order it sent them in.
      for (const sender of clients) {
        const mine = clients[0]!
          .messages()
          .filter((m) => m.from.id === sender.user)
          .map((m) => Number(m.id.split('-')[1]));
        assert.deepEqual(mine, Array.from({ length: perClient }, (_, i) => i));
      }
      for (const c of clients) c.close();
    });

    test('fan-out - typing, receipts and new members cross instances', async () => {
      const [r1, r2] = cluster.relays.map((r) => r.wsUrl) as [string, string];
      const conv = 'presence';
      const alice = await ClusterClient.connect({ user: 'alice', conv, urls: [r1] });
      const bob = await ClusterClient.connect({ user: 'bob', conv, urls: [r2] });
      alice.sendTyping(true);
      await bob.until(() => bob.typing.some((t) => t.user === 'alice' && t.active), 'alice typing on the other relay');
      alice.send('hello');
      // Storing alice's message ends her typing, for everyone.
      await bob.until(() => bob.contiguous === 1 && bob.typing.some((t) => t.user === 'alice' && !t.active), 'message and typing end');
      bob.sendReceipt({ read: 1 });
      await alice.until(() => alice.receipts.some((r) => r.user === 'bob' && r.read === 1 && r.delivered === 1), 'receipt on the other relay');
      assert.equal(alice.typing.filter((t) => t.user === 'alice').length, 0, 'own typing is not echoed');
      // A first-time joiner is announced on both relays.
      const carol = await ClusterClient.connect({ user: 'carol', conv, urls: [r1] });
      await bob.until(() => bob.memberEvents.some((m) => m.member.id === 'carol'), 'new member on the other relay');
      await alice.until(() => alice.memberEvents.some((m) => m.member.id === 'carol'), 'new member on the same relay');
      await carol.until(() => carol.contiguous === 1, 'history on join');
      alice.close();
      bob.close();
      carol.close();
    });

    test('uploads - a file uploaded through one relay is served by the other (shared DATA_DIR)', async () => {
      const [one, two] = cluster.relays as [(typeof cluster.relays)[0], (typeof cluster.relays)[0]];
      const bytes = Buffer.from('%PNG fake bytes \u0000\u0001\u0002', 'latin1');
      const upload = await fetch(`${one.httpUrl}/upload?conv=files`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/png', 'X-File-Name': encodeURIComponent('a b.png'), 'X-Chat-User': 'alice' },
        body: new Uint8Array(bytes),
      });
      assert.equal(upload.status, 201);
      const ref = (await upload.json()) as { url: string; size: number };
      assert.equal(ref.size, bytes.length);
      const served = await fetch(`${two.httpUrl}${ref.url}`);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), bytes);
    });
  });

  test('startup - a relay whose NATS_URL or DATABASE_URL does not answer exits instead of serving', async () => {
    const closed = await freePort();
    const databaseUrl = await services.pg.createDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'chat-cluster-startup-'));
    try {
      await assert.rejects(
        startRelay({ dataDir, env: { NATS_URL: `nats://127.0.0.1:${closed}`, DATABASE_URL: databaseUrl } }),
        /exited with 1 before listening/,
      );
      await assert.rejects(
        startRelay({ dataDir, env: { NATS_URL: services.nats.url, DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/nothing` } }),
        /exited with 1 before listening[\s\S]*PostgreSQL is unreachable/,
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('two relays under load', () => {
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster(services);
    });
    after(async () => {
      closeAllClients();
      await cluster.dispose();
    });

    test('sequencing - 5,000 concurrent appends through two relays get 1..5000; resends through the other relay are deduplicated', async () => {
      const [r1, r2] = cluster.relays.map((r) => r.wsUrl) as [string, string];
      const conv = 'burst';
      const senders = await connectAll(Array.from({ length: 8 }, (_, i) => ({ user: `s${i}`, conv, urls: [i % 2 ? r2 : r1] })));
      const perSender = 625;
      const total = senders.length * perSender;
      for (let i = 0; i < perSender; i++) for (const s of senders) s.send(`${s.user}-${i}`);
      for (const s of senders) await s.until(() => s.outbox.size === 0 && s.contiguous === total, 'every ack and message', 60_000);
      const seqs = senders.flatMap((s) => [...s.acks.values()].map((a) => a.seq));
      assert.equal(checkSeqs(seqs, total), null, 'acks carry 1..5000 with no gap and no repeat');
      assertConsistent(senders, total);

      // The same users, now connected to the OTHER relay, resend every id.
      const resenders = await connectAll(senders.map((s, i) => ({ user: s.user, conv, urls: [i % 2 ? r1 : r2] })));
      for (let i = 0; i < perSender; i++) for (const r of resenders) r.send(`${r.user}-${i}`);
      for (const r of resenders) await r.until(() => r.outbox.size === 0, 'acks of the resends', 60_000);
      for (const [i, r] of resenders.entries()) {
        for (const [id, ack] of r.acks) assert.deepEqual(ack, senders[i]!.acks.get(id), `${id}: same seq and ts`);
      }
      // Nothing new was stored: a fresh join sees the same head.
      const check = await ClusterClient.connect({ user: 'checker', conv, urls: [r2] });
      assert.equal(check.joinedHead, total);
      // Nothing was fanned out again: one marker through each relay comes after anything
      // that relay published (NATS keeps each publisher's order), and still every seq was
      // delivered exactly once.
      resenders[0]!.send('marker-0');
      resenders[1]!.send('marker-1');
      for (const s of senders) await s.until(() => s.contiguous === total + 2, 'both markers');
      for (const s of senders) assert.deepEqual([...s.deliveries].filter(([, n]) => n !== 1), [], `${s.user}: no second fan-out`);
      for (const c of [...senders, ...resenders, check]) c.close();
    });
  });
});
