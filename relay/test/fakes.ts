/**
 * Fakes for the hub's unit tests: a clock the test moves by hand, a connection that records
 * what the hub sends, and an in-process network of buses that behaves like core NATS between
 * several hubs (per-conversation subjects, one cluster subject, events serialized and
 * delivered asynchronously in publish order, a member that can be cut off as if its relay died).
 */
import type { ServerFrame } from '../../protocol/index.js';
import type { Bus, BusEvent, BusFactory, BusHandlers, ClusterEvent } from '../bus/types.js';
import { SendResult, type Clock, type Logger, type WebSocketLike } from '../hub/index.js';
import type { TimerHandle } from '../hub/ports.js';

export const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Runs timers in due order when the test moves time forward; nothing runs on its own. */
export class FakeClock implements Clock {
  private _now = 1_000_000;
  private readonly _timers = new Map<object, { at: number; run: () => void }>();

  now(): number {
    return this._now;
  }

  setTimeout(run: () => void, ms: number): TimerHandle {
    const handle = {};
    this._timers.set(handle, { at: this._now + Math.max(0, ms), run });
    return handle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this._timers.delete(handle);
  }

  advance(ms: number): void {
    const until = this._now + ms;
    for (;;) {
      const due = [...this._timers.entries()].filter(([, t]) => t.at <= until).sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      this._timers.delete(due[0]);
      this._now = Math.max(this._now, due[1].at);
      due[1].run();
    }
    this._now = until;
  }
}

export class FakeSocket implements WebSocketLike {
  readonly frames: ServerFrame[] = [];
  buffered = 0;
  /** While true, every send is dropped as uWS does past maxBackpressure. */
  congested = false;
  closedWith: number | null = null;

  send(text: string) {
    if (this.congested) return SendResult.dropped;
    this.frames.push(JSON.parse(text) as ServerFrame);
    return SendResult.sent;
  }

  close(code: number) {
    this.closedWith = code;
  }

  bufferedAmount() {
    return this.buffered;
  }

  of<T extends ServerFrame['type']>(type: T): Array<Extract<ServerFrame, { type: T }>> {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: T }> => f.type === type);
  }

  /** The reply to a frame sent with `ref`. */
  reply(ref: string | number): ServerFrame | undefined {
    return this.frames.find((f) => 'ref' in f && f.ref === ref);
  }
}

/** Several buses, one per hub, that reach each other like NATS subscribers. */
export class MemoryNetwork {
  private readonly _buses = new Set<MemoryBus>();
  /** Every cluster event sent, for assertions. */
  readonly broadcasts: ClusterEvent[] = [];

  factory(): BusFactory {
    return async (handlers) => {
      const bus = new MemoryBus(this, handlers);
      this._buses.add(bus);
      return bus;
    };
  }

  /** Delivers a serialized copy to each connected member, asynchronously, keeping each publisher's order. */
  deliver(from: MemoryBus, run: (bus: MemoryBus) => void): void {
    if (!from.connected) return;
    for (const bus of this._buses) if (bus.connected) bus.enqueue(() => run(bus));
  }

  remove(bus: MemoryBus): void {
    this._buses.delete(bus);
  }
}

export class MemoryBus implements Bus {
  connected = true;
  private readonly _subs = new Set<string>();
  private _queue: Array<() => void> = [];

  constructor(
    private readonly _network: MemoryNetwork,
    readonly handlers: BusHandlers,
  ) {}

  subscribe(conv: string): void {
    this._subs.add(conv);
  }

  unsubscribe(conv: string): void {
    this._subs.delete(conv);
  }

  publish(conv: string, event: BusEvent): void {
    const copy = JSON.stringify(event);
    this._network.deliver(this, (bus) => {
      if (bus._subs.has(conv)) bus.handlers.onEvent(conv, JSON.parse(copy) as BusEvent);
    });
  }

  broadcast(event: ClusterEvent): void {
    if (!this.connected) return;
    this._network.broadcasts.push(event);
    const copy = JSON.stringify(event);
    this._network.deliver(this, (bus) => bus.handlers.onBroadcast(JSON.parse(copy) as ClusterEvent));
  }

  /** Cut off without a word, as when the relay's process is killed. */
  kill(): void {
    this.connected = false;
    this._queue = [];
    this._network.remove(this);
  }

  enqueue(run: () => void): void {
    this._queue.push(run);
    if (this._queue.length === 1) queueMicrotask(() => this._drain());
  }

  async close(): Promise<void> {
    this.kill();
  }

  private _drain(): void {
    while (this._queue.length > 0) {
      const run = this._queue[0]!;
      run();
      this._queue.shift();
    }
  }
}

/** Lets promise chains (store calls, bus deliveries) run; the store in these tests commits on this thread. */
export function settle(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
