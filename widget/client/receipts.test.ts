import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Receipts } from './receipts.js';
import { FakeClock } from './test/fake-clock.js';

function setup(open = true) {
  const clock = new FakeClock();
  const sent: Array<{ delivered: number } | { read: number }> = [];
  const state = { last: 0, open };
  const receipts = new Receipts({
    clock,
    deliveredDelayMs: 1000,
    readDelayMs: 500,
    last: () => state.last,
    send: (receipt) => state.open && sent.push(receipt) > 0,
  });
  return { clock, sent, state, receipts };
}

describe('receipts', () => {
  test('receipts - delivered goes out once per burst, debounced, and only when it moves', () => {
    const { clock, sent, state, receipts } = setup();
    receipts.joined(0, 0);
    state.last = 3;
    receipts.received();
    receipts.received();
    clock.advance(999);
    assert.deepEqual(sent, []);
    clock.advance(1);
    assert.deepEqual(sent, [{ delivered: 3 }]);
    receipts.received();
    clock.advance(1000);
    assert.deepEqual(sent, [{ delivered: 3 }]);
  });

  test('receipts - read never goes beyond what is held, never backwards, and counts as delivered', () => {
    const { clock, sent, state, receipts } = setup();
    receipts.joined(0, 0);
    state.last = 3;
    clock.advance(1000);
    sent.length = 0;
    receipts.markRead(1000);
    clock.advance(500);
    assert.deepEqual(sent, [{ read: 3 }]);
    receipts.markRead(2);
    state.last = 4;
    receipts.markRead(4);
    clock.advance(500);
    assert.deepEqual(sent, [{ read: 3 }, { read: 4 }]);
    receipts.received();
    clock.advance(1000);
    assert.deepEqual(sent, [{ read: 3 }, { read: 4 }]);
    assert.equal(receipts.read, 4);
  });

  test('receipts - what could not be sent (not joined) goes out after the next join, unless the relay has it', () => {
    const { clock, sent, state, receipts } = setup(false);
    state.last = 5;
    receipts.markRead(5);
    clock.advance(2000);
    assert.deepEqual(sent, []);
    state.open = true;
    receipts.joined(5, 2);
    clock.advance(2000);
    assert.deepEqual(sent, [{ read: 5 }]);
  });

  test('receipts - flush sends what is pending now', () => {
    const { sent, state, receipts } = setup();
    receipts.joined(0, 0);
    state.last = 2;
    receipts.markRead(2);
    receipts.flush();
    assert.deepEqual(sent, [{ read: 2 }]);
  });
});
