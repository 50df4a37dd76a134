import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientFrame } from '../../protocol/index.js';
import { holderOf, SocketGate } from './socket-gate.js';
import { FakeClock } from './test/fake-clock.js';

function setup(open = true) {
  const clock = new FakeClock();
  const sent: ClientFrame[] = [];
  const gate = new SocketGate({ clock, holdMs: 5000, send: (frame) => open && sent.push(frame) > 0 });
  const joined = (ref: string) => gate.received({ type: 'joined', conv: 'c1', epoch: 'E', head: 0, members: [], typing: [], ref });
  return { clock, sent, gate, joined };
}

const join = (ref: string, after = 0): ClientFrame => ({ type: 'join', conv: 'c1', after, ref });
const refs = (frames: ClientFrame[]) => frames.map((f) => ('ref' in f ? f.ref : undefined));

describe('socket gate', () => {
  test('socket gate - the holder of a ref is the ref without its counter', () => {
    assert.equal(holderOf('tab1.3.17'), 'tab1.3');
    assert.equal(holderOf(undefined), '');
  });

  test('socket gate - joins of a conversation go one at a time; a view’s newer join replaces its queued one', () => {
    const { sent, gate, joined } = setup();
    assert.equal(gate.send(join('a.1.1')), true);
    gate.send(join('b.1.1'));
    gate.send(join('c.1.1'));
    gate.send(join('b.1.2', 4));
    assert.deepEqual(refs(sent), ['a.1.1']);
    joined('a.1.1');
    assert.deepEqual(refs(sent), ['a.1.1', 'c.1.1']);
    gate.received({ type: 'error', code: 'internal', message: 'x', ref: 'c.1.1' });
    assert.deepEqual(refs(sent), ['a.1.1', 'c.1.1', 'b.1.2']);
    joined('b.1.2');
    assert.deepEqual(gate.holders('c1').sort(), ['a.1', 'b.1', 'c.1']);
  });

  test('socket gate - a join whose answer never came holds the next one back only for holdMs', () => {
    const { clock, sent, gate } = setup();
    gate.send(join('a.1.1'));
    gate.send(join('b.1.1'));
    assert.deepEqual(refs(sent), ['a.1.1']);
    clock.advance(5000);
    gate.send(join('b.1.2'));
    assert.deepEqual(refs(sent), ['a.1.1', 'b.1.2']);
  });

  test('socket gate - leave goes out with the last holder; a tab that goes away leaves for its views', () => {
    const { sent, gate, joined } = setup();
    gate.send(join('a.1.1'));
    joined('a.1.1');
    gate.send(join('b.1.1'));
    joined('b.1.1');
    gate.send({ type: 'leave', conv: 'c1', ref: 'a.1.2' });
    assert.deepEqual(sent.filter((f) => f.type === 'leave'), []);
    gate.tabGone('b');
    assert.deepEqual(sent.filter((f) => f.type === 'leave'), [{ type: 'leave', conv: 'c1' }]);
    assert.deepEqual(gate.holders('c1'), []);
  });

  test('socket gate - a join that could not go out holds nothing; reset forgets every membership', () => {
    const closed = setup(false);
    assert.equal(closed.gate.send(join('a.1.1')), false);
    assert.deepEqual(closed.gate.holders('c1'), []);
    const { gate, joined } = setup();
    gate.send(join('a.1.1'));
    joined('a.1.1');
    gate.reset();
    assert.deepEqual(gate.holders('c1'), []);
  });
});
