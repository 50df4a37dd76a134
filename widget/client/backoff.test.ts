import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BackoffDefaults, backoffDelay } from './backoff.js';

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

test('backoff - every delay lies between 500 ms and 20 s', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000 }), unit, (attempt, r) => {
      const delay = backoffDelay(attempt, { random: () => r });
      assert.ok(delay >= BackoffDefaults.minMs, `${delay} < min`);
      assert.ok(delay <= BackoffDefaults.maxMs, `${delay} > max`);
    }),
  );
});

test('backoff - custom bounds hold too', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 100_000 }), unit, (attempt, minMs, extra, r) => {
      const maxMs = minMs + extra;
      const delay = backoffDelay(attempt, { minMs, maxMs, random: () => r });
      assert.ok(delay >= minMs && delay <= maxMs, `${delay} outside [${minMs}, ${maxMs}]`);
    }),
  );
});

test('backoff - the ceiling grows with the attempt until it reaches the maximum', () => {
  const top = (attempt: number) => backoffDelay(attempt, { random: () => 0.999999 });
  assert.ok(top(0) <= 2 * BackoffDefaults.minMs);
  for (let attempt = 1; attempt < 12; attempt++) assert.ok(top(attempt) >= top(attempt - 1));
  assert.ok(top(0) < top(3));
  assert.equal(top(50), BackoffDefaults.maxMs);
});

test('backoff - jitter spreads the delays of one attempt (full jitter, not a fixed step)', () => {
  const low = backoffDelay(6, { random: () => 0 });
  const high = backoffDelay(6, { random: () => 0.99 });
  assert.equal(low, BackoffDefaults.minMs);
  assert.ok(high > low * 10, `${high} vs ${low}`);
});
