/**
 * The hub's timed rules with an injected clock: nothing here sleeps. The fake clock runs
 * timers in due order when the test moves time forward.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admission, DEFAULT_LIMITS, Refusal, TokenBucket } from './admission.js';
import { FakeClock } from '../test/fakes.js';
import { Sequencer } from './sequencer.js';
import { Typing } from './typing.js';

test('sequencer - out-of-order seqs wait for the missing one, at most the reorder wait, then go in order', () => {
  const clock = new FakeClock();
  const out: number[] = [];
  const sequencer = new Sequencer<number>((seq) => out.push(seq), clock, 100);
  sequencer.knowHead(0);
  sequencer.push(2, 2);
  assert.deepEqual(out, []);
  sequencer.push(1, 1);
  sequencer.push(4, 4);
  assert.deepEqual(out, [1, 2]);
  clock.advance(99);
  assert.deepEqual(out, [1, 2], 'still waiting for 3');
  clock.advance(1);
  assert.deepEqual(out, [1, 2, 4], 'gave up on 3 after 100 ms');
  sequencer.push(3, 3);
  sequencer.push(5, 5);
  assert.deepEqual(out, [1, 2, 4, 3, 5], 'a late one is not held back; the next goes straight through');
});

test('typing - active:true fans out at most once per interval; renewals extend the expiry silently; stop is immediate', () => {
  const clock = new FakeClock();
  const published: string[] = [];
  const typing = new Typing({ clock, expiryMs: 6000, fanOutIntervalMs: 2000, publish: (_c, user, active) => published.push(`${user}:${active}`) });
  for (let i = 0; i < 1000; i++) typing.start('c', 'alice');
  assert.deepEqual(published, ['alice:true']);
  for (let t = 0; t < 10; t++) {
    clock.advance(1000);
    typing.start('c', 'alice');
  }
  // 10 s of renewals every second: one fan-out per 2 s, never an expiry.
  assert.deepEqual(published, ['alice:true', ...Array(5).fill('alice:true')]);
  clock.advance(5999);
  assert.equal(published.at(-1), 'alice:true');
  clock.advance(1);
  assert.equal(published.at(-1), 'alice:false', 'expired 6 s after the last renewal');
  typing.start('c', 'alice');
  typing.stop('c', 'alice');
  assert.deepEqual(published.slice(-2), ['alice:true', 'alice:false'], 'after a stop the next start fans out at once');
  typing.stop('c', 'alice');
  assert.equal(published.length, 9, 'stopping twice tells nobody twice');
});

test('typing - a stored message ends its sender\'s typing, unless they typed again after sending it', () => {
  const clock = new FakeClock();
  const published: string[] = [];
  const typing = new Typing({ clock, expiryMs: 6000, fanOutIntervalMs: 2000, publish: (_c, user, active) => published.push(`${user}:${active}`) });
  typing.start('c', 'alice');
  const sent = typing.mark();
  typing.messageStored('c', 'alice', sent);
  assert.deepEqual(published, ['alice:true', 'alice:false'], 'typing, then the message: the indicator ends');
  typing.start('c', 'alice');
  const sentAgain = typing.mark();
  clock.advance(100);
  // The next words arrive while the message is still being committed: a renewal inside the interval, not forwarded.
  typing.start('c', 'alice');
  assert.equal(published.length, 3);
  typing.messageStored('c', 'alice', sentAgain);
  assert.deepEqual(published.slice(-1), ['alice:true'], 'the message ended the indicator on every screen: typing is announced again');
  clock.advance(6000);
  assert.deepEqual(published.slice(-1), ['alice:false'], 'and still expires');
});

test('typing - the view of other relays\' typists forgets one whose relay went silent', () => {
  const clock = new FakeClock();
  const typing = new Typing({ clock, expiryMs: 6000, fanOutIntervalMs: 2000, publish: () => {} });
  typing.observe('c', 'bob', true);
  assert.deepEqual(typing.typists('c'), ['bob']);
  clock.advance(7999);
  assert.deepEqual(typing.typists('c'), ['bob']);
  clock.advance(1);
  assert.deepEqual(typing.typists('c'), []);
});

test('token bucket - burst, then the sustained rate; charges may go into debt that later reads wait for', () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket({ perSecond: 10, burst: 20 }, clock.now());
  for (let i = 0; i < 20; i++) assert.ok(bucket.take(1, clock.now()));
  assert.equal(bucket.take(1, clock.now()), false);
  clock.advance(100);
  assert.ok(bucket.take(1, clock.now()), 'one token per 100 ms at 10/s');
  bucket.charge(50, clock.now());
  assert.equal(bucket.waitFor(1, clock.now()), 5100, 'a debt of 50 plus one token at 10/s');
  clock.advance(5100);
  assert.equal(bucket.waitFor(1, clock.now()), 0);
});

test('admission - caps per address (hello-less too) and per user are released exactly once', () => {
  const clock = new FakeClock();
  const admission = new Admission({ ...DEFAULT_LIMITS, maxConnectionsPerIp: 3, maxUnauthenticatedPerIp: 2, maxConnectionsPerUser: 1 }, clock);
  assert.equal(admission.admitConnection('1.1.1.1'), null);
  assert.equal(admission.admitConnection('1.1.1.1'), null);
  assert.equal(admission.admitConnection('1.1.1.1'), Refusal.unauthenticatedPerIp);
  assert.equal(admission.admitUser('1.1.1.1', 'alice'), null);
  assert.equal(admission.admitConnection('1.1.1.1'), null, 'alice said hello: a hello-less slot is free again');
  assert.equal(admission.admitConnection('1.1.1.1'), Refusal.connectionsPerIp);
  assert.equal(admission.admitConnection('2.2.2.2'), null, 'other addresses are counted apart');
  assert.equal(admission.admitUser('2.2.2.2', 'alice'), Refusal.connectionsPerUser);
  admission.release('1.1.1.1', 'alice');
  assert.equal(admission.admitUser('2.2.2.2', 'alice'), null);
});

test('admission - new conversations per user per minute', () => {
  const clock = new FakeClock();
  const admission = new Admission({ ...DEFAULT_LIMITS, newConversationsPerMinute: 3 }, clock);
  assert.deepEqual([1, 2, 3, 4].map(() => admission.takeNewConversation('bob')), [true, true, true, false]);
  assert.ok(admission.takeNewConversation('carol'), 'per user');
  clock.advance(20_000);
  assert.ok(admission.takeNewConversation('bob'), 'one more after a third of a minute');
});
