import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { OrderingBuffer } from './ordering.js';

interface Item {
  seq: number;
  copy: number;
}

const seqs = (buffer: OrderingBuffer<Item>) => buffer.items.map((i) => i.seq);
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
        const buffer = new OrderingBuffer<Item>();
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
        const buffer = new OrderingBuffer<Item>();
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
        const buffer = new OrderingBuffer<Item>();
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
        const buffer = new OrderingBuffer<Item>();
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
        const buffer = new OrderingBuffer<Item>();
        const returned: number[] = [];
        [...early, ...rest].forEach((seq, copy) => returned.push(...buffer.push({ seq, copy }).map((i) => i.seq)));
        assert.deepEqual(returned, seqs(buffer));
      }),
    );
  });

  test('ordering - a run that starts later (tail join) and older pages prepended stay gap-free', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 50 }),
        fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 10 }),
        (base, live, pageSizes) => {
          const buffer = new OrderingBuffer<Item>();
          buffer.reset(base);
          for (const seq of range(base + 1, base + live)) buffer.push({ seq, copy: 0 });
          for (const size of pageSizes) {
            const before = buffer.base + 1;
            const page = range(Math.max(1, before - size), before - 1);
            // A whole page that ends right below the run is taken, and lowers base by its length.
            assert.deepEqual(buffer.prepend(page.map((seq) => ({ seq, copy: 1 }))).map((i) => i.seq), page);
            assert.equal(buffer.base, before - 1 - page.length);
          }
          const visible = seqs(buffer);
          // Every page was contiguous, so the run reaches down by their total size (to seq 1 at most).
          const expectedBase = Math.max(0, base - pageSizes.reduce((sum, size) => sum + size, 0));
          assert.equal(buffer.base, expectedBase);
          assert.deepEqual(visible, range(expectedBase + 1, base + live));
        },
      ),
    );
  });

  test('ordering - reset keeps only the contiguous start of the given run', () => {
    const buffer = new OrderingBuffer<Item>();
    buffer.reset(10, [11, 12, 14, 15].map((seq) => ({ seq, copy: 0 })));
    assert.deepEqual(seqs(buffer), [11, 12]);
    assert.equal(buffer.base, 10);
    assert.deepEqual(buffer.push({ seq: 11, copy: 1 }), []);
    assert.deepEqual(buffer.push({ seq: 13, copy: 1 }).map((i) => i.seq), [13]);
  });

  test('ordering - an older page with a hole is taken only down to the hole', () => {
    const buffer = new OrderingBuffer<Item>();
    buffer.reset(10, [{ seq: 11, copy: 0 }]);
    const taken = buffer.prepend([3, 4, 6, 7, 8, 9, 10].map((seq) => ({ seq, copy: 0 })));
    assert.deepEqual(taken.map((i) => i.seq), [6, 7, 8, 9, 10]);
    assert.deepEqual(seqs(buffer), [6, 7, 8, 9, 10, 11]);
    assert.equal(buffer.base, 5);
  });

  test('ordering - newest(n) is the last n items with their base', () => {
    const buffer = new OrderingBuffer<Item>();
    buffer.reset(0, range(1, 10).map((seq) => ({ seq, copy: 0 })));
    const { base, items } = buffer.newest(3);
    assert.equal(base, 7);
    assert.deepEqual(items.map((i) => i.seq), [8, 9, 10]);
  });
});
