/**
 * Protocol v1.1 in the hub, without sockets: two hubs (two relays) over one in-memory store
 * and an in-process bus network, with an injected clock for presence. Edits, deletes,
 * reactions, replies, their refusals and idempotence, replay, bans, presence, the server
 * commands and the observer.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ErrorCode, type ServerFrame } from '../../protocol/index.js';
import { InlineSqliteStore } from '../store/sqlite-inline.js';
import type { Store } from '../store/types.js';
import { applyEvent } from '../test/cluster-client.js';
import { FakeClock, FakeSocket, MemoryNetwork, settle, silent, type MemoryBus } from '../test/fakes.js';
import { Authenticator, type TokenVerifier } from './handshake.js';
import { Hub, type HubObserver, type Session } from './index.js';

type Msg = Extract<ServerFrame, { type: 'msg' }>;

/** Tokens are the claims as JSON: the signature is jwt.ts's business, not the hub's. */
const verifier: TokenVerifier = { verify: async (token) => JSON.parse(token) as Record<string, unknown> };
const token = (sub: string, extra: object = {}) => JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600, convs: ['*'], ...extra });

interface Relay {
  hub: Hub;
  bus: MemoryBus;
  clock: FakeClock;
}

class Cluster {
  readonly clock = new FakeClock();
  readonly network = new MemoryNetwork();
  readonly store = new InlineSqliteStore({ path: ':memory:' });
  readonly relays: Relay[] = [];
  private readonly _hubs: Hub[] = [];

  async relay(observer?: HubObserver): Promise<Relay> {
    let bus!: MemoryBus;
    const factory = this.network.factory();
    // The store is shared: only the test closes it.
    const shared: Store = Object.assign(Object.create(this.store) as Store, { close: async () => {} });
    const hub = new Hub({
      store: shared,
      busFactory: async (handlers) => (bus = (await factory(handlers)) as MemoryBus),
      auth: new Authenticator({ verifier }),
      files: { describe: async (url) => (url === '/files/f1' ? { name: 'a.png', type: 'image/png', size: 3, conv: 'c' } : null) },
      logger: silent,
      maxUploadBytes: 1000,
      clock: this.clock,
      ...(observer ? { observer } : {}),
    });
    await hub.start();
    this._hubs.push(hub);
    const relay = { hub, bus, clock: this.clock };
    this.relays.push(relay);
    return relay;
  }

  async dispose(): Promise<void> {
    for (const hub of this._hubs) await hub.shutdown();
    await this.store.close();
  }
}

class Client {
  readonly socket = new FakeSocket();
  readonly session: Session;
  private _ref = 0;

  constructor(
    readonly relay: Relay,
    readonly user: string,
  ) {
    this.session = relay.hub.open(this.socket);
  }

  static async login(relay: Relay, user: string, claims: object = {}): Promise<Client> {
    const client = new Client(relay, user);
    client.send({ type: 'hello', v: 1, token: token(user, { name: user.toUpperCase(), ...claims }) });
    await until(() => client.socket.frames.length > 0);
    assert.equal(client.socket.frames[0]?.type, 'welcome', JSON.stringify(client.socket.frames[0]));
    return client;
  }

  send(frame: object): void {
    this.relay.hub.message(this.session, JSON.stringify(frame));
  }

  /** Sends a frame with a fresh ref and returns the reply to it. */
  async ask(frame: object): Promise<ServerFrame> {
    const ref = `r${++this._ref}`;
    this.send({ ...frame, ref });
    await until(() => this.socket.reply(ref) !== undefined);
    return this.socket.reply(ref)!;
  }

  async join(conv: string, extra: object = {}): Promise<Extract<ServerFrame, { type: 'joined' }>> {
    const reply = await this.ask({ type: 'join', conv, ...extra });
    assert.equal(reply.type, 'joined', JSON.stringify(reply));
    await settle(5);
    // Presence changes leave at the end of the event-loop turn (a timer of 0 on the hub's clock).
    this.relay.clock.advance(0);
    await settle(5);
    return reply as Extract<ServerFrame, { type: 'joined' }>;
  }

  /** The materialised messages this client would show, from every msg and update it received. */
  view(conv: string): Map<string, Msg> {
    const view = new Map<string, Msg>();
    for (const frame of this.socket.frames) {
      if ((frame.type === 'msg' || frame.type === 'update') && frame.conv === conv) applyEvent(view, frame);
      if (frame.type === 'history' && frame.conv === conv) for (const event of frame.messages) applyEvent(view, event);
    }
    return view;
  }

  errors() {
    return this.socket.of('error').map((e) => ({ code: e.code, conv: e.conv, id: e.id }));
  }
}

/** Waits (polling, real time) until `condition` holds; a busy machine only makes it slower. */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await settle(5);
  }
}

let cluster: Cluster;
afterEach(async () => {
  await cluster?.dispose();
});

test('v1.1 hub - edit, delete and react: acked with the update seq, fanned out on both relays; a retry acks the current rev and fans out nothing', async () => {
  cluster = new Cluster();
  const [one, two] = [await cluster.relay(), await cluster.relay()];
  const alice = await Client.login(one, 'alice');
  const bob = await Client.login(two, 'bob');
  await alice.join('c');
  await bob.join('c');
  const sent = await alice.ask({ type: 'send', conv: 'c', id: 'm1', text: 'hello' });
  assert.deepEqual(sent.type === 'ack' && [sent.conv, sent.id, sent.seq, sent.ts], ['c', 'm1', 1, cluster.clock.now()]);
  const edit = await alice.ask({ type: 'edit', conv: 'c', id: 'm1', text: 'hello, world' });
  assert.deepEqual(edit.type === 'ack' && [edit.id, edit.seq], ['m1', 2]);
  const react = await bob.ask({ type: 'react', conv: 'c', id: 'm1', emoji: '👍', on: true });
  assert.deepEqual(react.type === 'ack' && [react.id, react.seq], ['m1', 3]);
  await until(() => bob.socket.of('update').length === 2);
  const updates = bob.socket.of('update');
  assert.deepEqual(
    updates.map((u) => [u.seq, u.id, u.by.id, u.edit?.text ?? null, u.react ?? null]),
    [
      [2, 'm1', 'alice', 'hello, world', null],
      [3, 'm1', 'bob', null, { emoji: '👍', on: true }],
    ],
  );
  assert.deepEqual(alice.socket.of('update').map((u) => u.seq), [2, 3], 'the author gets the updates too, once each');

  // Retries: the same edit, the same reaction: acked with the current rev (3), nothing stored or fanned out.
  const again = await alice.ask({ type: 'edit', conv: 'c', id: 'm1', text: 'hello, world' });
  assert.deepEqual(again.type === 'ack' && again.seq, 3);
  const reactAgain = await bob.ask({ type: 'react', conv: 'c', id: 'm1', emoji: '👍', on: true });
  assert.deepEqual(reactAgain.type === 'ack' && reactAgain.seq, 3);
  assert.equal(await cluster.store.head('c'), 3);

  const del = await alice.ask({ type: 'delete', conv: 'c', id: 'm1' });
  assert.deepEqual(del.type === 'ack' && del.seq, 4);
  const delAgain = await alice.ask({ type: 'delete', conv: 'c', id: 'm1' });
  assert.deepEqual(delAgain.type === 'ack' && delAgain.seq, 4, 'already deleted: acked with the rev');
  // A marker after everything: the bus keeps order, so anything the retries fanned out would be in before it.
  await alice.ask({ type: 'send', conv: 'c', id: 'marker', text: 'end' });
  await until(() => bob.socket.of('msg').some((m) => m.id === 'marker') && alice.socket.of('msg').some((m) => m.id === 'marker'));
  assert.deepEqual(bob.socket.of('update').map((u) => u.seq), [2, 3, 4], 'the retries fanned out nothing');
  const final = bob.view('c').get('m1')!;
  assert.equal(final.deleted, true);
  assert.equal(final.text, undefined);
  assert.equal(final.rev, 4);
  assert.deepEqual(final.reactions, { '👍': ['bob'] }, 'reactions stay on a tombstone');
  assert.deepEqual(alice.view('c').get('m1'), final);
});

test('v1.1 hub - every refusal of a change answers its code with conv and id; nothing is stored for it', async () => {
  cluster = new Cluster();
  const one = await cluster.relay();
  const alice = await Client.login(one, 'alice');
  const bob = await Client.login(one, 'bob');
  const mod = await Client.login(one, 'mod', { role: 'moderator' });
  for (const c of [alice, bob, mod]) await c.join('c');
  const welcomes = [mod, bob].map((c) => c.socket.of('welcome')[0]);
  assert.deepEqual(welcomes.map((w) => w?.role), ['moderator', undefined], 'welcome says who moderates');
  await alice.ask({ type: 'send', conv: 'c', id: 'a1', text: 'mine' });
  await alice.ask({ type: 'send', conv: 'c', id: 'a2', text: 'to delete' });
  const refusal = async (client: Client, frame: object) => {
    const reply = await client.ask(frame);
    assert.equal(reply.type, 'error', JSON.stringify(reply));
    return reply.type === 'error' ? [reply.code, reply.conv, reply.id] : [];
  };
  assert.deepEqual(await refusal(bob, { type: 'edit', conv: 'c', id: 'a1', text: 'not yours' }), [ErrorCode.forbidden, 'c', 'a1']);
  assert.deepEqual(await refusal(bob, { type: 'delete', conv: 'c', id: 'a1' }), [ErrorCode.forbidden, 'c', 'a1']);
  assert.deepEqual(await refusal(mod, { type: 'edit', conv: 'c', id: 'a1', text: 'moderators delete, not edit' }), [ErrorCode.forbidden, 'c', 'a1']);
  assert.deepEqual(await refusal(bob, { type: 'edit', conv: 'c', id: 'nope', text: 'x' }), [ErrorCode.notFound, 'c', 'nope']);
  assert.deepEqual(await refusal(bob, { type: 'delete', conv: 'c', id: 'nope' }), [ErrorCode.notFound, 'c', 'nope']);
  assert.deepEqual(await refusal(bob, { type: 'react', conv: 'c', id: 'nope', emoji: '👍', on: true }), [ErrorCode.notFound, 'c', 'nope']);
  assert.deepEqual(await refusal(bob, { type: 'react', conv: 'c', id: 'a1', emoji: 'ok', on: true }), [ErrorCode.badFrame, 'c', 'a1'], 'an emoji is not a word');
  assert.deepEqual(await refusal(bob, { type: 'edit', conv: 'other', id: 'a1', text: 'x' }), [ErrorCode.notJoined, 'other', 'a1']);
  assert.deepEqual(await refusal(bob, { type: 'send', conv: 'c', id: 'b1', text: 're', reply: 'nope' }), [ErrorCode.badFrame, 'c', 'b1']);
  const head = await cluster.store.head('c');
  // 20 distinct emoji are fine; the 21st is a bad frame.
  const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩'];
  for (const e of emoji.slice(0, 20)) assert.equal((await bob.ask({ type: 'react', conv: 'c', id: 'a1', emoji: e, on: true })).type, 'ack');
  assert.deepEqual(await refusal(bob, { type: 'react', conv: 'c', id: 'a1', emoji: emoji[20], on: true }), [ErrorCode.badFrame, 'c', 'a1']);
  // A moderator deletes anyone's message; a deleted message is frozen for edits and reactions.
  assert.equal((await mod.ask({ type: 'delete', conv: 'c', id: 'a2' })).type, 'ack');
  assert.deepEqual(await refusal(alice, { type: 'edit', conv: 'c', id: 'a2', text: 'too late' }), [ErrorCode.forbidden, 'c', 'a2']);
  assert.deepEqual(await refusal(bob, { type: 'react', conv: 'c', id: 'a2', emoji: '👍', on: true }), [ErrorCode.forbidden, 'c', 'a2']);
  assert.equal(await cluster.store.head('c'), head + 21, 'only the 20 reactions and the delete were stored');
  // A reply to a message that exists quotes it.
  const reply = await bob.ask({ type: 'send', conv: 'c', id: 'b2', text: 'answer', reply: 'a1' });
  assert.equal(reply.type, 'ack');
  await until(() => bob.socket.of('msg').some((m) => m.id === 'b2'));
  const quoted = bob.socket.of('msg').find((m) => m.id === 'b2');
  assert.deepEqual(quoted?.reply && [quoted.reply.id, quoted.reply.from.id, quoted.reply.text], ['a1', 'alice', 'mine']);
});

test('v1.1 hub - an edit right behind its send finds the message; a join replay after updates applies nothing twice', async () => {
  cluster = new Cluster();
  const [one, two] = [await cluster.relay(), await cluster.relay()];
  const alice = await Client.login(one, 'alice');
  // Frames right behind the join, as an outbox flush sends them: each waits for the one before.
  alice.send({ type: 'join', conv: 'c' });
  for (let i = 1; i <= 5; i++) {
    alice.send({ type: 'send', conv: 'c', id: `m${i}`, text: `v0 of ${i}` });
    alice.send({ type: 'edit', conv: 'c', id: `m${i}`, text: `v1 of ${i}` });
    alice.send({ type: 'react', conv: 'c', id: `m${i}`, emoji: '🎉', on: true });
  }
  alice.send({ type: 'delete', conv: 'c', id: 'm3' });
  await until(() => alice.socket.of('ack').length + alice.socket.of('error').length >= 16);
  assert.deepEqual(alice.errors(), []);
  assert.deepEqual(alice.socket.of('ack').map((a) => a.seq), Array.from({ length: 16 }, (_, i) => i + 1));
  // A client that held up to seq 4 (m1 with its edit and reaction, m2 as sent) catches up with `join after`.
  const bob = await Client.login(two, 'bob');
  const held = await bob.ask({ type: 'history', conv: 'c', after: 0, limit: 4 });
  assert.ok(held.type === 'history' && held.messages.length === 4);
  await bob.join('c', { after: 4 });
  await until(() => bob.socket.frames.some((f) => (f.type === 'msg' || f.type === 'update') && f.seq === 16));
  const replayed = bob.socket.frames.filter((f) => f.type === 'msg' || f.type === 'update');
  assert.deepEqual(replayed.map((f) => (f.type === 'msg' || f.type === 'update') && f.seq), Array.from({ length: 12 }, (_, i) => i + 5), 'the log from seq 5, in order');
  // Replayed msgs come in their current state: the updates after them in the replay are already in (seq <= rev).
  const view = new Map<string, Msg>();
  let applied = 0;
  for (const frame of bob.socket.frames) {
    if (frame.type === 'history') for (const e of frame.messages) applied += Number(applyEvent(view, e));
    if (frame.type === 'msg' || frame.type === 'update') applied += Number(applyEvent(view, frame));
  }
  const m2 = view.get('m2')!;
  assert.deepEqual([m2.text, m2.rev, m2.reactions], ['v1 of 2', 6, { '🎉': ['alice'] }]);
  assert.equal(view.get('m3')!.deleted, true);
  // History gave m1 and m2 in their current state (m2 already at rev 6), so updates 2, 3, 5 and 6
  // were in; the replay adds m3..m5 in their current state, and every update after them is already in.
  assert.equal(applied, 2 + 3, 'each message applied once, no update applied on top of a state that has it');
  // The same state as a fresh reader.
  const fresh = await Client.login(one, 'carol');
  const page = await fresh.ask({ type: 'history', conv: 'c', limit: 50 });
  assert.ok(page.type === 'history');
  assert.deepEqual(page.messages.map((m) => m.type), ['msg', 'msg', 'msg', 'msg', 'msg'], '`before` pages hold messages only');
  assert.deepEqual(new Map(page.messages.map((m) => [m.id, m as Msg])), view);
});

test('v1.1 hub - bans: moderators only; the user is removed on every relay at once, then refused join, history and upload', async () => {
  cluster = new Cluster();
  const [one, two] = [await cluster.relay(), await cluster.relay()];
  const mod = await Client.login(one, 'mod', { role: 'moderator' });
  const bob1 = await Client.login(one, 'bob');
  const bob2 = await Client.login(two, 'bob');
  const alice = await Client.login(two, 'alice');
  for (const c of [mod, bob1, bob2, alice]) await c.join('c');
  await alice.ask({ type: 'send', conv: 'c', id: 'm1', text: 'hi' });
  const notMod = await alice.ask({ type: 'ban', conv: 'c', user: 'bob' });
  assert.deepEqual(notMod.type === 'error' && [notMod.code, notMod.conv], [ErrorCode.forbidden, 'c']);
  const ack = await mod.ask({ type: 'ban', conv: 'c', user: 'bob' });
  assert.deepEqual(ack.type === 'ack' && [ack.conv, ack.id, ack.seq], ['c', 'ban:bob', 1]);
  await until(() => [bob1, bob2].every((b) => b.socket.of('error').some((e) => e.code === ErrorCode.forbidden && e.ref === undefined)));
  for (const bob of [bob1, bob2]) {
    const removed = bob.socket.of('error').at(-1);
    assert.deepEqual(removed && [removed.code, removed.conv, removed.ref], [ErrorCode.forbidden, 'c', undefined], 'told on its own relay');
  }
  const before = bob2.socket.frames.length;
  await alice.ask({ type: 'send', conv: 'c', id: 'm2', text: 'after the ban' });
  // Once the others on both relays have it, the bus has delivered it everywhere.
  await until(() => [alice, mod].every((c) => c.socket.of('msg').some((m) => m.id === 'm2')));
  assert.equal(bob2.socket.frames.length, before, 'nothing more of the conversation');
  assert.equal(bob1.socket.of('msg').some((m) => m.id === 'm2'), false);
  const send = await bob2.ask({ type: 'send', conv: 'c', id: 'b1', text: 'let me in' });
  assert.deepEqual(send.type === 'error' && [send.code, send.conv, send.id], [ErrorCode.forbidden, 'c', 'b1'], 'banned, not merely not joined');
  const typing = await bob1.ask({ type: 'typing', conv: 'c', active: true });
  assert.deepEqual(typing.type === 'error' && typing.code, ErrorCode.forbidden);
  const join = await bob2.ask({ type: 'join', conv: 'c' });
  assert.deepEqual(join.type === 'error' && [join.code, join.conv], [ErrorCode.forbidden, 'c']);
  const history = await bob1.ask({ type: 'history', conv: 'c' });
  assert.deepEqual(history.type === 'error' && history.code, ErrorCode.forbidden);
  const identity = await new Authenticator({ verifier }).fromToken(token('bob'));
  assert.equal((await one.hub.uploadRefusal(identity, 'c'))?.code, ErrorCode.forbidden);
  assert.equal(await one.hub.uploadRefusal(identity, 'elsewhere'), null);
  // Moderators see who is banned; others do not.
  const modView = await mod.join('c');
  assert.equal(modView.members.find((m) => m.id === 'bob')?.banned, true);
  const aliceView = await alice.join('c');
  assert.equal(aliceView.members.find((m) => m.id === 'bob')?.banned, undefined);
  // Lifted through the server API: bob may join again.
  assert.deepEqual(await two.hub.server.unban('c', 'bob'), { ok: true, existed: true });
  assert.equal((await bob2.ask({ type: 'join', conv: 'c' })).type, 'joined');
  // A ban with an `until` ends by itself.
  const removals = bob2.socket.of('error').length;
  await mod.ask({ type: 'ban', conv: 'c', user: 'bob', until: cluster.clock.now() + 60_000 });
  await until(() => bob2.socket.of('error').length > removals);
  assert.equal((await bob2.ask({ type: 'join', conv: 'c' })).type, 'error');
  cluster.clock.advance(60_001);
  assert.equal((await bob2.ask({ type: 'join', conv: 'c' })).type, 'joined');
});

test('v1.1 hub - presence: online on the other relay at once, offline after the grace with seen; a dead relay\'s users go offline within 30 s', async () => {
  cluster = new Cluster();
  const [one, two] = [await cluster.relay(), await cluster.relay()];
  await settle();
  const bob = await Client.login(two, 'bob');
  await bob.join('c');
  const alice = await Client.login(one, 'alice');
  const joined = await alice.join('c');
  assert.deepEqual(
    joined.members.map((m) => [m.id, m.online]).sort(),
    [
      ['alice', true],
      ['bob', true],
    ],
  );
  cluster.clock.advance(0); // the change goes out at the end of the turn
  const aboutAlice = () => bob.socket.of('presence').filter((p) => p.user === 'alice');
  await until(() => aboutAlice().length > 0);
  assert.deepEqual(aboutAlice(), [{ type: 'presence', conv: 'c', user: 'alice', online: true }]);
  // Alice's tab reloads: gone and back within the grace, nobody is told.
  const left = cluster.clock.now();
  one.hub.closed(alice.session);
  cluster.clock.advance(3000);
  const again = await Client.login(one, 'alice');
  await again.join('c');
  cluster.clock.advance(10_000);
  await settle();
  assert.equal(aboutAlice().length, 1);
  // Now she leaves for good: offline once the grace is over, with the moment she left.
  const gone = cluster.clock.now();
  again.send({ type: 'leave', conv: 'c' });
  cluster.clock.advance(4999);
  await settle();
  assert.equal(aboutAlice().length, 1);
  cluster.clock.advance(1);
  await settle();
  assert.deepEqual(aboutAlice().at(-1), { type: 'presence', conv: 'c', user: 'alice', online: false, seen: gone });
  assert.ok(gone > left);
  const members = await two.hub.server.members('c');
  assert.ok(members.ok);
  assert.deepEqual(members.members.find((m) => m.id === 'alice')?.seen, gone, 'seen persisted');
  // Relay two dies with bob on it: relay one's clients see him go within 30 s.
  const carol = await Client.login(one, 'carol');
  await carol.join('c');
  assert.equal((await carol.join('c')).members.find((m) => m.id === 'bob')?.online, true);
  const died = cluster.clock.now();
  two.bus.kill();
  let offlineAfter = -1;
  for (let t = 0; t <= 30_000; t += 1000) {
    cluster.clock.advance(1000);
    await settle(2);
    if (carol.socket.of('presence').some((p) => p.user === 'bob' && !p.online)) {
      offlineAfter = cluster.clock.now() - died;
      break;
    }
  }
  assert.ok(offlineAfter > 0 && offlineAfter <= 30_000, `bob offline ${offlineAfter} ms after his relay died`);
  const after = await one.hub.server.members('c');
  assert.ok(after.ok);
  assert.deepEqual(after.members.map((m) => [m.id, m.online]).sort(), [['alice', false], ['bob', false], ['carol', true]]);
  assert.ok(after.members.find((m) => m.id === 'bob')!.seen! <= died, 'the survivors stored when bob was last heard of');
});

test('v1.1 hub - server commands: post fans out on every relay and is idempotent; change, members, ban', async () => {
  cluster = new Cluster();
  const [one, two] = [await cluster.relay(), await cluster.relay()];
  const alice = await Client.login(two, 'alice');
  await alice.join('c');
  const bot = { id: 'bot', name: 'Support bot' };
  const first = await one.hub.server.post('c', { id: 'p1', from: bot, text: 'hello from the backend' });
  assert.deepEqual(first, { ok: true, created: true, id: 'p1', seq: 1, ts: cluster.clock.now() });
  assert.deepEqual(await one.hub.server.post('c', { id: 'p1', from: bot, text: 'hello from the backend' }), { ...first, created: false });
  assert.deepEqual(await one.hub.server.post('c', { id: 'p1', from: { id: 'other', name: 'X' }, text: 'x' }), { ok: false, code: ErrorCode.conflict, message: 'message id p1 is taken by another sender' });
  const badReply = await one.hub.server.post('c', { id: 'p2', from: bot, text: 'x', reply: 'nope' });
  assert.equal(!badReply.ok && badReply.code, ErrorCode.badFrame);
  const badFile = await one.hub.server.post('c', { id: 'p3', from: bot, file: { url: '/files/nope', name: 'x', size: 1, type: 'x' } });
  assert.equal(!badFile.ok && badFile.code, ErrorCode.badFrame);
  const withFile = await one.hub.server.post('c', { id: 'p4', from: bot, file: { url: '/files/f1', name: 'claimed.exe', size: 999, type: 'x' } });
  assert.ok(withFile.ok);
  await until(() => alice.socket.of('msg').length >= 2);
  assert.deepEqual(alice.socket.of('msg').map((m) => [m.id, m.from.id]), [['p1', 'bot'], ['p4', 'bot']], 'fanned out on the other relay, once');
  assert.deepEqual(alice.socket.of('msg')[1]!.file, { url: '/files/f1', name: 'a.png', size: 3, type: 'image/png' }, 'the stored file, not the claim');

  await alice.ask({ type: 'send', conv: 'c', id: 'a1', text: 'rude words' });
  const edited = await one.hub.server.change('c', 'a1', { kind: 'edit', text: '[removed]' });
  assert.deepEqual(edited, { ok: true, seq: 4 });
  assert.deepEqual(await one.hub.server.change('c', 'a1', { kind: 'edit', text: '[removed]' }), { ok: true, seq: 4 }, 'a repeat: the current rev');
  assert.deepEqual((await one.hub.server.change('c', 'zz', { kind: 'delete' })).ok, false);
  assert.equal(((await one.hub.server.change('c', 'zz', { kind: 'delete' })) as { code: string }).code, ErrorCode.notFound);
  await until(() => alice.socket.of('update').length > 0);
  const update = alice.socket.of('update').at(-1)!;
  assert.deepEqual([update.seq, update.by, update.edit], [4, { id: 'server', name: 'Server' }, { text: '[removed]' }]);
  const history = await one.hub.server.history('c', { after: 0, limit: 10 });
  assert.ok(history.ok);
  assert.deepEqual(history.messages.map((m) => m.type), ['msg', 'msg', 'msg', 'update']);
  const members = await one.hub.server.members('c');
  assert.ok(members.ok);
  assert.deepEqual(members.members.map((m) => [m.id, m.online]), [['alice', true]]);
  assert.deepEqual(await one.hub.server.ban('c', 'alice'), { ok: true });
  await until(() => alice.socket.of('error').length > 0);
  assert.deepEqual(alice.socket.of('error').at(-1) && [alice.socket.of('error').at(-1)!.code, alice.socket.of('error').at(-1)!.conv], [ErrorCode.forbidden, 'c']);
  const banned = await two.hub.server.members('c');
  assert.ok(banned.ok && banned.members[0]!.banned === true, 'the server API sees bans');
  assert.equal((await one.hub.server.history('c', { before: 1, after: 1, limit: 1 })).ok, false);
  assert.equal((await one.hub.server.members('bad id')).ok, false);
});

test('v1.1 hub - the observer hears connections, joins, frames in and out, errors, appends and fan-out', async () => {
  const counts = new Map<string, number>();
  const count = (key: string, n = 1) => counts.set(key, (counts.get(key) ?? 0) + n);
  const observer: HubObserver = {
    connections: (d) => count('connections', d),
    joinedSessions: (d) => count('joined', d),
    frameIn: (type) => count(`in:${type}`),
    frameOut: (type, n) => count(`out:${type}`, n),
    error: (code) => count(`error:${code}`),
    appended: () => count('appended'),
    fannedOut: () => count('fannedOut'),
    busReconnected: () => count('reconnected'),
  };
  cluster = new Cluster();
  const one = await cluster.relay(observer);
  const alice = await Client.login(one, 'alice');
  const bob = await Client.login(one, 'bob');
  await alice.join('c');
  await bob.join('c');
  await alice.ask({ type: 'send', conv: 'c', id: 'm1', text: 'x' });
  await alice.ask({ type: 'edit', conv: 'c', id: 'm1', text: 'y' });
  await bob.ask({ type: 'edit', conv: 'c', id: 'm1', text: 'z' });
  alice.send({ type: 'nonsense' });
  await until(() => counts.get('error:bad_frame') === 1 && counts.get('fannedOut') === 2 && counts.get('out:update') === 2);
  assert.equal(counts.get('connections'), 2);
  assert.equal(counts.get('joined'), 2);
  assert.equal(counts.get('in:send'), 1);
  assert.equal(counts.get('in:edit'), 2);
  assert.equal(counts.get('in:invalid'), 1);
  assert.equal(counts.get('out:msg'), 2, 'one msg to each of two receivers');
  assert.equal(counts.get('out:update'), 2);
  assert.equal(counts.get('out:ack'), 2);
  assert.equal(counts.get('error:forbidden'), 1);
  assert.equal(counts.get('error:bad_frame'), 1);
  assert.equal(counts.get('appended'), 3);
  assert.equal(counts.get('fannedOut'), 2, 'once per stored event');
  one.hub.closed(bob.session);
  assert.equal(counts.get('connections'), 1);
  assert.equal(counts.get('joined'), 1);
});
