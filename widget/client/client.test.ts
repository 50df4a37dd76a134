/**
 * Integration: the real client core against a real relay process (relay/test/harness.ts),
 * over the `ws` package's WebSocket, with in-memory storage.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { startRelay, TestClient, type RelayProcess } from '../../relay/test/harness.js';
import type { ChatClient, ChatClientEvent, MessageStatus } from './types.js';
import { MemoryStorage } from './test/memory-storage.js';
import {
  confirmedTexts,
  deadPort,
  FAST,
  FetchXhr,
  joined,
  lossyWebSocket,
  makeClient,
  recordingWebSocket,
  violations,
  waitFor,
  waitUntil,
} from './test/relay-client.js';

const clients: ChatClient[] = [];
const testClients: TestClient[] = [];

function track<T extends { client: ChatClient }>(made: T): T {
  clients.push(made.client);
  return made;
}

async function login(relay: RelayProcess, user: string, conv: string): Promise<TestClient> {
  const client = await TestClient.login(relay.wsUrl, { user, name: user });
  testClients.push(client);
  await client.join(conv);
  return client;
}

/** Everything the relay stored in `conv`, read by a fresh protocol client. */
async function storedMessages(relay: RelayProcess, conv: string): Promise<Array<{ seq: number; id: string; text?: string }>> {
  const reader = await login(relay, 'reader', conv);
  const ref = `h-${Math.random()}`;
  reader.send({ type: 'history', conv, after: 0, limit: 200, ref });
  const reply = await reader.next((f) => f.type === 'history' && f.ref === ref);
  if (reply.type !== 'history') throw new Error('no history');
  return reply.messages.map((m) => ({ seq: m.seq, id: m.id, text: m.type === 'msg' ? m.text : undefined }));
}

afterEach(() => {
  for (const client of clients.splice(0)) client.dispose();
  for (const client of testClients.splice(0)) client.close();
  assert.deepEqual(violations.splice(0), [], 'snapshot invariants');
});

describe('client against a relay', () => {
  let relay: RelayProcess;

  before(async () => {
    relay = await startRelay({ env: { MAX_UPLOAD_BYTES: '100000' } });
  });

  after(async () => {
    await relay.dispose();
  });

  test('client - two clients chat and see each other’s messages in the same order', async () => {
    const conv = 'chat-two';
    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv }));
    const { client: bob } = track(makeClient({ relay: relay.wsUrl, user: 'bob', conversation: conv }));
    const bobEvents: ChatClientEvent[] = [];
    bob.on((event) => bobEvents.push(event));
    await Promise.all([alice.start(), bob.start()]);
    await Promise.all([waitFor(alice, joined('alice'), 'alice joined'), waitFor(bob, joined('bob'), 'bob joined')]);
    for (let i = 1; i <= 5; i++) {
      alice.send(`a${i}`);
      bob.send(`b${i}`);
    }
    const done = (s: typeof alice.snapshot) => s.messages.length === 10 && s.messages.every((m) => m.seq !== undefined && m.status !== 'sending');
    const [a, b] = await Promise.all([waitFor(alice, done, 'alice has all 10'), waitFor(bob, done, 'bob has all 10')]);
    assert.deepEqual(a.messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(a.messages.map((m) => m.id), b.messages.map((m) => m.id));
    assert.deepEqual(confirmedTexts(a).filter((t) => t?.startsWith('a')), ['a1', 'a2', 'a3', 'a4', 'a5']);
    assert.deepEqual(confirmedTexts(b).filter((t) => t?.startsWith('b')), ['b1', 'b2', 'b3', 'b4', 'b5']);
    assert.ok(a.messages.every((m) => m.own === (m.from.id === 'alice')));
    assert.equal(b.messages.find((m) => m.from.id === 'alice')?.from.name, 'Alice');
    const news = bobEvents.filter((e) => e.type === 'message').map((e) => (e.type === 'message' ? e.message.text : ''));
    assert.deepEqual(news, ['a1', 'a2', 'a3', 'a4', 'a5'], 'a message event for each message from others, none for own');
  });

  test('client - own message goes sending → sent → delivered → read as the other side receives and reads it', async () => {
    const conv = 'chat-status';
    // Bob has been a member before, but is away.
    const first = track(makeClient({ relay: relay.wsUrl, user: 'bob', conversation: conv })).client;
    await first.start();
    await waitFor(first, joined('bob'), 'bob joined once');
    first.dispose();

    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv }));
    await alice.start();
    await waitFor(alice, joined('alice'), 'alice joined');
    const seen: MessageStatus[] = [];
    const sent = alice.send('are you there?');
    const record = (status: MessageStatus | undefined) => {
      if (status && seen.at(-1) !== status) seen.push(status);
    };
    record(sent.status);
    alice.subscribe((s) => record(s.messages.find((m) => m.id === sent.id)?.status));
    await waitFor(alice, (s) => s.messages.some((m) => m.id === sent.id && m.status === 'sent'), 'sent');

    const { client: bob } = track(makeClient({ relay: relay.wsUrl, user: 'bob', conversation: conv }));
    await bob.start();
    const atBob = await waitFor(bob, (s) => s.messages.some((m) => m.id === sent.id), 'bob received it');
    await waitFor(alice, (s) => s.messages.some((m) => m.id === sent.id && m.status === 'delivered'), 'delivered');
    assert.deepEqual(alice.snapshot.messages.find((m) => m.id === sent.id)?.readBy, []);

    bob.markRead(atBob.messages.find((m) => m.id === sent.id)!.seq!);
    const read = await waitFor(alice, (s) => s.messages.some((m) => m.id === sent.id && m.status === 'read'), 'read');
    assert.deepEqual(read.messages.find((m) => m.id === sent.id)?.readBy, ['Bob']);
    assert.deepEqual(seen, ['sending', 'sent', 'delivered', 'read']);
  });

  test('client - a reloaded client shows its outbox as sending and resends it without duplicates', async () => {
    const conv = 'chat-reload';
    const storage = new MemoryStorage();
    // Written while the browser is offline: stays in the outbox.
    const offline = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, storage, internals: { network: { online: false, subscribe: () => () => {} } } })).client;
    await offline.start();
    assert.equal(offline.snapshot.connection, 'offline');
    const lostAck = offline.send('stored, but the ack was lost');
    const unsent = offline.send('never sent');
    await waitUntil(() => (storage.outbox() as unknown[] | undefined)?.length === 2, 'outbox saved');
    offline.dispose();

    // The relay already has the first one (as if the ack had been lost with the connection).
    const alice0 = await login(relay, 'alice', conv);
    alice0.send({ type: 'send', conv, id: lostAck.id, text: lostAck.text });
    await alice0.next((f) => f.type === 'ack');
    alice0.close();

    const { client: reloaded } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, storage }));
    await reloaded.start();
    const before = reloaded.snapshot.messages.filter((m) => m.id === lostAck.id || m.id === unsent.id);
    assert.deepEqual(before.map((m) => m.status), ['sending', 'sending'], 'shown at once, from storage');
    const done = await waitFor(reloaded, (s) => s.messages.length === 2 && s.messages.every((m) => m.seq !== undefined), 'both confirmed');
    assert.deepEqual(done.messages.map((m) => m.id), [lostAck.id, unsent.id]);
    const stored = await storedMessages(relay, conv);
    assert.deepEqual(stored.map((m) => m.id), [lostAck.id, unsent.id], 'each stored exactly once');
    await waitUntil(() => storage.outbox() === undefined, 'outbox emptied in storage');
  });

  test('client - a gap in the live stream is filled from history', async () => {
    const conv = 'chat-gap';
    let dropped = 0;
    const Lossy = lossyWebSocket((frame) => {
      const lose = frame.type === 'msg' && (frame.seq === 3 || frame.seq === 4);
      if (lose) dropped++;
      return lose;
    });
    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, WebSocket: Lossy }));
    await alice.start();
    await waitFor(alice, joined('alice'), 'alice joined');
    const bob = await login(relay, 'bob', conv);
    for (let i = 1; i <= 6; i++) bob.send({ type: 'send', conv, id: `bob-${i}`, text: `b${i}` });
    const done = await waitFor(alice, (s) => s.messages.length === 6, 'alice has all 6');
    assert.equal(dropped, 2, 'the socket really lost two messages');
    assert.deepEqual(done.messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(confirmedTexts(done), ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
  });

  test('client - a reload renders the cached history at once, then catches up', async () => {
    const conv = 'chat-cache';
    const storage = new MemoryStorage();
    const { client: first } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, storage }));
    await first.start();
    await waitFor(first, joined('alice'), 'joined');
    for (const text of ['one', 'two', 'three']) first.send(text);
    await waitFor(first, (s) => s.messages.filter((m) => m.status === 'sent').length === 3 && s.messages.every((m) => m.seq), 'three stored');
    first.dispose();
    await waitUntil(() => ((storage.find('chat-room:history:') as { messages?: unknown[] } | undefined)?.messages?.length ?? 0) === 3, 'cache written');

    const bob = await login(relay, 'bob', conv);
    bob.send({ type: 'send', conv, id: 'bob-4', text: 'four' });
    bob.send({ type: 'send', conv, id: 'bob-5', text: 'five' });
    await bob.next((f) => f.type === 'ack' && f.id === 'bob-5');

    const { client: again } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, storage }));
    await again.start();
    const instant = again.snapshot;
    assert.notEqual(instant.connection, 'open', 'rendered before the relay answered');
    assert.deepEqual(confirmedTexts(instant), ['one', 'two', 'three']);
    assert.equal(instant.self?.id, 'alice');
    assert.ok(instant.messages.every((m) => m.own));
    const caughtUp = await waitFor(again, (s) => s.messages.length === 5, 'caught up');
    assert.deepEqual(confirmedTexts(caughtUp), ['one', 'two', 'three', 'four', 'five']);
  });

  test('client - a first visit shows the newest 50; loadOlder pages back to the start', async () => {
    const conv = 'chat-tail';
    const bob = await login(relay, 'bob', conv);
    for (let i = 1; i <= 90; i++) bob.send({ type: 'send', conv, id: `old-${i}`, text: `m${i}` });
    await bob.until((frames) => frames.filter((f) => f.type === 'ack').length === 90);

    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv }));
    await alice.start();
    const tail = await waitFor(alice, (s) => s.messages.length === 50, 'the tail');
    assert.equal(tail.messages[0]?.seq, 41);
    assert.equal(tail.messages.at(-1)?.seq, 90);
    assert.equal(tail.hasOlder, true);
    const loading = alice.loadOlder();
    assert.equal(alice.snapshot.loadingOlder, true);
    await loading;
    const all = alice.snapshot;
    assert.equal(all.loadingOlder, false);
    assert.deepEqual(all.messages.map((m) => m.seq), Array.from({ length: 90 }, (_, i) => i + 1));
    assert.equal(all.hasOlder, false);
  });

  test('client - the unread divider is at the first message from others after the read cursor', async () => {
    const conv = 'chat-unread';
    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv }));
    await alice.start();
    await waitFor(alice, joined('alice'), 'joined');
    const bob = await login(relay, 'bob', conv);
    for (let i = 1; i <= 4; i++) bob.send({ type: 'send', conv, id: `u-${i}`, text: `u${i}` });
    await waitFor(alice, (s) => s.messages.length === 4, 'all 4');
    alice.markRead(2);
    await waitFor(alice, (s) => s.members.find((m) => m.id === 'alice')?.read === 2, 'read cursor stored');
    alice.dispose();

    const { client: later } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv }));
    await later.start();
    const opened = await waitFor(later, (s) => s.messages.length === 4, 'reopened');
    assert.equal(opened.firstUnreadSeq, 3);
  });

  test('client - markRead never goes beyond what is held and never backwards', async () => {
    const conv = 'chat-markread';
    // The relay clamps a receipt to the head too, so what it broadcasts cannot tell whether
    // the client clamped: check the frames the client sent.
    const sent: Array<Record<string, unknown>> = [];
    const sentReads = () => sent.filter((f) => f.type === 'receipt' && f.read !== undefined).map((f) => f.read);
    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, WebSocket: recordingWebSocket(sent) }));
    await alice.start();
    await waitFor(alice, joined('alice'), 'joined');
    const bob = await login(relay, 'bob', conv);
    for (let i = 1; i <= 3; i++) bob.send({ type: 'send', conv, id: `r-${i}`, text: `r${i}` });
    await waitFor(alice, (s) => s.messages.length === 3, 'all 3');
    alice.markRead(1000);
    await waitFor(alice, (s) => s.members.find((m) => m.id === 'alice')?.read === 3, 'read = 3');
    assert.deepEqual(sentReads(), [3], 'the client sent read 3 (what it holds), not 1000');
    alice.markRead(1);
    // Several times the read debounce (FAST.readDelayMs): time enough to send a backwards receipt.
    await new Promise((resolve) => setTimeout(resolve, 10 * FAST.readDelayMs!));
    assert.deepEqual(sentReads(), [3], 'nothing sent for a lower seq');
    bob.send({ type: 'send', conv, id: 'r-4', text: 'r4' });
    await waitFor(alice, (s) => s.messages.length === 4, 'fourth');
    alice.markRead(4);
    await waitFor(alice, (s) => s.members.find((m) => m.id === 'alice')?.read === 4, 'read = 4');
    assert.deepEqual(sentReads(), [3, 4]);
  });

  test('client - typing shows up at the other side and goes away on stop; never self', async () => {
    const conv = 'chat-typing';
    const { client: alice } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv }));
    const { client: bob } = track(makeClient({ relay: relay.wsUrl, user: 'bob', conversation: conv }));
    await Promise.all([alice.start(), bob.start()]);
    await Promise.all([waitFor(alice, joined('alice'), 'alice'), waitFor(bob, joined('bob'), 'bob')]);
    alice.typed();
    const typing = await waitFor(bob, (s) => s.typing.length === 1, 'bob sees alice typing');
    assert.deepEqual(typing.typing, [{ id: 'alice', name: 'Alice' }]);
    assert.deepEqual(alice.snapshot.typing, []);
    alice.stoppedTyping();
    await waitFor(bob, (s) => s.typing.length === 0, 'typing cleared');
  });

  test('client - an upload posts the file and sends it as a message; fileUrl fetches it', async () => {
    const conv = 'chat-upload';
    const { client: alice } = track(
      makeClient({ relay: relay.wsUrl, user: 'alice', conversation: conv, internals: { XMLHttpRequest: FetchXhr } }),
    );
    await alice.start();
    await waitFor(alice, (s) => joined('alice')(s) && s.limits.maxUploadBytes === 100000, 'joined, limits known');
    const bytes = new Uint8Array(5000).map((_, i) => i % 251);
    const state = alice.upload(Object.assign(new Blob([bytes], { type: 'image/png' }), { name: 'pixel art.png' }), 'see this');
    assert.equal(state.state, 'uploading');
    const done = await waitFor(alice, (s) => s.messages.some((m) => m.file && m.seq !== undefined), 'file message stored');
    const message = done.messages.find((m) => m.file)!;
    assert.equal(message.text, 'see this');
    assert.equal(message.file?.name, 'pixel art.png');
    assert.equal(message.file?.size, 5000);
    assert.deepEqual(done.uploads, []);
    const url = alice.fileUrl(message.file!);
    assert.ok(url.startsWith(relay.httpUrl), url);
    const response = await fetch(url);
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);

    const tooBig = alice.upload(Object.assign(new Blob([new Uint8Array(100001)]), { name: 'big.bin' }));
    assert.equal(tooBig.state, 'failed');
    assert.deepEqual(tooBig.error, { code: 'file_too_large', params: { maxBytes: 100000, name: 'big.bin' } });
  });

  test('client - a dead relay URL in the list is skipped', async () => {
    const conv = 'chat-robin';
    const dead = `ws://127.0.0.1:${await deadPort()}/ws`;
    const { client: alice } = track(makeClient({ relay: `${dead},${relay.wsUrl}`, user: 'alice', conversation: conv }));
    await alice.start();
    await waitFor(alice, joined('alice'), 'joined through the second URL');
  });
});

/**
 * A relay that goes down and comes back. Not on the same port: a port whose relay was killed
 * with open connections may stay blocked by TIME_WAIT for a minute. The client is given a
 * second URL on a spare port instead (comma-separated relay list), which is exactly how a
 * widget rides out a dead relay instance.
 */
describe('client across relay restarts', () => {
  test('client - messages written while the relay is down are delivered exactly once, in order', async () => {
    const down = await startRelay();
    const spare = await deadPort();
    let back: RelayProcess | undefined;
    try {
      const conv = 'chat-down';
      const urls = `${down.wsUrl},ws://127.0.0.1:${spare}/ws`;
      const { client: alice, storage } = track(makeClient({ relay: urls, user: 'alice', conversation: conv }));
      await alice.start();
      await waitFor(alice, joined('alice'), 'joined');
      await down.kill();
      await waitFor(alice, (s) => s.connection !== 'open', 'noticed the relay is gone');
      const ids = [1, 2, 3, 4, 5].map((i) => alice.send(`offline ${i}`).id);
      assert.ok(alice.snapshot.messages.every((m) => m.status === 'sending'));
      await waitUntil(() => ((storage as MemoryStorage).outbox() as unknown[] | undefined)?.length === 5, 'outbox saved');
      // The same store comes back.
      back = await startRelay({ dataDir: down.dataDir, port: spare });
      const done = await waitFor(alice, (s) => s.messages.length === 5 && s.messages.every((m) => m.status === 'sent'), 'all sent');
      assert.deepEqual(done.messages.map((m) => m.id), ids);
      assert.deepEqual(done.messages.map((m) => m.seq), [1, 2, 3, 4, 5]);
      const stored = await storedMessages(back, conv);
      assert.deepEqual(stored.map((m) => m.id), ids, 'stored once each, in order');
    } finally {
      await back?.kill();
      await down.dispose();
    }
  });

  test('client - an upload started while the relay is down is kept: the next load sends it, stored once', async () => {
    const spare = await deadPort();
    const storage = new MemoryStorage();
    const conv = 'chat-kept-upload';
    const setup = { relay: `ws://127.0.0.1:${spare}/ws`, user: 'alice', conversation: conv, storage, internals: { XMLHttpRequest: FetchXhr } };
    const keptKeys = () => [...storage.data.keys()].filter((key) => key.startsWith('chat-room:upload:'));
    const bytes = new Uint8Array(3000).map((_, i) => i % 199);
    // First load: no relay there. The upload waits, kept with its file.
    const first = makeClient(setup).client;
    await first.start();
    const waiting = first.upload(Object.assign(new Blob([bytes], { type: 'image/png' }), { name: 'kept.png' }), 'from before');
    assert.equal(waiting.state, 'waiting');
    await waitUntil(() => keptKeys().length === 1, 'upload kept');
    first.dispose();
    assert.equal(keptKeys().length, 1, 'closing the page keeps it');
    // The relay is up; the page is loaded again.
    const relay = await startRelay({ port: spare });
    try {
      const { client: again } = track(makeClient(setup));
      await again.start();
      const done = await waitFor(again, (s) => s.messages.some((m) => m.file && m.seq !== undefined), 'file message stored');
      const message = done.messages.find((m) => m.file)!;
      assert.equal(message.text, 'from before');
      assert.deepEqual([message.file?.name, message.file?.size], ['kept.png', 3000]);
      assert.deepEqual(new Uint8Array(await (await fetch(again.fileUrl(message.file!))).arrayBuffer()), bytes);
      await waitUntil(() => keptKeys().length === 0, 'the kept upload is forgotten once its message is out');
      assert.deepEqual((await storedMessages(relay, conv)).map((m) => m.id), [message.id], 'stored once');
    } finally {
      await relay.dispose();
    }
  });

  test('client - a new store epoch drops the cached history and resends the outbox', async () => {
    const old = await startRelay();
    const spare = await deadPort();
    let fresh: RelayProcess | undefined;
    try {
      const conv = 'chat-epoch';
      const urls = `${old.wsUrl},ws://127.0.0.1:${spare}/ws`;
      const { client: alice, storage } = track(makeClient({ relay: urls, user: 'alice', conversation: conv }));
      await alice.start();
      await waitFor(alice, joined('alice'), 'joined');
      for (const text of ['old 1', 'old 2', 'old 3']) alice.send(text);
      await waitFor(alice, (s) => s.messages.length === 3 && s.messages.every((m) => m.status === 'sent'), 'old ones stored');
      const cached = () => (storage as MemoryStorage).find('chat-room:history:') as { epoch: string; messages: unknown[] } | undefined;
      await waitUntil(() => cached()?.messages.length === 3, 'cache written');
      const epochBefore = cached()!.epoch;
      await old.kill();
      await waitFor(alice, (s) => s.connection !== 'open', 'relay gone');
      alice.send('new 1');
      alice.send('new 2');
      // A relay with an empty store (a new epoch) takes over.
      fresh = await startRelay({ port: spare });
      const done = await waitFor(
        alice,
        (s) => s.connection === 'open' && s.messages.length === 2 && s.messages.every((m) => m.status === 'sent'),
        'only the resent outbox is left',
      );
      assert.deepEqual(confirmedTexts(done), ['new 1', 'new 2']);
      assert.deepEqual(done.messages.map((m) => m.seq), [1, 2]);
      // The cache is written debounced, and a write of the new epoch may come while one of the two is still unacked:
      // wait for the write that holds both (the old epoch's three never come back).
      await waitUntil(() => cached() !== undefined && cached()!.epoch !== epochBefore && cached()!.messages.length === 2, 'cache of the new epoch');
      assert.deepEqual(
        (cached()!.messages as Array<{ text?: string }>).map((m) => m.text),
        ['new 1', 'new 2'],
      );
    } finally {
      await old.dispose();
      await fresh?.dispose();
    }
  });
});

describe('client with a secret-protected relay', () => {
  test('client - a refused token ends in closed with an error, not a reconnect loop', async () => {
    const relay = await startRelay({ env: { CHAT_JWT_SECRET: 'x'.repeat(40) } });
    try {
      const { client } = track(makeClient({ relay: relay.wsUrl, user: 'alice', conversation: 'c', token: 'not.a.jwt' }));
      const errors: ChatClientEvent[] = [];
      client.on((event) => event.type === 'error' && errors.push(event));
      await client.start();
      await waitFor(client, (s) => s.connection === 'closed', 'closed');
      assert.equal(errors[0]?.type === 'error' && errors[0].code, 'unauthorized');
      assert.equal(errors.length, 1);
    } finally {
      await relay.dispose();
    }
  });
});
