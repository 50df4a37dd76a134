import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TypingSender, TypingWatcher } from './typing.js';
import { FakeClock } from './test/fake-clock.js';

function sender() {
  const clock = new FakeClock();
  const sent: boolean[] = [];
  const typing = new TypingSender(clock, (active) => (sent.push(active), true));
  return { clock, sent, typing };
}

describe('typing', () => {
  test('typing - keystrokes send active:true at most every 2 s', () => {
    const { clock, sent, typing } = sender();
    for (let i = 0; i < 50; i++) {
      typing.typed();
      clock.advance(100);
    }
    // 5 s of typing: at 0, 2 s and 4 s.
    assert.deepEqual(sent, [true, true, true]);
  });

  test('typing - 3 s without a keystroke sends active:false once', () => {
    const { clock, sent, typing } = sender();
    typing.typed();
    clock.advance(2999);
    assert.deepEqual(sent, [true]);
    clock.advance(1);
    assert.deepEqual(sent, [true, false]);
    clock.advance(10_000);
    assert.deepEqual(sent, [true, false]);
  });

  test('typing - stopped() sends false at once, only when active', () => {
    const { sent, typing } = sender();
    typing.stopped();
    assert.deepEqual(sent, []);
    typing.typed();
    typing.stopped();
    typing.stopped();
    assert.deepEqual(sent, [true, false]);
  });

  test('typing - nothing is assumed active when the frame could not be sent', () => {
    const clock = new FakeClock();
    const sent: boolean[] = [];
    let joined = false;
    const typing = new TypingSender(clock, (active) => joined && (sent.push(active), true));
    typing.typed();
    typing.stopped();
    assert.deepEqual(sent, []);
    joined = true;
    typing.typed();
    assert.deepEqual(sent, [true]);
  });

  test('typing - remote indicators expire locally after ~7 s without renewal', () => {
    const clock = new FakeClock();
    let changes = 0;
    const watcher = new TypingWatcher(clock, () => changes++);
    watcher.set('bob', true);
    watcher.set('carol', true);
    clock.advance(5000);
    watcher.set('bob', true);
    clock.advance(2500);
    assert.deepEqual(watcher.users, ['bob']);
    watcher.set('bob', false);
    assert.deepEqual(watcher.users, []);
    assert.equal(changes, 4);
    assert.equal(clock.pendingTimers, 0);
  });

  test('typing - the list from joined replaces what was known', () => {
    const watcher = new TypingWatcher(new FakeClock(), () => {});
    watcher.set('bob', true);
    watcher.replace(['carol', 'dan']);
    assert.deepEqual(watcher.users, ['carol', 'dan']);
  });
});
