import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CloseCode, ErrorCode, Limits, type ServerFrame } from '../../protocol/index.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const isError = (code: string) => (f: ServerFrame) => f.type === 'error' && f.code === code;

describe('bad input', () => {
  let relay: RelayProcess;
  before(async () => {
    // A tight limit, so that a flood is quick to provoke (the default is 200/s, bursts of 1,000).
    relay = await startRelay({ env: { RATE_LIMIT: '20', RATE_BURST: '100' } });
  });
  after(() => relay.dispose());

  test('bad_frame - invalid JSON, non-objects, unknown types and binary frames are answered, connection kept', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'sloppy' });
    client.sendRaw('{"type":');
    client.sendRaw('[1,2,3]');
    client.sendRaw('"hello"');
    client.send({ type: 'shout', conv: 'c1', ref: 'u' });
    client.sendRaw(Buffer.from([1, 2, 3]));
    client.send({ type: 'join', conv: '../etc', ref: 'bad-conv' });
    for (let i = 0; i < 6; i++) await client.next(isError(ErrorCode.badFrame));
    assert.ok(client.frames.some((f) => f.type === 'error' && f.ref === 'u' && /unknown frame type/.test(f.message)));
    assert.ok(client.frames.some((f) => f.type === 'error' && f.ref === 'bad-conv' && /conv/.test(f.message)));
    assert.ok(client.frames.some((f) => f.type === 'error' && /binary/.test(f.message)));
    client.send({ type: 'ping', ref: 'alive' });
    await client.next((f) => f.type === 'pong' && f.ref === 'alive');
    client.close();
  });

  test('too_large - text over 4,000 characters is refused, nothing stored, connection kept', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'verbose' });
    const joined = await client.join('big');
    client.send({ type: 'send', conv: 'big', id: 'huge', text: 'x'.repeat(Limits.maxTextChars + 1), ref: 'h' });
    const error = await client.next(isError(ErrorCode.tooLarge));
    assert.equal(error.type === 'error' && error.ref, 'h');
    client.send({ type: 'send', conv: 'big', id: 'fits', text: 'x'.repeat(Limits.maxTextChars) });
    const ack = await client.next((f) => f.type === 'ack');
    assert.equal(ack.type === 'ack' && ack.seq, joined.head + 1);
    client.close();
  });

  test('too_large - a frame over 64 KiB gets too_large and close 1009', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'flood' });
    client.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(Limits.maxFrameBytes) }));
    await client.next(isError(ErrorCode.tooLarge));
    assert.equal((await client.closed).code, CloseCode.frameTooLarge);
  });

  test('rate_limited - a flood is answered rate_limited, then closed with 4429', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'spammer' });
    for (let i = 0; i < 200; i++) client.send({ type: 'ping', ref: i });
    const limited = await client.next(isError(ErrorCode.rateLimited));
    assert.ok(limited.type === 'error' && typeof limited.ref === 'number' && limited.ref >= 95, 'the burst allowance is honoured first');
    assert.equal((await client.closed).code, CloseCode.tooManyBadFrames);
    const polite = await TestClient.login(relay.wsUrl, { user: 'polite' });
    polite.send({ type: 'ping', ref: 'ok' });
    await polite.next((f) => f.type === 'pong');
    polite.close();
  });

  test('abuse - repeated bad frames close with 4429; a few do not', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'vandal' });
    for (let i = 0; i < 10; i++) client.sendRaw('nonsense');
    client.send({ type: 'ping', ref: 'still-here' });
    await client.next((f) => f.type === 'pong');
    for (let i = 0; i < 30; i++) client.sendRaw('nonsense');
    assert.equal((await client.closed).code, CloseCode.tooManyBadFrames);
  });
});

describe('fuzz', () => {
  test('fuzz - thousands of random and mutated frames never crash the relay, others keep chatting', async () => {
    const relay = await startRelay({ env: { RATE_LIMIT: '100000', RATE_BURST: '100000' } });
    try {
      const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
      const bob = await TestClient.login(relay.wsUrl, { user: 'bob' });
      await alice.join('calm');
      await bob.join('calm');
      const templates = [
        { type: 'hello', v: 1, user: 'fuzzer' },
        { type: 'join', conv: 'calm', after: 0 },
        { type: 'send', conv: 'calm', id: 'f1', text: 'hi' },
        { type: 'history', conv: 'calm', before: 10, limit: 5 },
        { type: 'typing', conv: 'calm', active: true },
        { type: 'receipt', conv: 'calm', read: 1 },
        { type: 'leave', conv: 'calm' },
      ];
      const keys = ['type', 'v', 'user', 'token', 'conv', 'id', 'text', 'file', 'after', 'before', 'limit', 'active', 'read', 'delivered', 'ref', 'epoch', 'tail'];
      const frameArb = fc.oneof(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.string({ maxLength: 200 }),
        fc
          .tuple(fc.constantFrom(...templates), fc.array(fc.tuple(fc.constantFrom(...keys), fc.jsonValue()), { maxLength: 4 }))
          .map(([t, muts]) => JSON.stringify({ ...t, ...Object.fromEntries(muts) })),
      );
      const frames = fc.sample(frameArb, { numRuns: 3000, seed: 42 });
      let fuzzer = await TestClient.connect(relay.wsUrl);
      const closeCodes: number[] = [];
      for (let i = 0; i < frames.length; i++) {
        if (!fuzzer.isOpen) {
          closeCodes.push((await fuzzer.closed).code);
          fuzzer = await TestClient.connect(relay.wsUrl);
        }
        fuzzer.sendRaw(frames[i]!);
        if (i % 200 === 0) {
          alice.send({ type: 'send', conv: 'calm', id: `calm-${i}`, text: `still fine ${i}` });
          await bob.until(() => bob.messages('calm').some((m) => m.id === `calm-${i}`), 10_000);
        }
      }
      fuzzer.close();
      const health = await fetch(`${relay.httpUrl}/healthz`);
      assert.equal(health.status, 200);
      assert.equal(relay.child.exitCode, null, 'relay still running');
      assert.ok(!relay.logs.some((l) => /"level":(50|60)/.test(l)), `no error logs:\n${relay.logs.filter((l) => /"level":(50|60)/.test(l)).join('\n')}`);
      // Thousands of mostly bad frames: the relay cut the fuzzer off for abuse, each time with
      // one of the protocol's close codes (1006 would mean the socket just died).
      assert.ok(closeCodes.length > 0, 'the fuzzer was disconnected at least once');
      assert.ok(closeCodes.includes(CloseCode.tooManyBadFrames), `closed for bad frames (4429); close codes: ${closeCodes.join(',')}`);
      const known = new Set<number>(Object.values(CloseCode));
      assert.deepEqual(closeCodes.filter((code) => !known.has(code)), [], `deliberate closes only; close codes: ${closeCodes.join(',')}`);
      alice.close();
      bob.close();
    } finally {
      await relay.dispose();
    }
  });
});
