/**
 * Protocol v1.1 against a real relay (JWT mode, so moderators exist): edits, deletes,
 * reactions, replies, every refusal the spec lists, idempotent retries, the log in replay and
 * history, bans and presence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, type LogEvent, type ServerFrame } from '../../protocol/index.js';
import { JwtVerifier } from '../auth/jwt.js';
import { applyEvent } from './cluster-client.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

type Msg = Extract<ServerFrame, { type: 'msg' }>;
type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const signer = new JwtVerifier(SECRET);
/** Long enough for a reconnect on a busy machine, short enough to wait for. */
const GRACE_MS = 3000;

let nextRef = 0;
/** Sends a frame with a fresh ref and resolves the reply to it. */
async function ask(client: TestClient, frame: object): Promise<ServerFrame> {
  const ref = `q${++nextRef}`;
  client.send({ ...frame, ref });
  return client.next((f) => 'ref' in f && f.ref === ref);
}

async function refusal(client: TestClient, frame: object): Promise<[string, string | undefined, string | undefined]> {
  const reply = await ask(client, frame);
  assert.equal(reply.type, 'error', `expected a refusal of ${JSON.stringify(frame)}, got ${JSON.stringify(reply)}`);
  const error = reply as ErrorFrame;
  return [error.code, error.conv, error.id];
}

async function ackSeq(client: TestClient, frame: object): Promise<number> {
  const reply = await ask(client, frame);
  assert.equal(reply.type, 'ack', `expected an ack of ${JSON.stringify(frame)}, got ${JSON.stringify(reply)}`);
  return (reply as Extract<ServerFrame, { type: 'ack' }>).seq;
}

/** The messages a client shows after applying everything it received, as a v1.1 client must. */
function materialise(events: Iterable<LogEvent>): { view: Map<string, Msg>; applied: number } {
  const view = new Map<string, Msg>();
  let applied = 0;
  for (const event of events) applied += Number(applyEvent(view, event));
  return { view, applied };
}

function logOf(client: TestClient, conv: string): LogEvent[] {
  const events: LogEvent[] = [];
  for (const f of client.frames) {
    if ((f.type === 'msg' || f.type === 'update') && f.conv === conv) events.push(f);
    if (f.type === 'history' && f.conv === conv) events.push(...f.messages);
  }
  return events;
}

describe('v1.1 - changes, bans and presence on one relay', () => {
  let relay: RelayProcess;
  const login = async (user: string, extra: { role?: string } = {}) =>
    TestClient.login(relay.wsUrl, { token: await signer.sign({ sub: user, name: user[0]!.toUpperCase() + user.slice(1), convs: ['*'], ...extra }) });

  before(async () => {
    relay = await startRelay({
      env: { CHAT_JWT_SECRET: SECRET, PRESENCE_GRACE_MS: String(GRACE_MS), RATE_LIMIT: '2000', RATE_BURST: '2000' },
    });
  });
  after(() => relay.dispose());

  test('changes - edit, react, delete and reply: acked with the update seq, fanned out to everyone, materialised in history', async () => {
    const conv = 'ch-basic';
    const alice = await login('alice');
    const bob = await login('bob');
    await alice.join(conv);
    await bob.join(conv);
    assert.equal(await ackSeq(alice, { type: 'send', conv, id: 'm1', text: 'hello' }), 1);
    assert.equal(await ackSeq(alice, { type: 'edit', conv, id: 'm1', text: 'hello, world' }), 2);
    assert.equal(await ackSeq(bob, { type: 'react', conv, id: 'm1', emoji: '👍🏽', on: true }), 3);
    assert.equal(await ackSeq(alice, { type: 'react', conv, id: 'm1', emoji: '👍🏽', on: true }), 4);
    assert.equal(await ackSeq(bob, { type: 'send', conv, id: 'b1', text: 'a reply', reply: 'm1' }), 5);
    assert.equal(await ackSeq(bob, { type: 'react', conv, id: 'm1', emoji: '👍🏽', on: false }), 6);
    assert.equal(await ackSeq(alice, { type: 'delete', conv, id: 'm1' }), 7);
    for (const client of [alice, bob]) await client.until(() => client.frames.filter((f) => f.type === 'update').length === 5);
    const update = bob.frames.find((f): f is Extract<ServerFrame, { type: 'update' }> => f.type === 'update')!;
    assert.deepEqual(
      { ...update, ts: 0 },
      { type: 'update', conv, seq: 2, id: 'm1', by: { id: 'alice', name: 'Alice' }, ts: 0, edit: { text: 'hello, world' } },
    );
    const reply = bob.messages(conv).find((m) => m.id === 'b1')!;
    assert.deepEqual(reply.reply, { id: 'm1', seq: 1, from: { id: 'alice', name: 'Alice' }, text: 'hello, world' });
    // Live frames and a fresh history page end in the same state; the quote follows the quoted message.
    const live = materialise(logOf(alice, conv)).view;
    const page = await ask(await login('carol'), { type: 'history', conv, limit: 50 });
    assert.ok(page.type === 'history');
    const m1 = page.messages.find((m) => m.id === 'm1') as Msg;
    assert.deepEqual({ ...m1, edited: 0 }, { type: 'msg', conv, seq: 1, id: 'm1', from: { id: 'alice', name: 'Alice' }, ts: m1.ts, edited: 0, deleted: true, reactions: { '👍🏽': ['alice'] }, rev: 7 });
    assert.deepEqual((page.messages.find((m) => m.id === 'b1') as Msg).reply, { id: 'm1', seq: 1, from: { id: 'alice', name: 'Alice' }, deleted: true });
    assert.deepEqual(live.get('m1'), m1);
    alice.close();
    bob.close();
  });

  test('changes - every refusal in the spec answers its code with conv and id, and stores nothing', async () => {
    const conv = 'ch-refusals';
    const alice = await login('alice');
    const bob = await login('bob');
    const mod = await login('mia', { role: 'moderator' });
    for (const c of [alice, bob, mod]) await c.join(conv);
    await ackSeq(alice, { type: 'send', conv, id: 'a1', text: 'mine' });
    await ackSeq(alice, { type: 'send', conv, id: 'a2', text: 'deleted soon' });
    await ackSeq(mod, { type: 'delete', conv, id: 'a2' }); // a moderator may delete anyone's message
    const head = 3;
    const cases: Array<[string, TestClient, object, [string, string, string]]> = [
      ["another user's message: edit", bob, { type: 'edit', conv, id: 'a1', text: 'x' }, [ErrorCode.forbidden, conv, 'a1']],
      ["another user's message: delete", bob, { type: 'delete', conv, id: 'a1' }, [ErrorCode.forbidden, conv, 'a1']],
      ['a moderator edits only their own', mod, { type: 'edit', conv, id: 'a1', text: 'x' }, [ErrorCode.forbidden, conv, 'a1']],
      ['a deleted message: edit', alice, { type: 'edit', conv, id: 'a2', text: 'x' }, [ErrorCode.forbidden, conv, 'a2']],
      ['a deleted message: react', bob, { type: 'react', conv, id: 'a2', emoji: '👍', on: true }, [ErrorCode.forbidden, conv, 'a2']],
      ['unknown id: edit', alice, { type: 'edit', conv, id: 'zz', text: 'x' }, [ErrorCode.notFound, conv, 'zz']],
      ['unknown id: delete', alice, { type: 'delete', conv, id: 'zz' }, [ErrorCode.notFound, conv, 'zz']],
      ['unknown id: react', alice, { type: 'react', conv, id: 'zz', emoji: '👍', on: true }, [ErrorCode.notFound, conv, 'zz']],
      ['a word is not an emoji', bob, { type: 'react', conv, id: 'a1', emoji: 'like', on: true }, [ErrorCode.badFrame, conv, 'a1']],
      ['an emoji of 17 characters', bob, { type: 'react', conv, id: 'a1', emoji: '!'.repeat(17), on: true }, [ErrorCode.badFrame, conv, 'a1']],
      ['a blank edit', alice, { type: 'edit', conv, id: 'a1', text: '  ' }, [ErrorCode.badFrame, conv, 'a1']],
      ['an edit over the text limit', alice, { type: 'edit', conv, id: 'a1', text: 'x'.repeat(4001) }, [ErrorCode.tooLarge, conv, 'a1']],
      ['a reply to an unknown message', bob, { type: 'send', conv, id: 'b1', text: 're', reply: 'zz' }, [ErrorCode.badFrame, conv, 'b1']],
      ['a change in a conversation not joined', bob, { type: 'react', conv: 'elsewhere', id: 'a1', emoji: '👍', on: true }, [ErrorCode.notJoined, 'elsewhere', 'a1']],
    ];
    for (const [name, client, frame, expected] of cases) assert.deepEqual(await refusal(client, frame), expected, name);
    const banByMember = await refusal(bob, { type: 'ban', conv, user: 'alice' });
    assert.deepEqual(banByMember, [ErrorCode.forbidden, conv, undefined], 'only moderators ban');
    // 20 distinct emoji, then the 21st is refused.
    const emoji = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗🤩'];
    for (const e of emoji.slice(0, 20)) await ackSeq(bob, { type: 'react', conv, id: 'a1', emoji: e, on: true });
    assert.deepEqual(await refusal(bob, { type: 'react', conv, id: 'a1', emoji: emoji[20], on: true }), [ErrorCode.badFrame, conv, 'a1']);
    const joined = await (await login('dan')).join(conv);
    assert.equal(joined.head, head + 20, 'refusals stored nothing');
    assert.equal(alice.isOpen && bob.isOpen, true, 'refusals do not cost the connection');
    for (const c of [alice, bob, mod]) c.close();
  });

  test('changes - a retried change acks with the current rev and fans out nothing', async () => {
    const conv = 'ch-retry';
    const alice = await login('alice');
    const bob = await login('bob');
    await alice.join(conv);
    await bob.join(conv);
    await ackSeq(alice, { type: 'send', conv, id: 'm1', text: 'v1' });
    assert.equal(await ackSeq(alice, { type: 'edit', conv, id: 'm1', text: 'v2' }), 2);
    assert.equal(await ackSeq(bob, { type: 'react', conv, id: 'm1', emoji: '❤️', on: true }), 3);
    // Every one of these changes nothing (an outbox resending after a lost ack): the rev, 3.
    assert.equal(await ackSeq(alice, { type: 'edit', conv, id: 'm1', text: 'v2' }), 3);
    assert.equal(await ackSeq(bob, { type: 'react', conv, id: 'm1', emoji: '❤️', on: true }), 3);
    assert.equal(await ackSeq(alice, { type: 'react', conv, id: 'm1', emoji: '❤️', on: false }), 3, 'taking back a reaction never put on');
    assert.equal(await ackSeq(alice, { type: 'delete', conv, id: 'm1' }), 4);
    assert.equal(await ackSeq(alice, { type: 'delete', conv, id: 'm1' }), 4);
    // A marker message goes out after anything those could have fanned out.
    await ackSeq(alice, { type: 'send', conv, id: 'marker', text: 'end' });
    await bob.until(() => bob.messages(conv).some((m) => m.id === 'marker'));
    assert.deepEqual(
      bob.frames.filter((f) => f.type === 'update').map((f) => f.type === 'update' && f.seq),
      [2, 3, 4],
      'one update per change that changed something',
    );
    alice.close();
    bob.close();
  });

  test('replay - join after and history after return the log in seq order; history before only messages; nothing applied twice', async () => {
    const conv = 'ch-replay';
    const alice = await login('alice');
    await alice.join(conv);
    for (let i = 1; i <= 6; i++) {
      alice.send({ type: 'send', conv, id: `m${i}`, text: `text ${i}` });
      alice.send({ type: 'edit', conv, id: `m${i}`, text: `edited ${i}` });
    }
    alice.send({ type: 'react', conv, id: 'm1', emoji: '🎉', on: true });
    alice.send({ type: 'delete', conv, id: 'm2' });
    await alice.until(() => alice.frames.filter((f) => f.type === 'ack').length === 14);
    assert.deepEqual(alice.frames.filter((f) => f.type === 'error'), [], 'each edit found the message sent right before it');
    // bob held seq 1..5 (m1..m3 as they were then), was away, and rejoins with `join after`.
    const bob = await login('bob');
    const held = await ask(bob, { type: 'history', conv, after: 0, limit: 5 });
    assert.ok(held.type === 'history' && held.more);
    assert.deepEqual(held.messages.map((e) => e.type), ['msg', 'update', 'msg', 'update', 'msg']);
    await bob.join(conv, { after: 5 });
    await bob.until(() => bob.frames.some((f) => (f.type === 'msg' || f.type === 'update') && f.seq === 14));
    const replayed = bob.frames.filter((f) => f.type === 'msg' || f.type === 'update');
    assert.deepEqual(replayed.map((f) => (f.type === 'msg' || f.type === 'update') && f.seq), [6, 7, 8, 9, 10, 11, 12, 13, 14]);
    const gap = await ask(bob, { type: 'history', conv, after: 10, limit: 50 });
    assert.ok(gap.type === 'history');
    assert.deepEqual(gap.messages.map((e) => [e.type, e.seq]), [['msg', 11], ['update', 12], ['update', 13], ['update', 14]]);
    const older = await ask(bob, { type: 'history', conv, before: 14, limit: 50 });
    assert.ok(older.type === 'history');
    assert.deepEqual(older.messages.map((e) => [e.type, e.seq]), [['msg', 1], ['msg', 3], ['msg', 5], ['msg', 7], ['msg', 9], ['msg', 11]], 'messages only');
    // Everything bob received, applied with the rev rule, equals the current state, each message applied once.
    const { view, applied } = materialise(logOf(bob, conv));
    const current = materialise(older.messages).view;
    assert.deepEqual(view, current);
    assert.equal(applied, 6, 'six messages, each applied once in its current state; no update applied on top of it');
    alice.close();
    bob.close();
  });

  test('bans - a moderator bans: acked with the head; the user is removed, refused join, history and upload, shown banned to moderators', async () => {
    const conv = 'ch-ban';
    const mod = await login('mia', { role: 'moderator' });
    const bob = await login('bob');
    const bobTab = await login('bob');
    const alice = await login('alice');
    for (const c of [mod, bob, bobTab, alice]) await c.join(conv);
    await ackSeq(alice, { type: 'send', conv, id: 'm1', text: 'hi' });
    const ack = await ask(mod, { type: 'ban', conv, user: 'bob' });
    assert.deepEqual(ack.type === 'ack' && [ack.conv, ack.id, ack.seq], [conv, 'ban:bob', 1]);
    for (const tab of [bob, bobTab]) {
      const removed = await tab.next((f) => f.type === 'error' && f.code === ErrorCode.forbidden);
      assert.equal(removed.type === 'error' && removed.conv, conv);
    }
    const before = bob.frames.length;
    await ackSeq(alice, { type: 'send', conv, id: 'm2', text: 'bob no longer hears this' });
    assert.deepEqual(await refusal(bob, { type: 'join', conv }), [ErrorCode.forbidden, conv, undefined]);
    assert.deepEqual(await refusal(bob, { type: 'history', conv }), [ErrorCode.forbidden, conv, undefined]);
    assert.deepEqual(await refusal(bob, { type: 'send', conv, id: 'b1', text: 'x' }), [ErrorCode.forbidden, conv, 'b1']);
    assert.deepEqual(await refusal(bobTab, { type: 'react', conv, id: 'm1', emoji: '👍', on: true }), [ErrorCode.forbidden, conv, 'm1']);
    assert.deepEqual(bob.frames.slice(before).filter((f) => f.type !== 'error'), [], 'no more events of the conversation');
    const upload = await fetch(`${relay.httpUrl}/upload?conv=${conv}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${await signer.sign({ sub: 'bob', convs: ['*'] })}`, 'Content-Type': 'text/plain', 'X-File-Name': 'a.txt' },
      body: 'hello',
    });
    assert.equal(upload.status, 403);
    const modView = await mod.join(conv);
    assert.equal(modView.members.find((m) => m.id === 'bob')?.banned, true);
    const aliceView = await alice.join(conv);
    assert.equal(aliceView.members.find((m) => m.id === 'bob')?.banned, undefined, 'only moderators see bans');
    // A ban with an end: refused until then, welcome again after.
    const carol = await login('carol');
    await carol.join(conv);
    const until = Date.now() + 4000;
    await ackSeq(mod, { type: 'ban', conv, user: 'carol', until });
    await carol.next((f) => f.type === 'error' && f.code === ErrorCode.forbidden);
    assert.deepEqual(await refusal(carol, { type: 'join', conv }), [ErrorCode.forbidden, conv, undefined]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now() + 100)));
    assert.equal((await carol.join(conv)).type, 'joined');
    for (const c of [mod, bob, bobTab, alice, carol]) c.close();
  });

  test('presence - online at once for everyone, offline only after the grace (no flap on a reconnect), seen in members', async () => {
    const conv = 'ch-presence';
    const alice = await login('alice');
    await alice.join(conv);
    const bob = await login('bob');
    const joined = await bob.join(conv);
    assert.deepEqual(joined.members.map((m) => [m.id, m.online]).sort(), [['alice', true], ['bob', true]]);
    await alice.next((f) => f.type === 'presence' && f.user === 'bob' && f.online);
    // bob's page reloads: his connection goes and a new one joins within the grace.
    bob.close();
    const bobAgain = await login('bob');
    await bobAgain.join(conv);
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS * 2));
    assert.equal(alice.frames.filter((f) => f.type === 'presence' && f.user === 'bob').length, 1, 'no offline/online flap');
    const left = Date.now();
    bobAgain.close();
    const offline = await alice.next((f) => f.type === 'presence' && f.user === 'bob' && !f.online);
    assert.ok(offline.type === 'presence' && offline.seen! >= left - 100 && offline.seen! <= Date.now());
    const carol = await login('carol');
    const view = await carol.join(conv);
    const bobMember = view.members.find((m) => m.id === 'bob')!;
    assert.deepEqual([bobMember.online, bobMember.seen], [false, offline.type === 'presence' && offline.seen]);
    alice.close();
    carol.close();
  });
});

describe('v1.1 - open mode', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('moderators - open mode has none: a role cannot be claimed, so ban and deleting others are forbidden', async () => {
    const conv = 'open-mod';
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const mallory = await TestClient.connect(relay.wsUrl);
    mallory.send({ type: 'hello', v: 1, user: 'mallory', role: 'moderator' });
    await mallory.next((f) => f.type === 'welcome');
    await alice.join(conv);
    await mallory.join(conv);
    assert.equal(mallory.frames[0]?.type === 'welcome' && mallory.frames[0].role, undefined);
    await ackSeq(alice, { type: 'send', conv, id: 'a1', text: 'hi' });
    assert.deepEqual(await refusal(mallory, { type: 'delete', conv, id: 'a1' }), [ErrorCode.forbidden, conv, 'a1']);
    assert.deepEqual(await refusal(mallory, { type: 'ban', conv, user: 'alice' }), [ErrorCode.forbidden, conv, undefined]);
    alice.close();
    mallory.close();
  });
});
