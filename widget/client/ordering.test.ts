import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_PENDING, OrderingBuffer } from './ordering.js';

interface Item {
  seq: number;
  copy: number;
}

/** The buffer and everything it handed out, in order (it keeps nothing it handed out itself). */
class Collected extends OrderingBuffer<Item> {
  readonly items: Item[] = [];

  override push(item: Item): Item[] {
    const due = super.push(item);
    this.items.push(...due);
    return due;
  }
}

const seqs = (buffer: Collected) => buffer.items.map((i) => i.seq);
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** n, then some arrivals (duplicates and holes allowed), then every seq in some order. */
const scenario = fc.integer({ min: 1, max: 80 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    early: fc.array(fc.integer({ min: 1, max: n }), { maxLength: 3 * n }),
    rest: fc.shuffledSubarray(range(1, n), { minLength: n, maxLength: n }),
  }),
);

describe('ordering buffer', () => {
  test('ordering - whatever arrives, the visible list is a gap-free ascending prefix', () => {
    fc.assert(
      fc.property(scenario, ({ early }) => {
        const buffer = new Collected();
        const arrived = new Set<number>();
        early.forEach((seq, copy) => {
          buffer.push({ seq, copy });
          arrived.add(seq);
          let expectedLast = 0;
          while (arrived.has(expectedLast + 1)) expectedLast++;
          assert.deepEqual(seqs(buffer), range(1, expectedLast));
          assert.equal(buffer.last, expectedLast);
        });
      }),
    );
  });

  test('ordering - once every seq has arrived the list is exactly 1..N, nothing left waiting', () => {
    fc.assert(
      fc.property(scenario, ({ n, early, rest }) => {
        const buffer = new Collected();
        [...early, ...rest].forEach((seq, copy) => buffer.push({ seq, copy }));
        assert.deepEqual(seqs(buffer), range(1, n));
        assert.equal(buffer.pendingCount, 0);
        assert.equal(buffer.gap(), null);
      }),
    );
  });

  test('ordering - duplicates are dropped: the first copy of each seq stays', () => {
    fc.assert(
      fc.property(scenario, ({ early, rest }) => {
        const buffer = new Collected();
        const firstCopy = new Map<number, number>();
        [...early, ...rest].forEach((seq, copy) => {
          if (!firstCopy.has(seq)) firstCopy.set(seq, copy);
          buffer.push({ seq, copy });
        });
        for (const item of buffer.items) assert.equal(item.copy, firstCopy.get(item.seq));
      }),
    );
  });

  test('ordering - the gap names the missing range before the earliest waiting message', () => {
    fc.assert(
      fc.property(scenario, ({ early }) => {
        const buffer = new Collected();
        early.forEach((seq, copy) => buffer.push({ seq, copy }));
        const waiting = [...new Set(early)].filter((s) => s > buffer.last);
        const gap = buffer.gap();
        if (waiting.length === 0) assert.equal(gap, null);
        else assert.deepEqual(gap, { after: buffer.last, before: Math.min(...waiting) });
      }),
    );
  });

  test('ordering - push returns exactly the messages that became visible, ascending', () => {
    fc.assert(
      fc.property(scenario, ({ early, rest }) => {
        const buffer = new Collected();
        const returned: number[] = [];
        [...early, ...rest].forEach((seq, copy) => returned.push(...buffer.push({ seq, copy }).map((i) => i.seq)));
        assert.deepEqual(returned, range(1, buffer.last));
      }),
    );
  });

  test('ordering - reset starts after a seq and forgets what waited', () => {
    const buffer = new Collected();
    buffer.push({ seq: 3, copy: 0 });
    buffer.reset(10);
    assert.equal(buffer.pendingCount, 0);
    assert.equal(buffer.last, 10);
    assert.deepEqual(buffer.push({ seq: 10, copy: 0 }), []);
    assert.deepEqual(buffer.push({ seq: 11, copy: 0 }).map((i) => i.seq), [11]);
  });

  test('ordering - early arrivals are held up to a bound', () => {
    const buffer = new Collected();
    for (let seq = 2; seq <= MAX_PENDING + 10; seq++) buffer.push({ seq, copy: 0 });
    assert.equal(buffer.pendingCount, MAX_PENDING);
    assert.deepEqual(buffer.gap(), { after: 0, before: 2 });
  });
});
