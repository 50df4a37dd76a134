/**
 * Live fan-out goes through uWS topics (relay/http/ws.ts UwsTopics): a receiver whose send
 * queue is full must leave its conversation's topic (uWS would otherwise drop what it cannot
 * queue, silently), get `resync` once it has read, and then receive live events again — with
 * nothing lost: what it missed is in the history it catches up from.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

describe('fan-out - a backpressured receiver on a real relay', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({
      env: {
        // A small queue fills quickly; the grace is long so that the reader is not closed meanwhile.
        SEND_QUEUE_BYTES: String(64 * 1024),
        SLOW_CLIENT_GRACE_MS: '600000',
        RATE_LIMIT: '100000',
        RATE_BURST: '100000',
        READ_ROWS_PER_SECOND: '100000000',
      },
    });
  });
  after(() => relay.dispose());

  test('fan-out - a reader that stops reading leaves the topic, gets resync once it reads, is live again, and loses nothing', async () => {
    const conv = 'bp';
    const writer = await TestClient.login(relay.wsUrl, { user: 'writer' });
    const reader = await TestClient.login(relay.wsUrl, { user: 'reader' });
    await writer.join(conv);
    await reader.join(conv);
    reader.ws.pause(); // reads nothing: the kernel's buffers fill, then uWS's queue
    const total = 4000;
    const text = 'z'.repeat(4000); // 16 MB in all: more than the socket buffers of a local connection hold
    for (let i = 1; i <= total; i++) writer.send({ type: 'send', conv, id: `w${i}`, text });
    await writer.until((frames) => frames.filter((f) => f.type === 'ack').length === total, 60_000);

    reader.ws.resume();
    await reader.next((f) => f.type === 'resync' && f.conv === conv, 30_000);
    const before = reader.messages(conv).length;
    assert.ok(before < total, `the reader was sent only ${before} of ${total} live (the rest not queued)`);
    assert.equal(reader.isOpen, true, 'a backpressured reader is not closed within its grace');

    // Subscribed again: a new message arrives live, without a rejoin.
    writer.send({ type: 'send', conv, id: 'after-resync', text: 'live again' });
    await reader.until((frames) => frames.some((f) => f.type === 'msg' && f.conv === conv && f.id === 'after-resync'), 10_000);

    // What it missed is in the history: catching up after the last seq it holds in order gives every message once.
    const seqs = reader.messages(conv).map((m) => m.seq);
    let held = 0;
    while (seqs.includes(held + 1)) held++;
    const joined = await reader.join(conv, { after: held });
    await reader.until(() => new Set(reader.messages(conv).map((m) => m.seq)).size === joined.head, 30_000);
    const all = new Set(reader.messages(conv).map((m) => m.seq));
    assert.equal(joined.head, total + 1);
    assert.deepEqual(
      [...all].sort((a, b) => a - b),
      Array.from({ length: total + 1 }, (_, i) => i + 1),
    );
    writer.close();
    reader.close();
  });
});
