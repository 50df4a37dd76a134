/**
 * Presence across the cluster (v1.1): who has a connection joined to which conversation, on
 * any relay. Every relay keeps the whole cluster's view, so `joined.members[*].online` and
 * the server API answer at once, for any conversation, without asking anyone.
 *
 * - This relay's own pairs (conversation, user) are counted by session. The last session of a
 *   pair leaving starts the grace (`graceMs`); a session of the same user joining again within
 *   it cancels the grace, so a reconnect does not flap. When the grace runs out the pair goes
 *   offline: the change is broadcast and `seen` (the moment the last session left) is persisted.
 * - Changes are broadcast as they happen (batched per event-loop turn), and every `heartbeatMs`
 *   a relay broadcasts a snapshot of all its pairs: a lost change is repaired by the next
 *   snapshot, and a relay whose snapshots stop (it died, or lost the bus) is dropped after
 *   `staleMs - heartbeatMs` of silence less a margin for late timers, checked every heartbeat:
 *   its users are offline on the others within `staleMs` at most.
 * - A relay that starts (or reconnects to the bus) asks the others for their snapshots.
 * - A relay that shuts down says so: the others drop its pairs after the grace (its users
 *   reconnect elsewhere in the meantime and stay online without a flap).
 *
 * A pair is online while at least one relay (this one included) holds it; `changed` is called
 * on each transition of that count between 0 and 1, which the hub turns into `presence` frames
 * for its own sessions. Each relay computes the transitions from its own view, so each of
 * its clients gets one frame per transition.
 */
import { ID_PATTERN, Limits } from '../../protocol/index.js';
import type { ClusterEvent, PresencePair } from '../bus/types.js';
import type { Clock, Logger, TimerHandle } from './ports.js';

export interface PresenceTimings {
  /** A pair whose last connection left is announced offline only after this (ms). */
  graceMs: number;
  /** How often a relay broadcasts its snapshot (ms). */
  heartbeatMs: number;
  /** The longest a dead relay's users may still show online elsewhere (ms); at least four heartbeats. */
  staleMs: number;
}

export const DEFAULT_PRESENCE_TIMINGS: PresenceTimings = {
  graceMs: Limits.presenceGraceMs,
  heartbeatMs: 5000,
  staleMs: Limits.presenceStaleMs,
};

/** Pairs per snapshot message: at most ~270 KB even with 128-character ids, far below NATS's 1 MB payload limit. */
export const SNAPSHOT_PART_PAIRS = 1000;
/** Pairs held for other relays together; beyond it new ones are ignored (a bound, not an expected load). */
export const MAX_REMOTE_PAIRS = 1_000_000;
/** staleMs must span at least this many heartbeats (see the constructor). */
export const MIN_HEARTBEATS_PER_STALE = 4;
/** Other relays remembered at once. */
export const MAX_RELAYS = 1000;

export interface PresenceOptions {
  /** This relay's id in the cluster (unique per process). */
  relayId: string;
  clock: Clock;
  timings: PresenceTimings;
  log: Logger;
  broadcast(event: ClusterEvent): void;
  /** The cluster-wide presence of a pair changed (offline: `seen` = the last moment it was online). */
  changed(conv: string, user: string, online: boolean, seen: number | undefined): void;
  /** Persist the last moment a user was online in a conversation. */
  persistSeen(conv: string, user: string, ts: number): void;
  maxRemotePairs?: number;
}

interface LocalPair {
  sessions: number;
  /** While the grace runs: when the last session left, and the timer that ends the grace. */
  leftAt?: number;
  grace?: TimerHandle;
}

interface Snapshot {
  round: number;
  parts: number;
  ts: number;
  got: Set<number>;
  pairs: Set<string>;
}

interface RemoteRelay {
  pairs: Set<string>;
  lastHeard: number;
  /** A snapshot whose parts are still arriving. */
  collecting?: Snapshot;
  /** Set once the relay said goodbye: its pairs go after the grace. */
  leaving?: TimerHandle;
}

type Change = { conv: string; user: string; online: boolean; ts: number };

export class Presence {
  private readonly _local = new Map<string, LocalPair>();
  private readonly _remote = new Map<string, RemoteRelay>();
  /** How many relays (this one included) hold each pair; absent = offline. */
  private readonly _holders = new Map<string, number>();
  private _remotePairs = 0;
  private _overflowWarned = false;
  private _pending: Change[] = [];
  private _flushTimer: TimerHandle | undefined;
  private _snapshotSoon: TimerHandle | undefined;
  private _heartbeat: TimerHandle | undefined;
  private _round = 0;
  private _stopped = false;

  constructor(private readonly _o: PresenceOptions) {
    // Fewer than four heartbeats per staleness window would drop live relays that missed one or two.
    if (_o.timings.staleMs < MIN_HEARTBEATS_PER_STALE * _o.timings.heartbeatMs) {
      throw new Error(`presence: staleMs (${_o.timings.staleMs}) must be at least ${MIN_HEARTBEATS_PER_STALE} times heartbeatMs (${_o.timings.heartbeatMs})`);
    }
  }

  /** Asks the other relays for their state and starts the heartbeat. */
  start(): void {
    this._o.broadcast({ kind: 'presence-query', relay: this._o.relayId });
    this._scheduleHeartbeat();
  }

  /** The bus came back: what happened meanwhile is restated both ways. */
  reconnected(): void {
    if (this._stopped) return;
    this._o.broadcast({ kind: 'presence-query', relay: this._o.relayId });
    this._sendSnapshot();
  }

  /** Whether the user has a connection joined to the conversation on some relay (grace included). */
  online(conv: string, user: string): boolean {
    return this._holders.has(pairKey(conv, user));
  }

  /** A session of this relay joined the conversation as this user. */
  join(conv: string, user: string): void {
    if (this._stopped) return;
    const key = pairKey(conv, user);
    const local = this._local.get(key);
    if (local) {
      local.sessions++;
      if (local.grace !== undefined) {
        // Back within the grace: nobody was told it had gone.
        this._o.clock.clearTimeout(local.grace);
        local.grace = undefined;
        local.leftAt = undefined;
      }
      return;
    }
    this._local.set(key, { sessions: 1 });
    this._queue({ conv, user, online: true, ts: this._o.clock.now() });
    this._hold(key, conv, user);
  }

  /** A session of this relay left the conversation (or closed). */
  leave(conv: string, user: string): void {
    const key = pairKey(conv, user);
    const local = this._local.get(key);
    if (!local || local.sessions === 0) return;
    if (--local.sessions > 0 || this._stopped) return;
    local.leftAt = this._o.clock.now();
    local.grace = this._o.clock.setTimeout(() => this._endGrace(key, conv, user), this._o.timings.graceMs);
  }

  /** A cluster event from another relay (this relay's own are ignored). */
  receive(event: ClusterEvent): void {
    if (this._stopped || event.relay === this._o.relayId || typeof event.relay !== 'string') return;
    const now = this._o.clock.now();
    switch (event.kind) {
      case 'presence-query':
        this._remoteRelay(event.relay, now);
        // Several relays may ask at once: one snapshot answers them all.
        this._snapshotSoon ??= this._o.clock.setTimeout(() => {
          this._snapshotSoon = undefined;
          this._sendSnapshot();
        }, 0);
        return;
      case 'presence': {
        const relay = this._remoteRelay(event.relay, now);
        if (!relay || !Array.isArray(event.changes)) return;
        for (const change of event.changes) {
          if (!validPair(change.conv, change.user)) continue;
          const key = pairKey(change.conv, change.user);
          if (change.online) this._addRemote(relay, key, change.conv, change.user);
          else this._removeRemote(relay, key, change.conv, change.user, typeof change.ts === 'number' ? change.ts : now);
        }
        return;
      }
      case 'presence-snapshot':
        this._snapshotPart(event, now);
        return;
      case 'presence-bye': {
        const relay = this._remote.get(event.relay);
        if (!relay || relay.leaving !== undefined) return;
        const seen = typeof event.ts === 'number' ? event.ts : now;
        relay.lastHeard = now;
        relay.leaving = this._o.clock.setTimeout(() => this._dropRelay(event.relay, seen, false), this._o.timings.graceMs);
        return;
      }
    }
  }

  /**
   * Shutdown: every pair of this relay is persisted as seen now (or when its last session
   * left), and the others are told, so they drop this relay's pairs after the grace.
   */
  stop(): void {
    if (this._stopped) return;
    const now = this._o.clock.now();
    this._flush();
    for (const [key, local] of this._local) {
      this._o.clock.clearTimeout(local.grace);
      const [conv, user] = splitKey(key);
      this._o.persistSeen(conv, user, local.leftAt ?? now);
    }
    this._local.clear();
    this._stopped = true;
    this._o.broadcast({ kind: 'presence-bye', relay: this._o.relayId, ts: now });
    this.dispose();
  }

  dispose(): void {
    this._stopped = true;
    const { clock } = this._o;
    for (const timer of [this._flushTimer, this._snapshotSoon, this._heartbeat]) clock.clearTimeout(timer);
    for (const local of this._local.values()) clock.clearTimeout(local.grace);
    for (const relay of this._remote.values()) clock.clearTimeout(relay.leaving);
    this._pending = [];
  }

  // ------------------------------------------------------------------ this relay's pairs

  private _endGrace(key: string, conv: string, user: string): void {
    const local = this._local.get(key);
    if (!local || local.sessions > 0) return;
    const seen = local.leftAt ?? this._o.clock.now();
    this._local.delete(key);
    this._queue({ conv, user, online: false, ts: seen });
    this._o.persistSeen(conv, user, seen);
    this._release(key, conv, user, seen);
  }

  private _queue(change: Change): void {
    this._pending.push(change);
    this._flushTimer ??= this._o.clock.setTimeout(() => this._flush(), 0);
  }

  private _flush(): void {
    this._o.clock.clearTimeout(this._flushTimer);
    this._flushTimer = undefined;
    if (this._pending.length === 0) return;
    const changes = this._pending;
    this._pending = [];
    for (let i = 0; i < changes.length; i += SNAPSHOT_PART_PAIRS) {
      this._o.broadcast({ kind: 'presence', relay: this._o.relayId, changes: changes.slice(i, i + SNAPSHOT_PART_PAIRS) });
    }
  }

  private _scheduleHeartbeat(): void {
    this._heartbeat = this._o.clock.setTimeout(() => {
      this._sendSnapshot();
      this._expireSilent();
      if (!this._stopped) this._scheduleHeartbeat();
    }, this._o.timings.heartbeatMs);
  }

  /** Every pair this relay holds, in parts sent back to back (so no change of ours comes between them). */
  private _sendSnapshot(): void {
    if (this._stopped) return;
    this._flush();
    const round = ++this._round;
    const ts = this._o.clock.now();
    const all: PresencePair[] = [...this._local.keys()].map(splitKey);
    const parts = Math.max(1, Math.ceil(all.length / SNAPSHOT_PART_PAIRS));
    for (let part = 0; part < parts; part++) {
      const pairs = all.slice(part * SNAPSHOT_PART_PAIRS, (part + 1) * SNAPSHOT_PART_PAIRS);
      this._o.broadcast({ kind: 'presence-snapshot', relay: this._o.relayId, round, part, parts, ts, pairs });
    }
  }

  // ------------------------------------------------------------------ other relays

  private _remoteRelay(id: string, now: number): RemoteRelay | null {
    let relay = this._remote.get(id);
    if (!relay) {
      if (this._remote.size >= MAX_RELAYS) return null;
      relay = { pairs: new Set(), lastHeard: now };
      this._remote.set(id, relay);
    }
    relay.lastHeard = now;
    return relay;
  }

  private _snapshotPart(event: Extract<ClusterEvent, { kind: 'presence-snapshot' }>, now: number): void {
    const relay = this._remoteRelay(event.relay, now);
    if (!relay || !Array.isArray(event.pairs)) return;
    const { round, part, parts } = event;
    if (!Number.isInteger(parts) || parts < 1 || !Number.isInteger(part) || part < 0 || part >= parts) return;
    if (relay.collecting?.round !== round) {
      relay.collecting = { round, parts, ts: typeof event.ts === 'number' ? event.ts : now, got: new Set(), pairs: new Set() };
    }
    const collecting = relay.collecting;
    if (collecting.parts !== parts || collecting.got.has(part)) return;
    collecting.got.add(part);
    for (const pair of event.pairs) {
      if (Array.isArray(pair) && validPair(pair[0], pair[1])) collecting.pairs.add(pairKey(pair[0], pair[1]));
    }
    if (collecting.got.size < parts) return;
    relay.collecting = undefined;
    // The snapshot replaces what we knew of that relay: added pairs come online, missing ones go.
    for (const key of [...relay.pairs]) {
      if (collecting.pairs.has(key)) continue;
      const [conv, user] = splitKey(key);
      this._removeRemote(relay, key, conv, user, collecting.ts);
    }
    for (const key of collecting.pairs) {
      if (relay.pairs.has(key)) continue;
      const [conv, user] = splitKey(key);
      this._addRemote(relay, key, conv, user);
    }
  }

  private _addRemote(relay: RemoteRelay, key: string, conv: string, user: string): void {
    if (relay.pairs.has(key)) return;
    if (this._remotePairs >= (this._o.maxRemotePairs ?? MAX_REMOTE_PAIRS)) {
      if (!this._overflowWarned) this._o.log.warn({ pairs: this._remotePairs }, 'presence: too many pairs from other relays; ignoring new ones');
      this._overflowWarned = true;
      return;
    }
    relay.pairs.add(key);
    this._remotePairs++;
    this._hold(key, conv, user);
  }

  private _removeRemote(relay: RemoteRelay, key: string, conv: string, user: string, seen: number): boolean {
    if (!relay.pairs.delete(key)) return false;
    this._remotePairs--;
    return this._release(key, conv, user, seen);
  }

  /** Drops relays not heard from for longer than staleMs minus one heartbeat (checked every heartbeat). */
  private _expireSilent(): void {
    const now = this._o.clock.now();
    const { staleMs, heartbeatMs } = this._o.timings;
    // The check itself runs every heartbeat, and timers run late on a busy event loop: the margin
    // keeps "offline within staleMs" true; it still waits for more than three missed heartbeats.
    const silentFor = staleMs - heartbeatMs - Math.min(1000, heartbeatMs / 2);
    for (const [id, relay] of [...this._remote]) {
      if (relay.leaving === undefined && now - relay.lastHeard > silentFor) {
        this._o.log.warn({ relay: id, silentMs: now - relay.lastHeard, pairs: relay.pairs.size }, 'presence: relay went silent; its users are offline');
        this._dropRelay(id, relay.lastHeard, true);
      }
    }
  }

  /** A relay is gone: its pairs go offline (seen = `seen`); a dead one could not persist that itself. */
  private _dropRelay(id: string, seen: number, persist: boolean): void {
    const relay = this._remote.get(id);
    if (!relay) return;
    this._remote.delete(id);
    this._o.clock.clearTimeout(relay.leaving);
    for (const key of [...relay.pairs]) {
      const [conv, user] = splitKey(key);
      if (this._removeRemote(relay, key, conv, user, seen) && persist) this._o.persistSeen(conv, user, seen);
    }
  }

  // ------------------------------------------------------------------ the cluster-wide count

  private _hold(key: string, conv: string, user: string): void {
    const count = this._holders.get(key) ?? 0;
    this._holders.set(key, count + 1);
    if (count === 0) this._o.changed(conv, user, true, undefined);
  }

  /** Returns true when the pair went offline cluster-wide. */
  private _release(key: string, conv: string, user: string, seen: number): boolean {
    const count = this._holders.get(key) ?? 0;
    if (count <= 1) {
      if (count === 0) return false;
      this._holders.delete(key);
      this._o.changed(conv, user, false, seen);
      return true;
    }
    this._holders.set(key, count - 1);
    return false;
  }
}

function pairKey(conv: string, user: string): string {
  return `${conv}\u0000${user}`;
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** Pairs from the bus are checked: ids only (they are keys joined with NUL, and end up in frames). */
function validPair(conv: unknown, user: unknown): conv is string {
  return typeof conv === 'string' && typeof user === 'string' && ID_PATTERN.test(conv) && ID_PATTERN.test(user);
}
