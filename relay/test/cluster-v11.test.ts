/**
 * Protocol v1.1 across a scaled-out deployment (real NATS and PostgreSQL, relays in child
 * processes): changes to messages, replay after a reconnect, presence and bans cross relays,
 * and a killed relay's users go offline on the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, type ServerFrame } from '../../protocol/index.js';
import { JwtVerifier } from '../auth/jwt.js';
import { closeAllClients, ClusterClient } from './cluster-client.js';
import { startCluster, startServices, type Cluster, type ClusterServices } from './cluster-setup.js';
import { TestClient } from './harness.js';

const SECRET = 'cluster-test-secret-long-enough-for-hs256';
const signer = new JwtVerifier(SECRET);
const token = (sub: string, role?: string) => signer.sign({ sub, name: sub, convs: ['*'], ...(role ? { role } : {}) });

type Msg = Extract<ServerFrame, { type: 'msg' }>;

/**
 * A reply's quote shows the quoted message as it is now (the store resolves it on every read);
 * a live client derives it from the message it holds, as a widget renders it: compared that way.
 */
function withCurrentQuotes(view: Map<string, Msg>): Map<string, Msg> {
  const out = new Map<string, Msg>();
  for (const [id, message] of view) {
    const quoted = message.reply && view.get(message.reply.id);
    if (!message.reply || !quoted) {
      out.set(id, message);
      continue;
    }
    const { id: qid, seq, from } = quoted;
    const reply = quoted.deleted
      ? { id: qid, seq, from, deleted: true as const }
      : { id: qid, seq, from, ...(quoted.text !== undefined ? { text: [...quoted.text].slice(0, 200).join('') } : {}), ...(quoted.file ? { file: quoted.file } : {}) };
    out.set(id, { ...message, reply });
  }
  return out;
}

/** Test-only presence timings: a short grace, and a dead relay noticed in seconds rather than 30 s. */
const PRESENCE = { graceMs: 1000, heartbeatMs: 500, staleMs: 3000 };

describe('cluster v1.1', () => {
  let services: ClusterServices;
  let cluster: Cluster;
  before(async () => {
    services = await startServices();
    cluster = await startCluster(services, 2, {
      CHAT_JWT_SECRET: SECRET,
      PRESENCE_GRACE_MS: String(PRESENCE.graceMs),
      PRESENCE_HEARTBEAT_MS: String(PRESENCE.heartbeatMs),
      PRESENCE_STALE_MS: String(PRESENCE.staleMs),
    });
  });
  after(async () => {
    closeAllClients();
    await cluster.dispose();
    await services.dispose();
  });

  const urls = () => cluster.relays.map((r) => r.wsUrl) as [string, string];
  const client = async (user: string, conv: string, relays: string[], role?: string) =>
    ClusterClient.connect({ user, conv, urls: relays, token: await token(user, role) });

  test('changes - two clients on two relays edit, delete, react and reply while a third reconnects with join after: all end in the same state', async () => {
    const [r1, r2] = urls();
    const conv = 'v11-changes';
    const alice = await client('alice', conv, [r1, r2]);
    const bob = await client('bob', conv, [r2, r1]);
    const carol = await client('carol', conv, [r1, r2]);
    const ack = async (c: ClusterClient, frame: { type: string; [k: string]: unknown }) => {
      const reply = await c.ask(frame);
      assert.equal(reply.type, 'ack', `${c.user}: ${JSON.stringify(frame)} → ${JSON.stringify(reply)}`);
      return reply as Extract<ServerFrame, { type: 'ack' }>;
    };
    const rounds = 12;
    let carolAway = false;
    for (let i = 0; i < rounds; i++) {
      // Carol's connection drops for a third of the run; she comes back through the other relay.
      if (i === 3) {
        await carol.disconnect();
        carolAway = true;
      }
      if (i === 7) {
        await carol.reconnect(r2);
        carolAway = false;
      }
      const a = `a${i}`;
      const b = `b${i}`;
      // Concurrent from both relays: a message each, a reply to the other's, reactions on both.
      await Promise.all([
        ack(alice, { type: 'send', id: a, text: `alice ${i}` }),
        ack(bob, { type: 'send', id: b, text: `bob ${i}` }),
      ]);
      await Promise.all([
        ack(alice, { type: 'send', id: `${a}-re`, text: `re ${b}`, reply: b }),
        ack(bob, { type: 'react', id: a, emoji: '👍', on: true }),
        ack(alice, { type: 'react', id: a, emoji: '👍', on: true }),
        ack(alice, { type: 'react', id: b, emoji: '🎉', on: true }),
        ack(bob, { type: 'react', id: b, emoji: '🎉', on: true }),
        ack(alice, { type: 'edit', id: a, text: `alice ${i}, edited` }),
      ]);
      if (i % 3 === 0) await ack(bob, { type: 'delete', id: b });
      if (i % 4 === 1) await ack(bob, { type: 'react', id: a, emoji: '👍', on: false });
      if (i % 5 === 2) await ack(alice, { type: 'edit', id: a, text: `alice ${i}, edited twice` });
    }
    assert.equal(carolAway, false);
    // A retried change on the other relay changes nothing and fans out nothing.
    const head = (await ack(alice, { type: 'send', id: 'last', text: 'the end' })).seq;
    const retried = await ack(bob, { type: 'react', id: 'a0', emoji: '👍', on: true });
    assert.ok(retried.seq < head, 'acked with the message\'s rev, not a new seq');
    for (const c of [alice, bob, carol]) await c.until(() => c.contiguous === head, `all ${head} events`, 60_000);

    const reader = await TestClient.login(r1, { token: await token('reader') });
    await reader.join(conv, { after: head });
    reader.send({ type: 'history', conv, limit: 200, ref: 'page' });
    const page = await reader.next((f) => f.type === 'history');
    assert.ok(page.type === 'history' && !page.more);
    const stored = new Map(page.messages.map((m) => [m.id, m as Msg]));
    assert.equal(stored.size, rounds * 3 + 1);
    assert.deepEqual(withCurrentQuotes(stored), stored, 'the store quotes messages as they are now');
    for (const c of [alice, bob, carol]) assert.deepEqual(withCurrentQuotes(c.view), stored, `${c.user} shows exactly what is stored`);
    for (const c of [alice, bob]) {
      assert.deepEqual([...c.deliveries].filter(([, n]) => n !== 1), [], `${c.user}: every event exactly once`);
      assert.equal(c.reconnects, 0);
    }
    assert.ok(carol.reconnects >= 1);
    // Spot checks of the state the three agree on.
    const a0 = stored.get('a0')!;
    assert.deepEqual([a0.text, a0.reactions?.['👍']?.sort()], ['alice 0, edited', ['alice', 'bob']]);
    assert.equal(stored.get('b0')!.deleted, true);
    assert.deepEqual(stored.get('a0-re')!.reply, { id: 'b0', seq: stored.get('b0')!.seq, from: { id: 'bob', name: 'bob' }, deleted: true });
    assert.deepEqual(stored.get('a1')!.reactions, { '👍': ['alice'] });
    reader.close();
    for (const c of [alice, bob, carol]) c.close();
  });

  test('presence and bans - cross relays: online at once, offline after the grace; a ban removes every tab on every relay', async () => {
    const [r1, r2] = urls();
    const conv = 'v11-presence';
    const alice = await client('alice', conv, [r1]);
    const bob = await client('bob', conv, [r2]);
    await alice.until(() => alice.presence.some((p) => p.user === 'bob' && p.online), 'bob online, seen from the other relay');
    assert.deepEqual(
      bob.lastJoined!.members.map((m) => [m.id, m.online]).sort(),
      [
        ['alice', true],
        ['bob', true],
      ],
      'joined.members knows who is online on the other relay',
    );
    bob.close();
    const left = Date.now();
    await alice.until(() => alice.presence.some((p) => p.user === 'bob' && !p.online), 'bob offline after the grace');
    const offline = alice.presence.find((p) => p.user === 'bob' && !p.online)!;
    assert.ok(offline.seen! >= left - 1000 && offline.seen! <= Date.now(), 'seen is when his last connection left');

    // bob has a tab on each relay; a moderator on the first bans him.
    const bobTabs = [await client('bob', conv, [r1]), await client('bob', conv, [r2])];
    const mod = await client('mia', conv, [r1], 'moderator');
    const ack = await mod.ask({ type: 'ban', user: 'bob' });
    assert.deepEqual(ack.type === 'ack' && ack.id, 'ban:bob');
    for (const tab of bobTabs) {
      await tab.until(() => tab.errors.some((e) => e.code === ErrorCode.forbidden && e.conv === conv), 'removed on its relay');
    }
    const count = bobTabs.map((t) => t.held.size);
    await alice.ask({ type: 'send', id: 'after-ban', text: 'bob no longer hears this' });
    await mod.until(() => mod.view.has('after-ban'), 'the marker');
    assert.deepEqual(bobTabs.map((t) => t.held.size), count, 'nothing more for bob on either relay');
    for (const url of [r1, r2]) {
      const again = await TestClient.login(url, { token: await token('bob') });
      again.send({ type: 'join', conv, ref: 'j' });
      const refused = await again.next((f) => 'ref' in f && f.ref === 'j');
      assert.deepEqual(refused.type === 'error' && [refused.code, refused.conv], [ErrorCode.forbidden, conv], `refused on ${url}`);
      again.close();
    }
    await alice.until(() => alice.presence.filter((p) => p.user === 'bob' && !p.online).length === 2, 'bob offline again once removed');
    for (const c of [alice, mod, ...bobTabs]) c.close();
  });

  test('presence - a relay that is killed takes its users offline on the other within the stale time', async () => {
    const [r1, r2] = urls();
    const conv = 'v11-killed';
    const alice = await client('alice', conv, [r1]);
    const bob = await client('bob', conv, [r2]);
    await alice.until(() => alice.presence.some((p) => p.user === 'bob' && p.online), 'bob online');
    // SIGKILL: relay two cannot say goodbye; bob's client knows no other relay, so he is gone.
    await cluster.relays[1]!.kill();
    await alice.until(() => alice.presence.some((p) => p.user === 'bob' && !p.online), `bob offline within ${PRESENCE.staleMs} ms`, 30_000);
    // The survivor stored when bob was last heard of.
    const reader = await TestClient.login(r1, { token: await token('reader') });
    const joined = await reader.join(conv);
    const member = joined.members.find((m) => m.id === 'bob')!;
    assert.equal(member.online, false);
    assert.ok(typeof member.seen === 'number');
    reader.close();
    alice.close();
    bob.close();
  });
});
