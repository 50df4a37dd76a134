/**
 * Protocol v1.1 end to end in the client core: real clients (over `ws`) against a real relay
 * process with a secret (so there are moderators): edits, deletes, reactions and replies reach
 * every client in the same state, also a client that joins later or comes back from its cache;
 * a refused change is rolled back; presence; a moderator's ban removes a user for good.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { JwtVerifier } from '../../relay/auth/jwt.js';
import { startRelay, type RelayProcess } from '../../relay/test/harness.js';
import { MemoryStorage } from './test/memory-storage.js';
import { makeClient, violations, waitFor } from './test/relay-client.js';
import type { ChatClient, ChatMessage, ChatSnapshot } from './types.js';

const SECRET = 'v11-'.repeat(10);
const jwt = new JwtVerifier(SECRET);
const clients: ChatClient[] = [];

async function client(relay: RelayProcess, user: string, conversation: string, options: { role?: string; storage?: MemoryStorage } = {}) {
  const token = await jwt.sign({ sub: user, name: user[0]!.toUpperCase() + user.slice(1), convs: ['*'], ...(options.role ? { role: options.role } : {}) });
  const made = makeClient({ relay: relay.wsUrl, user, conversation, token, ...(options.storage ? { storage: options.storage } : {}) });
  clients.push(made.client);
  await made.client.start();
  await waitFor(made.client, (s) => s.connection === 'open' && s.members.some((m) => m.id === user), `${user} joined`);
  return made.client;
}

/** What every client must agree on: each message's text, deletion, edit, reactions and quote. */
function state(snapshot: ChatSnapshot): unknown[] {
  return snapshot.messages.map((m: ChatMessage) => ({
    seq: m.seq,
    from: m.from.id,
    text: m.text,
    deleted: m.deleted ?? false,
    edited: m.edited !== undefined,
    reactions: (m.reactions ?? []).map((r) => `${r.emoji}:${r.users.join('+')}`),
    reply: m.reply ? `${m.reply.id}:${m.reply.deleted ? 'deleted' : m.reply.text}` : null,
  }));
}

const settled = (s: ChatSnapshot) => s.messages.every((m) => m.seq !== undefined && m.pending === undefined && m.status !== 'sending');

afterEach(() => {
  for (const c of clients.splice(0)) c.dispose();
  assert.deepEqual(violations.splice(0), [], 'snapshot invariants');
});

describe('client v1.1 against a relay', () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay({ env: { CHAT_JWT_SECRET: SECRET, PRESENCE_GRACE_MS: '200' } });
  });

  after(async () => {
    await relay.dispose();
  });

  test('client v1.1 - edits, deletes, reactions and replies end in the same state everywhere, also after a reload and for a late joiner', async () => {
    const conv = 'v11-state';
    const aliceStorage = new MemoryStorage();
    const alice = await client(relay, 'alice', conv, { storage: aliceStorage });
    const bob = await client(relay, 'bob', conv);
    const first = alice.send('frist');
    const second = alice.send('to be deleted');
    await waitFor(bob, (s) => s.messages.length === 2, 'bob has both');
    alice.edit(first.id, 'first');
    bob.react(first.id, '👍', true);
    alice.react(first.id, '👍', true);
    bob.react(first.id, '🎉', true);
    bob.react(first.id, '🎉', false);
    const answer = bob.send('quoting you', { reply: first.id });
    alice.delete(second.id);
    // Bob may not delete Alice's message (he is no moderator): shown deleted at once, then rolled back with the code.
    bob.delete(first.id);
    assert.equal(bob.snapshot.messages.find((m) => m.id === first.id)?.deleted, true);
    await waitFor(bob, (s) => s.messages.find((m) => m.id === first.id)?.changeError?.code === 'forbidden', 'bob’s delete refused');
    assert.equal(bob.snapshot.messages.find((m) => m.id === first.id)?.deleted, undefined);

    const expected = [
      { seq: 1, from: 'alice', text: 'first', deleted: false, edited: true, reactions: ['👍:bob+alice'], reply: null },
      { seq: 2, from: 'alice', text: undefined, deleted: true, edited: false, reactions: [], reply: null },
      { seq: answer.seq ?? 3, from: 'bob', text: 'quoting you', deleted: false, edited: false, reactions: [], reply: `${first.id}:first` },
    ];
    const agreed = (s: ChatSnapshot) => settled(s) && JSON.stringify(state(s).map((m) => ({ ...(m as object), seq: 0 }))) === JSON.stringify(expected.map((m) => ({ ...m, seq: 0 })));
    const [atAlice, atBob] = await Promise.all([waitFor(alice, agreed, 'alice agrees'), waitFor(bob, agreed, 'bob agrees')]);
    assert.deepEqual(state(atAlice), state(atBob));
    assert.deepEqual(atAlice.messages.find((m) => m.id === first.id)?.reactions?.map((r) => r.mine), [true]);

    // A late joiner replays the log from the start; Alice comes back from her cache and catches up with join after.
    const carol = await client(relay, 'carol', conv);
    await waitFor(carol, agreed, 'carol agrees');
    alice.dispose();
    bob.react(answer.id, '❤️', true);
    const again = await client(relay, 'alice', conv, { storage: aliceStorage });
    const caughtUp = await waitFor(again, (s) => settled(s) && s.messages.at(-1)?.reactions?.[0]?.emoji === '❤️', 'alice caught up after reload');
    assert.deepEqual(state(caughtUp), state(await waitFor(bob, (s) => s.messages.at(-1)?.reactions?.length === 1, 'bob')));
  });

  test('client v1.1 - presence: members show online, and offline with seen after the grace', async () => {
    const conv = 'v11-presence';
    const alice = await client(relay, 'alice', conv);
    const bob = await client(relay, 'bob', conv);
    await waitFor(alice, (s) => s.members.find((m) => m.id === 'bob')?.online === true, 'bob online');
    bob.dispose();
    const gone = await waitFor(alice, (s) => s.members.find((m) => m.id === 'bob')?.online === false, 'bob offline');
    assert.equal(typeof gone.members.find((m) => m.id === 'bob')?.seen, 'number');
  });

  test('client v1.1 - a moderator bans a user: the user is removed for good, a later join is refused', async () => {
    const conv = 'v11-ban';
    const mod = await client(relay, 'mia', conv, { role: 'moderator' });
    const bob = await client(relay, 'bob', conv);
    assert.equal(mod.snapshot.moderator, true);
    assert.equal(bob.snapshot.moderator, false);
    assert.deepEqual(await bob.ban('mia'), { ok: false, error: { code: 'forbidden' } });
    const spam = bob.send('spam');
    await waitFor(mod, (s) => s.messages.some((m) => m.id === spam.id), 'the moderator sees it');
    mod.delete(spam.id);
    assert.deepEqual(await mod.ban('bob'), { ok: true });
    const removed = await waitFor(bob, (s) => s.refusal !== null, 'bob removed');
    assert.deepEqual(removed.refusal, { code: 'forbidden', params: { reason: 'removed' } });
    await waitFor(mod, (s) => s.messages.find((m) => m.id === spam.id)?.deleted === true && s.members.find((m) => m.id === 'bob')?.banned === true, 'deleted and banned');
    const later = await jwt.sign({ sub: 'bob', name: 'Bob', convs: ['*'] });
    const retry = makeClient({ relay: relay.wsUrl, user: 'bob', conversation: conv, token: later }).client;
    clients.push(retry);
    await retry.start();
    const refused = await waitFor(retry, (s) => s.refusal !== null, 'join refused');
    assert.deepEqual(refused.refusal, { code: 'forbidden', params: { reason: 'conversation' } });
  });
});
