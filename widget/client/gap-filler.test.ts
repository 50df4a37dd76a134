import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HistoryReplyFrame } from '../../protocol/index.js';
import { GapFiller } from './gap-filler.js';
import { Requests } from './requests.js';
import { FakeClock } from './test/fake-clock.js';
import type { Gap } from './timeline.js';

function setup() {
  const clock = new FakeClock();
  const requests = new Requests<HistoryReplyFrame>(clock);
  const asked: Array<{ after: number; limit: number; ref: string }> = [];
  const state: { gap: Gap | null; fills: boolean } = { gap: { after: 3, before: 7 }, fills: true };
  let next = 0;
  const filler = new GapFiller<HistoryReplyFrame>({
    clock,
    requests,
    timeoutMs: 1000,
    gap: () => state.gap,
    ref: () => `r${++next}`,
    send: (after, limit, ref) => asked.push({ after, limit, ref }) > 0,
    fill: () => state.fills,
  });
  const reply = (ref: string): HistoryReplyFrame => ({ type: 'history', conv: 'c', messages: [], more: false, ref });
  return { clock, requests, asked, state, filler, reply };
}

describe('gap filler', () => {
  test('gap filler - asks for exactly the missing range, one request at a time', () => {
    const { asked, filler } = setup();
    filler.check();
    filler.check();
    assert.deepEqual(asked, [{ after: 3, limit: 3, ref: 'r1' }]);
    assert.equal(filler.asking, true);
  });

  test('gap filler - no answer: asked again after the timeout', () => {
    const { clock, asked, filler } = setup();
    filler.check();
    clock.advance(1000);
    assert.deepEqual(asked.map((a) => a.ref), ['r1', 'r2']);
  });

  test('gap filler - an answer that filled nothing, or an error, pauses the asking', () => {
    const { clock, requests, asked, state, filler, reply } = setup();
    state.fills = false;
    filler.check();
    requests.reply('r1', reply('r1'));
    filler.check();
    assert.equal(asked.length, 1);
    assert.equal(filler.paused, true);
    clock.advance(1000);
    assert.equal(asked.length, 2);
    requests.fail('r2', 'internal', 'oops');
    clock.advance(999);
    assert.equal(asked.length, 2);
    clock.advance(1);
    assert.equal(asked.length, 3);
  });

  test('gap filler - a lost connection drops the request and the pause; nothing is asked without a gap', () => {
    const { requests, asked, state, filler } = setup();
    filler.check();
    requests.dropAll();
    filler.stop();
    assert.equal(filler.asking, false);
    state.gap = null;
    filler.check();
    assert.equal(asked.length, 1);
  });
});
