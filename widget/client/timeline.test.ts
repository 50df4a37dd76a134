import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Timeline } from './timeline.js';

interface Msg {
  seq: number;
  id: string;
  from: { id: string };
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
/** Even seqs are the user's own messages (id `own<seq>`), odd ones someone else's. */
const msg = (seq: number): Msg => (seq % 2 === 0 ? { seq, id: `own${seq}`, from: { id: 'me' } } : { seq, id: `m${seq}`, from: { id: 'bob' } });
const seqs = (timeline: Timeline<Msg, string>) => timeline.items.map((m) => m.seq);

/** What the view would list: the run, then acked own messages not in it (as the conversation builds its snapshot). */
const shown = (timeline: Timeline<Msg, string>) => [...timeline.items.map((m) => m.id), ...timeline.acked().map((a) => a.entry)];

type Event = { kind: 'msg'; seq: number } | { kind: 'ack'; seq: number };

/** n seqs; a random interleaving of arrivals (duplicates, holes) and acks of own (even) seqs. */
const scenario = fc.integer({ min: 1, max: 60 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    events: fc.array(
      fc.oneof(
        fc.integer({ min: 1, max: n }).map((seq): Event => ({ kind: 'msg', seq })),
        // Acks only for own (even) seqs up to n; with n = 1 there are none.
        n >= 2 ? fc.integer({ min: 1, max: Math.floor(n / 2) }).map((k): Event => ({ kind: 'ack', seq: 2 * k })) : fc.constant<Event>({ kind: 'msg', seq: 1 }),
      ),
      { maxLength: 4 * n },
    ),
    rest: fc.shuffledSubarray(range(1, n), { minLength: n, maxLength: n }),
  }),
);

function apply(timeline: Timeline<Msg, string>, event: Event): void {
  if (event.kind === 'msg') timeline.push([msg(event.seq)]);
  else timeline.ack(`own${event.seq}`, `own${event.seq}`, event.seq, event.seq);
}

/** A log of events with messages and updates (edits of earlier messages) sharing the seq. */
interface LogMsg extends Msg {
  type: 'msg';
  text: string;
  rev?: number;
}
interface LogUpdate {
  type: 'update';
  seq: number;
  id: string;
  text: string;
}
type LogItem = LogMsg | LogUpdate;

const applyEdit = (message: LogMsg, update: LogUpdate): LogMsg | null =>
  update.seq <= (message.rev ?? 0) ? null : { ...message, text: update.text, rev: update.seq };

/** Events 1..n: each an update of an earlier message (when `kinds` says so and there is one) or a new message. */
const logScenario = fc.integer({ min: 1, max: 50 }).chain((n) =>
  fc.record({
    kinds: fc.array(fc.tuple(fc.boolean(), fc.nat()), { minLength: n, maxLength: n }),
    early: fc.array(fc.integer({ min: 1, max: n }), { maxLength: 3 * n }),
    rest: fc.shuffledSubarray(range(1, n), { minLength: n, maxLength: n }),
  }),
);

function makeLog(kinds: Array<[boolean, number]>): LogItem[] {
  const log: LogItem[] = [];
  const ids: string[] = [];
  kinds.forEach(([isUpdate, pick], i) => {
    const seq = i + 1;
    if (isUpdate && ids.length > 0) log.push({ type: 'update', seq, id: ids[pick % ids.length]!, text: `edit ${seq}` });
    else {
      ids.push(`m${seq}`);
      log.push({ type: 'msg', seq, id: `m${seq}`, from: { id: 'bob' }, text: `text ${seq}` });
    }
  });
  return log;
}

/** The messages of the log up to `last`, each in the state the events up to `last` give it. */
function stateAt(log: LogItem[], last: number): Array<{ id: string; text: string }> {
  const messages = new Map<string, string>();
  // A message's text is its own, then each edit's in turn (updates only name earlier messages).
  for (const event of log.slice(0, last)) messages.set(event.id, event.text);
  return [...messages].map(([id, text]) => ({ id, text }));
}

describe('timeline', () => {
  test('timeline - messages and updates in any order, with duplicates and replays: every update applied once, in seq order', () => {
    fc.assert(
      fc.property(logScenario, ({ kinds, early, rest }) => {
        const log = makeLog(kinds);
        const timeline = new Timeline<LogMsg, string, LogUpdate>(applyEdit);
        for (const seq of [...early, ...rest, ...early]) {
          timeline.push([log[seq - 1]!]);
          // Whatever is shown is the log applied up to `last`, never a later state and never a hole.
          assert.deepEqual(timeline.items.map((m) => ({ id: m.id, text: m.text })), stateAt(log, timeline.last));
        }
        assert.equal(timeline.last, log.length);
        // A replay of the whole log (join after 0) changes nothing.
        const version = timeline.version;
        timeline.push(log);
        assert.equal(timeline.version, version);
      }),
    );
  });

  test('timeline - an update for a message not held is skipped; an older page may skip update seqs; a stale page is ignored', () => {
    const timeline = new Timeline<LogMsg, string, LogUpdate>(applyEdit);
    timeline.reset(10);
    timeline.push([{ type: 'update', seq: 11, id: 'm3', text: 'not held' }, { type: 'msg', seq: 12, id: 'm12', from: { id: 'bob' }, text: 'a' }]);
    assert.deepEqual(timeline.items.map((m) => m.id), ['m12']);
    assert.equal(timeline.last, 12);
    // `history before 11`: messages only, 7 was an update.
    const page: LogMsg[] = [6, 8, 9, 10].map((seq) => ({ type: 'msg', seq, id: `m${seq}`, from: { id: 'bob' }, text: 't' }));
    assert.deepEqual(timeline.prepend(page, 99), [], 'asked for another base');
    assert.deepEqual(timeline.prepend(page, 11).map((m) => m.seq), [6, 8, 9, 10]);
    assert.equal(timeline.base, 5);
    assert.deepEqual(timeline.prepend([1, 3].map((seq): LogMsg => ({ type: 'msg', seq, id: `m${seq}`, from: { id: 'bob' }, text: 't' })), 6, false).length, 2);
    assert.equal(timeline.base, 0, 'nothing older');
    assert.deepEqual(timeline.items.map((m) => m.seq), [1, 3, 6, 8, 9, 10, 12]);
  });

  test('timeline - whatever arrives, the run is gap-free ascending and nothing is shown twice', () => {
    fc.assert(
      fc.property(scenario, ({ events }) => {
        const timeline = new Timeline<Msg, string>();
        for (const event of events) {
          apply(timeline, event);
          assert.deepEqual(seqs(timeline), range(1, timeline.last));
          const ids = shown(timeline);
          assert.equal(new Set(ids).size, ids.length, ids.join(','));
          // Acked messages wait above the run, ascending, and never for one the run shows.
          const acked = timeline.acked();
          for (const a of acked) assert.ok(a.seq > timeline.last && !timeline.has(a.entry));
          assert.deepEqual(acked.map((a) => a.seq), [...acked.map((a) => a.seq)].sort((a, b) => a - b));
        }
      }),
    );
  });

  test('timeline - once every seq has arrived the run is 1..N, no acked message left over, every id known', () => {
    fc.assert(
      fc.property(scenario, ({ n, events, rest }) => {
        const timeline = new Timeline<Msg, string>();
        for (const event of events) apply(timeline, event);
        for (const seq of rest) timeline.push([msg(seq)]);
        assert.deepEqual(seqs(timeline), range(1, n));
        assert.deepEqual(timeline.acked(), []);
        assert.equal(timeline.gap(), null);
        for (const seq of range(1, n)) assert.ok(timeline.has(msg(seq).id));
      }),
    );
  });

  test('timeline - push returns exactly what became visible, ascending', () => {
    fc.assert(
      fc.property(scenario, ({ events, rest }) => {
        const timeline = new Timeline<Msg, string>();
        const returned: number[] = [];
        for (const seq of [...events.filter((e) => e.kind === 'msg').map((e) => e.seq), ...rest]) {
          returned.push(...timeline.push([msg(seq)]).map((m) => m.seq));
        }
        assert.deepEqual(returned, seqs(timeline));
      }),
    );
  });

  test('timeline - a tail join with older pages prepended stays gap-free and knows every id', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 40 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 8 }),
        (base, live, pages) => {
          const timeline = new Timeline<Msg, string>();
          timeline.reset(base);
          timeline.push(range(base + 1, base + live).map(msg));
          for (const size of pages) {
            const before = timeline.base + 1;
            timeline.prepend(range(Math.max(1, before - size), before - 1).map(msg), before);
          }
          const expectedBase = Math.max(0, base - pages.reduce((sum, size) => sum + size, 0));
          assert.equal(timeline.base, expectedBase);
          assert.deepEqual(seqs(timeline), range(expectedBase + 1, base + live));
          for (const seq of range(expectedBase + 1, base + live)) assert.ok(timeline.has(msg(seq).id));
        },
      ),
    );
  });

  test('timeline - the unread divider and the unread count agree with a plain count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 60 }),
        (base, length, read, head, cursor) => {
          const timeline = new Timeline<Msg, string>();
          timeline.reset(base, range(base + 1, base + length).map(msg));
          assert.equal(timeline.firstUnreadSeq('me'), null);
          timeline.markOpened(read, head);
          const others = timeline.items.filter((m) => m.from.id !== 'me');
          const first = others.find((m) => m.seq > read && m.seq <= head);
          assert.equal(timeline.firstUnreadSeq('me'), first?.seq ?? null);
          const after = Math.max(read, cursor);
          const expected = Math.max(0, base - after) + others.filter((m) => m.seq > after).length;
          assert.equal(timeline.unreadCount('me', cursor), expected);
        },
      ),
    );
  });

  test('timeline - a reset forgets the run; a replaced store forgets acked messages too', () => {
    const timeline = new Timeline<Msg, string>();
    timeline.push(range(1, 4).map(msg));
    timeline.ack('own8', 'own8', 8, 8);
    timeline.ack('own10', 'own10', 10, 10);
    timeline.reset(8);
    assert.deepEqual(seqs(timeline), []);
    assert.equal(timeline.has('m1'), false);
    // The run starts after 8 now: the ack at 8 is behind it, the one at 10 still waits.
    assert.deepEqual(timeline.acked().map((a) => a.seq), [10]);
    timeline.reset(0, [], true);
    assert.deepEqual(timeline.acked(), []);
  });

  test('timeline - an ack for a message the run already shows, or below it, is not kept', () => {
    const timeline = new Timeline<Msg, string>();
    timeline.push(range(1, 4).map(msg));
    timeline.ack('own4', 'own4', 4, 4);
    timeline.ack('own2', 'own2', 6, 6);
    assert.deepEqual(timeline.acked(), []);
  });
});
