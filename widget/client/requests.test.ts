import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Requests, type Settled } from './requests.js';
import { FakeClock } from './test/fake-clock.js';

function setup() {
  const clock = new FakeClock();
  const requests = new Requests<string>(clock);
  const settled: Array<[string, Settled<string>]> = [];
  const register = (ref: string, timeoutMs = 1000) => requests.register(ref, timeoutMs, (result) => settled.push([ref, result]));
  return { clock, requests, settled, register };
}

describe('requests', () => {
  test('requests - a reply settles its request once; a second reply or the timeout later does nothing', () => {
    const { clock, requests, settled, register } = setup();
    register('a');
    assert.equal(requests.reply('a', 'first'), true);
    assert.equal(requests.reply('a', 'second'), false);
    clock.advance(5000);
    assert.deepEqual(settled, [['a', { kind: 'reply', reply: 'first' }]]);
    assert.equal(requests.size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test('requests - an error with the ref, the timeout and a lost connection each settle it', () => {
    const { clock, requests, settled, register } = setup();
    register('err');
    register('slow', 500);
    register('open', 10_000);
    assert.equal(requests.fail('err', 'rate_limited', 'slow down'), true);
    clock.advance(600);
    requests.dropAll();
    assert.deepEqual(settled, [
      ['err', { kind: 'error', code: 'rate_limited', message: 'slow down' }],
      ['slow', { kind: 'timeout' }],
      ['open', { kind: 'dropped' }],
    ]);
    assert.equal(clock.pendingTimers, 0);
  });

  test('requests - unknown or non-string refs are not answers; a cancelled request never settles', () => {
    const { clock, requests, settled, register } = setup();
    register('x');
    assert.equal(requests.reply(undefined, 'r'), false);
    assert.equal(requests.reply(7, 'r'), false);
    assert.equal(requests.fail('y', 'c', 'm'), false);
    assert.equal(requests.has('x'), true);
    requests.cancel('x');
    clock.advance(5000);
    assert.deepEqual(settled, []);
  });

  test('requests - registering a ref again replaces the earlier request and its timeout', () => {
    const { clock, requests, settled, register } = setup();
    register('s', 1000);
    clock.advance(800);
    register('s', 1000);
    clock.advance(800);
    assert.deepEqual(settled, []);
    clock.advance(300);
    assert.deepEqual(settled, [['s', { kind: 'timeout' }]]);
    assert.equal(requests.size, 0);
  });
});
