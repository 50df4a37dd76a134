/**
 * The order/loss checker is what makes a load test's "0 lost" mean something, so it is
 * checked against a naive model on random delivery sequences (drops, duplicates,
 * shuffles, rejoins) and on hand-written cases a broken checker would get wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Delivery, SeqChecker, type Tally } from './accounting.js';

/** The obvious, slow implementation of the same rules: sets and linear scans. */
class ModelChecker {
  baseline = -1;
  seen = new Set<number>();
  highest = 0;
  catchUpUntil = 0;
  rejoined = false;
  counts = { duplicated: 0, reordered: 0, redelivered: 0, unexpected: 0, catchup: 0 };

  joined(head: number, after: number): void {
    if (this.baseline < 0) {
      this.baseline = after;
      this.highest = after;
    } else this.rejoined = true;
    this.catchUpUntil = Math.max(this.catchUpUntil, head);
  }

  receive(seq: number): void {
    if (this.baseline < 0 || seq <= this.baseline) {
      this.counts.unexpected++;
      return;
    }
    const inCatchUp = seq <= this.catchUpUntil;
    if (this.seen.has(seq)) {
      if (inCatchUp && this.rejoined) this.counts.redelivered++;
      else this.counts.duplicated++;
      return;
    }
    if (seq < this.highest && !inCatchUp) this.counts.reordered++;
    this.highest = Math.max(this.highest, seq);
    this.seen.add(seq);
    if (inCatchUp) this.counts.catchup++;
  }

  tally(head: number): Tally {
    const expected = this.baseline < 0 ? 0 : Math.max(0, head - this.baseline);
    let missing = 0;
    for (let s = this.baseline + 1; s <= head; s++) if (!this.seen.has(s)) missing++;
    return { expected, unique: this.seen.size, lost: this.baseline < 0 ? 0 : missing, ...this.counts };
  }
}

type Step = { kind: 'receive'; seq: number } | { kind: 'rejoin'; head: number };

const steps = fc.array(
  fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 40 }).map((seq): Step => ({ kind: 'receive', seq })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }).map((head): Step => ({ kind: 'rejoin', head })) },
  ),
  { maxLength: 120 },
);

test('accounting - agrees with a naive model on random sequences with drops, duplicates, shuffles and rejoins', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10 }), steps, fc.integer({ min: 0, max: 45 }), (baseline, script, head) => {
      const checker = new SeqChecker();
      const model = new ModelChecker();
      checker.onJoined(baseline, baseline);
      model.joined(baseline, baseline);
      for (const step of script) {
        if (step.kind === 'receive') {
          checker.receive(step.seq);
          model.receive(step.seq);
        } else {
          checker.onJoined(step.head, checker.watermark);
          model.joined(step.head, 0);
        }
      }
      assert.deepEqual(checker.tally(head), model.tally(head));
    }),
    { numRuns: 2000 },
  );
});

test('accounting - an in-order gap-free stream is all delivered, nothing lost, duplicated or reordered', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 500 }), (baseline, count) => {
      const checker = new SeqChecker();
      checker.onJoined(baseline, baseline);
      for (let seq = baseline + 1; seq <= baseline + count; seq++) assert.equal(checker.receive(seq), Delivery.live);
      const tally = checker.tally(baseline + count);
      assert.deepEqual(
        [tally.expected, tally.unique, tally.lost, tally.duplicated, tally.reordered],
        [count, count, 0, 0, 0],
      );
      assert.equal(checker.watermark, baseline + count);
    }),
  );
});

test('accounting - every dropped seq is counted as lost, however many and wherever', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }), (count, drops) => {
      const checker = new SeqChecker();
      checker.onJoined(0, 0);
      let dropped = 0;
      for (let seq = 1; seq <= count; seq++) {
        if (drops[seq - 1]) dropped++;
        else checker.receive(seq);
      }
      assert.equal(checker.tally(count).lost, dropped);
    }),
  );
});

test('accounting - every repeated delivery is counted as a duplicate and not as a new one', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 200 }), (seqs) => {
      const checker = new SeqChecker();
      checker.onJoined(0, 0);
      for (const seq of seqs) checker.receive(seq);
      const distinct = new Set(seqs).size;
      const tally = checker.tally(50);
      assert.equal(tally.unique, distinct);
      assert.equal(tally.duplicated, seqs.length - distinct);
      assert.equal(tally.lost, 50 - distinct);
    }),
  );
});

test('accounting - a shuffled stream loses nothing but counts each late arrival as reordered', () => {
  fc.assert(
    fc.property(fc.shuffledSubarray([...Array(30).keys()].map((i) => i + 1), { minLength: 30, maxLength: 30 }), (order) => {
      const checker = new SeqChecker();
      checker.onJoined(0, 0);
      let highest = 0;
      let late = 0;
      for (const seq of order) {
        if (seq < highest) late++;
        highest = Math.max(highest, seq);
        checker.receive(seq);
      }
      const tally = checker.tally(30);
      assert.equal(tally.lost, 0);
      assert.equal(tally.reordered, late);
    }),
  );
});

test('accounting - hand-picked cases', () => {
  const run = (seqs: number[], head: number) => {
    const checker = new SeqChecker();
    checker.onJoined(0, 0);
    for (const seq of seqs) checker.receive(seq);
    return checker.tally(head);
  };
  assert.deepEqual(
    (({ lost, duplicated, reordered }) => ({ lost, duplicated, reordered }))(run([1, 2, 4, 3], 4)),
    { lost: 0, duplicated: 0, reordered: 1 },
  );
  assert.equal(run([1, 2, 2, 3], 3).duplicated, 1);
  assert.equal(run([1, 3], 3).lost, 1);
  assert.equal(run([], 5).lost, 5);
  assert.equal(run([1, 2, 3], 5).lost, 2, 'the tail end missing is lost too');
  assert.equal(run([1, 2, 3, 4, 5], 3).lost, 0, 'a stale head does not turn extra deliveries into a negative loss');
});

test('accounting - a first join that replays nothing expects only what comes after the head', () => {
  const checker = new SeqChecker();
  checker.onJoined(7, 7);
  assert.equal(checker.receive(7), Delivery.unexpected);
  assert.equal(checker.receive(8), Delivery.live);
  const tally = checker.tally(9);
  assert.equal(tally.expected, 2);
  assert.equal(tally.lost, 1);
  assert.equal(tally.unexpected, 1);
});

test('accounting - deliveries before any join are unexpected and expect nothing', () => {
  const checker = new SeqChecker();
  assert.equal(checker.receive(1), Delivery.unexpected);
  assert.equal(checker.joined, false);
  assert.equal(checker.tally(10).expected, 0);
});

test('accounting - a rejoin replays from the watermark: held seqs are redelivered, not duplicated, and nothing is reordered', () => {
  const checker = new SeqChecker();
  checker.onJoined(0, 0);
  for (const seq of [1, 2, 3, 5]) checker.receive(seq); // 4 went missing
  assert.equal(checker.watermark, 3);
  checker.onJoined(8, checker.watermark);
  assert.equal(checker.receive(4), Delivery.catchup);
  assert.equal(checker.receive(5), Delivery.redelivered);
  for (const seq of [6, 7, 8]) assert.equal(checker.receive(seq), Delivery.catchup);
  assert.equal(checker.receive(9), Delivery.live);
  assert.equal(checker.receive(9), Delivery.duplicate, 'outside a catch-up a repeat is a duplicate');
  const tally = checker.tally(9);
  assert.deepEqual(
    [tally.lost, tally.duplicated, tally.reordered, tally.redelivered, tally.catchup],
    [0, 1, 0, 1, 4],
  );
});
