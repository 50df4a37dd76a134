/**
 * Presence across relays with an injected clock: several Presence instances (one per relay)
 * exchange their cluster events through a hand-cranked network, so grace, heartbeats, lost
 * events, dead and departing relays are tested without sleeping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterEvent } from '../bus/types.js';
import { FakeClock, silent } from '../test/fakes.js';
import { Presence, SNAPSHOT_PART_PAIRS, type PresenceTimings } from './presence.js';

const TIMINGS: PresenceTimings = { graceMs: 5000, heartbeatMs: 5000, staleMs: 30_000 };

interface Node {
  id: string;
  presence: Presence;
  /** Transitions this relay saw: `conv/user:on` or `conv/user:off@seen`. */
  changes: string[];
  persisted: string[];
  alive: boolean;
}

class Network {
  readonly clock = new FakeClock();
  readonly nodes: Node[] = [];
  readonly sent: ClusterEvent[] = [];
  private _queue: Array<{ from: string; event: ClusterEvent }> = [];
  /** Events for which this returns true are lost on the way. */
  lose: (event: ClusterEvent) => boolean = () => false;

  add(id: string, timings: PresenceTimings = TIMINGS): Node {
    const node: Node = { id, changes: [], persisted: [], alive: true, presence: null! };
    node.presence = new Presence({
      relayId: id,
      clock: this.clock,
      timings,
      log: silent,
      broadcast: (event) => {
        if (!node.alive) return;
        this.sent.push(event);
        if (!this.lose(event)) this._queue.push({ from: id, event: JSON.parse(JSON.stringify(event)) as ClusterEvent });
      },
      changed: (conv, user, online, seen) => node.changes.push(`${conv}/${user}:${online ? 'on' : `off@${seen}`}`),
      persistSeen: (conv, user, ts) => node.persisted.push(`${conv}/${user}@${ts}`),
    });
    this.nodes.push(node);
    return node;
  }

  /** Delivers everything sent so far (and what that causes), in order, to every live relay. */
  flush(): void {
    for (let i = 0; i < 100 && this._queue.length > 0; i++) {
      const batch = this._queue.splice(0);
      for (const { event } of batch) for (const node of this.nodes) if (node.alive) node.presence.receive(event);
      this.clock.advance(0);
    }
  }

  /** Moves time forward, delivering events as timers produce them. */
  advance(ms: number, step = 100): void {
    for (let done = 0; done < ms; done += step) {
      this.clock.advance(Math.min(step, ms - done));
      this.flush();
    }
  }

  kill(node: Node): void {
    node.alive = false;
    node.presence.dispose();
  }
}

test('presence - first connection is online at once; the last one leaving goes offline only after the grace, with seen', () => {
  const net = new Network();
  const a = net.add('a');
  a.presence.start();
  const t0 = net.clock.now();
  a.presence.join('c', 'alice');
  a.presence.join('c', 'alice'); // a second tab
  net.flush();
  assert.deepEqual(a.changes, ['c/alice:on']);
  assert.ok(a.presence.online('c', 'alice'));
  a.presence.leave('c', 'alice');
  net.advance(10_000);
  assert.deepEqual(a.changes, ['c/alice:on'], 'one tab still there');
  net.advance(1000);
  const left = net.clock.now();
  a.presence.leave('c', 'alice');
  net.advance(4900);
  assert.ok(a.presence.online('c', 'alice'), 'within the grace');
  assert.deepEqual(a.changes, ['c/alice:on']);
  net.advance(100);
  assert.deepEqual(a.changes, ['c/alice:on', `c/alice:off@${left}`]);
  assert.deepEqual(a.persisted, [`c/alice@${left}`], 'seen is the moment the last connection left');
  assert.ok(!a.presence.online('c', 'alice'));
  assert.ok(left > t0);
});

test('presence - a reconnect within the grace, on the same relay or another, does not flap', () => {
  const net = new Network();
  const [a, b] = [net.add('a'), net.add('b')];
  a.presence.start();
  b.presence.start();
  a.presence.join('c', 'alice');
  net.flush();
  assert.deepEqual([a.changes, b.changes], [['c/alice:on'], ['c/alice:on']]);
  a.presence.leave('c', 'alice');
  net.advance(3000);
  a.presence.join('c', 'alice');
  net.advance(20_000);
  // Now through the other relay: alice's tab moves from a to b.
  a.presence.leave('c', 'alice');
  net.advance(2000);
  b.presence.join('c', 'alice');
  net.advance(20_000);
  assert.deepEqual([a.changes, b.changes], [['c/alice:on'], ['c/alice:on']], 'never offline');
  assert.ok(a.presence.online('c', 'alice') && b.presence.online('c', 'alice'));
  assert.deepEqual(a.persisted, [`c/alice@${net.clock.now() - 20_000 - 2000}`], 'a persisted when its own last connection went');
});

test('presence - a relay that dies takes its users offline on the others within staleMs, who persist seen', () => {
  const net = new Network();
  const [a, b, c] = [net.add('a'), net.add('b'), net.add('c')];
  for (const n of [a, b, c]) n.presence.start();
  a.presence.join('room', 'alice');
  b.presence.join('room', 'bob');
  net.advance(7000);
  assert.ok(b.presence.online('room', 'alice') && c.presence.online('room', 'alice'));
  const lastHeard = net.clock.now();
  net.advance(5000 - (lastHeard % 5000) + 1); // a's next heartbeat goes out, then a dies
  net.kill(a);
  const died = net.clock.now();
  let offlineAt = 0;
  for (let t = 0; t <= 31_000 && !offlineAt; t += 100) {
    net.advance(100);
    if (!b.presence.online('room', 'alice')) offlineAt = net.clock.now();
  }
  assert.ok(offlineAt > 0, 'alice went offline on b');
  assert.ok(offlineAt - died <= TIMINGS.staleMs, `within staleMs (${offlineAt - died} ms)`);
  assert.ok(offlineAt - died >= TIMINGS.staleMs - 2 * TIMINGS.heartbeatMs, 'not before several heartbeats were missed');
  assert.ok(!c.presence.online('room', 'alice'));
  assert.ok(b.presence.online('room', 'bob'), 'live relays stay');
  assert.equal(b.changes.filter((x) => x.startsWith('room/alice:off@')).length, 1);
  assert.equal(b.persisted.length, 1);
  assert.match(b.persisted[0]!, /^room\/alice@\d+$/);
  assert.ok(Number(b.persisted[0]!.split('@')[1]) <= died, 'seen = the last time the dead relay was heard');
});

test('presence - lost changes are repaired by the next snapshot; a newcomer learns the state by asking', () => {
  const net = new Network();
  const [a, b] = [net.add('a'), net.add('b')];
  a.presence.start();
  b.presence.start();
  net.flush();
  net.lose = (event) => event.kind === 'presence';
  a.presence.join('c', 'alice');
  a.presence.join('c', 'zed');
  net.flush();
  assert.ok(!b.presence.online('c', 'alice'), 'the change was lost');
  net.lose = () => false;
  net.advance(5000);
  assert.ok(b.presence.online('c', 'alice') && b.presence.online('c', 'zed'), 'the heartbeat snapshot restated it');
  net.lose = (event) => event.kind === 'presence';
  a.presence.leave('c', 'zed');
  net.advance(5000 + 100);
  net.lose = () => false;
  net.advance(5000);
  assert.ok(!b.presence.online('c', 'zed'), 'a pair missing from the snapshot goes offline');
  assert.deepEqual(b.changes, ['c/alice:on', 'c/zed:on', b.changes[2]]);
  assert.match(b.changes[2]!, /^c\/zed:off@\d+$/);

  const late = net.add('late');
  late.presence.start(); // asks; a and b answer with snapshots at once, not at their next heartbeat
  net.flush();
  assert.ok(late.presence.online('c', 'alice'));
  assert.deepEqual(late.changes, ['c/alice:on']);
});

test('presence - a relay shutting down: its users stay online for the grace, time to reconnect elsewhere', () => {
  const net = new Network();
  const [a, b] = [net.add('a'), net.add('b')];
  a.presence.start();
  b.presence.start();
  a.presence.join('c', 'alice');
  a.presence.join('c', 'carol');
  net.flush();
  a.presence.leave('c', 'alice'); // the hub closes its sessions first
  a.presence.leave('c', 'carol');
  const bye = net.clock.now();
  a.presence.stop();
  net.kill(a);
  net.flush();
  assert.deepEqual(a.persisted.sort(), [`c/alice@${bye}`, `c/carol@${bye}`], 'the leaving relay stores seen itself');
  net.advance(2000);
  b.presence.join('c', 'alice'); // alice reconnected to b
  net.advance(3100);
  assert.ok(b.presence.online('c', 'alice'));
  assert.ok(!b.presence.online('c', 'carol'));
  assert.deepEqual(b.changes, ['c/alice:on', 'c/carol:on', `c/carol:off@${bye}`]);
  assert.deepEqual(b.persisted, [], 'nothing for the others to persist');
});

test('presence - snapshots larger than one message are sent in parts and applied once complete', () => {
  const net = new Network();
  const [a, b] = [net.add('a'), net.add('b')];
  a.presence.start();
  b.presence.start();
  const users = SNAPSHOT_PART_PAIRS * 2 + 5;
  net.lose = (event) => event.kind === 'presence';
  for (let i = 0; i < users; i++) a.presence.join('big', `u${i}`);
  net.lose = () => false;
  net.advance(5000);
  const parts = net.sent.filter((e) => e.kind === 'presence-snapshot' && e.relay === 'a' && e.pairs.length > 0);
  const rounds = new Set(parts.map((e) => e.kind === 'presence-snapshot' && e.round));
  assert.ok(rounds.size >= 1);
  assert.equal(parts.length, rounds.size * 3, 'three parts per snapshot');
  assert.equal(b.changes.length, users);
  assert.ok(b.presence.online('big', `u${users - 1}`));
});

test('presence - timings that could not detect a dead relay in time are refused', () => {
  assert.throws(() => new Network().add('a', { graceMs: 5000, heartbeatMs: 10_000, staleMs: 30_000 }), /at least 4 times heartbeatMs/);
  assert.doesNotThrow(() => new Network().add('a', { graceMs: 5000, heartbeatMs: 7500, staleMs: 30_000 }));
});
