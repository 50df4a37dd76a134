/**
 * Defects 1 and 9 of the hardening issue: a client that stops reading must not make the
 * relay grow (everything queued per connection is bounded, in bytes), is closed after a few
 * seconds (4409), and a reply is never dropped silently (the connection is closed instead,
 * and a reconnect with the same ids gets every ack).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloseCode, type ServerFrame } from '../../../protocol/index.js';
import { startRelay, TestClient, type RelayProcess } from '../harness.js';
import { connections, mb, rssBytes, seed, timeToAck, watchRss } from './support.js';

const GRACE_MS = 2000;

describe('attack - stalled readers', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { SLOW_CLIENT_GRACE_MS: String(GRACE_MS), RATE_LIMIT: '100000', RATE_BURST: '100000', READ_ROWS_PER_SECOND: '1000000' } });
    await seed(relay, 'long', 4000, 2000); // ~8 MB of history
  });
  after(() => relay.dispose());

  test('stalled reader - join after:0 on a long history, never read, ping: bounded memory, closed 4409, a fresh client is served meanwhile', async () => {
    const baseline = await rssBytes(relay);
    const peak = watchRss(relay);
    const stalled: TestClient[] = [];
    for (let i = 0; i < 5; i++) {
      const client = await TestClient.login(relay.wsUrl, { user: `stall-${i}` });
      client.ws.pause(); // reads nothing from here on
      client.send({ type: 'join', conv: 'long', after: 0 });
      stalled.push(client);
    }
    const pinger = setInterval(() => stalled.forEach((c) => c.isOpen && c.send({ type: 'ping' })), 500);
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const ackMs = await timeToAck(relay);
      // Closed once they stayed backed up for the grace period (plus the once-a-second sweep).
      const deadline = Date.now() + GRACE_MS + 8000;
      while ((await connections(relay)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const left = await connections(relay);
      const growth = (await peak.stop()) - baseline;
      console.log(`stalled readers: RSS +${mb(growth)} (peak), fresh client ack in ${ackMs.toFixed(0)} ms, connections left ${left}`);
      assert.equal(left, 0, 'every stalled reader was closed');
      assert.ok(ackMs < 1000, `a fresh client was served in ${ackMs.toFixed(0)} ms`);
      // 5 clients x (2 x 1 MiB send queue + a replay page) is the design bound; the rest is V8 noise.
      assert.ok(growth < 40 * 1024 * 1024, `RSS grew ${mb(growth)}`);
    } finally {
      clearInterval(pinger);
    }
    // What reached the client before it stalled ends with the close the relay sent: 4409
    // when the close frame got through, else an abortive close.
    const victim = stalled[0]!;
    victim.ws.resume();
    const { code } = await victim.closed;
    assert.ok(code === CloseCode.tooSlow || code === 1006, `closed with ${code}`);
    // It recovers by reconnecting and joining after what it holds.
    const held = Math.max(0, ...victim.messages('long').map((m) => m.seq));
    const again = await TestClient.login(relay.wsUrl, { user: 'stall-0' });
    const joined = await again.join('long', { after: held });
    await again.until((frames) => frames.filter((f) => f.type === 'msg').length === joined.head - held, 30_000);
    assert.deepEqual(
      again.messages('long').map((m) => m.seq),
      Array.from({ length: joined.head - held }, (_, i) => held + i + 1),
    );
    again.close();
  });
});

describe('attack - a writer that does not read its acks', () => {
  let relay: RelayProcess;
  before(async () => {
    // The smallest send queue, so that unread acks overflow it quickly.
    relay = await startRelay({ env: { SEND_QUEUE_BYTES: String(64 * 1024), RATE_LIMIT: '100000', RATE_BURST: '100000' } });
  });
  after(() => relay.dispose());

  test('acks - never dropped silently: the relay closes the connection instead, and a resend gets every ack', async () => {
    const total = 3000;
    const writer = await TestClient.login(relay.wsUrl, { user: 'writer' });
    await writer.join('acks');
    writer.ws.pause();
    const text = 'y'.repeat(3000); // the fan-out of its own messages fills the socket buffers first
    for (let i = 1; i <= total; i++) writer.send({ type: 'send', conv: 'acks', id: `a${i}`, text });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    writer.ws.resume();
    await Promise.race([writer.closed, writer.until((f) => acked(f).size === total, 20_000).catch(() => undefined)]);
    const got = acked(writer.frames);
    if (writer.isOpen) {
      assert.equal(got.size, total, 'an open connection got every ack');
      writer.close();
      return;
    }
    const { code } = await writer.closed;
    console.log(`writer: ${got.size} of ${total} acks before the relay closed it (${code})`);
    assert.ok(code === CloseCode.tooSlow || code === 1006, `closed with ${code}`);
    // The outbox's part: resend everything with the same ids; each is acked exactly once more, nothing stored twice.
    const again = await TestClient.login(relay.wsUrl, { user: 'writer' });
    await again.join('acks', { tail: 0 });
    for (let i = 1; i <= total; i++) again.send({ type: 'send', conv: 'acks', id: `a${i}`, text });
    await again.until((f) => acked(f).size === total, 30_000);
    const seqs = new Set(again.frames.flatMap((f) => (f.type === 'ack' ? [f.seq] : [])));
    assert.equal(seqs.size, total, 'every message has its own seq');
    assert.equal(Math.max(...seqs), total, 'nothing was stored twice');
    again.close();
  });
});

function acked(frames: readonly ServerFrame[]): Set<string> {
  return new Set(frames.flatMap((f) => (f.type === 'ack' ? [f.id] : [])));
}
