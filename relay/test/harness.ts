/**
 * Test harness shared by the relay, scale-out and widget tests: a real
 * relay in a child process on a free port with a temp data dir, and a small WebSocket
 * client that records every frame it receives.
 */
import WebSocket from 'ws';
import type { ServerFrame } from '../../protocol/index.js';

// The relay process itself comes from the one spawn helper (also used by the wtr config,
// the load harness and `npm run cluster`): a free port, ready when /healthz answers.
export { startRelay } from '../../tools/spawn-relay.mjs';
export type { RelayOptions, RelayProcess } from '../../tools/spawn-relay.mjs';

type Predicate = (frame: ServerFrame) => boolean;

/** A protocol client for tests: records every frame, and lets a test wait for the next one it cares about. */
export class TestClient {
  readonly frames: ServerFrame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly _consumed = new Set<number>();
  private readonly _waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as ServerFrame);
      for (const wake of this._waiters) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this._waiters) wake();
      });
    });
  }

  static async connect(url: string, options: { origin?: string } = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options.origin ? { origin: options.origin } : {});
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TestClient(ws);
  }

  /** Connects, says hello in open mode (or with a token) and waits for welcome. */
  static async login(url: string, who: { user?: string; name?: string; token?: string }): Promise<TestClient> {
    const client = await TestClient.connect(url);
    client.send({ type: 'hello', v: 1, ...who });
    await client.next((f) => f.type === 'welcome' || f.type === 'error');
    return client;
  }

  send(frame: object): void {
    this.ws.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** The first frame matching `predicate` that no earlier next() returned. */
  async next<T extends ServerFrame = ServerFrame>(predicate: Predicate = () => true, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex((f, i) => !this._consumed.has(i) && predicate(f));
      if (index >= 0) {
        this._consumed.add(index);
        return this.frames[index] as T;
      }
      if (Date.now() >= deadline || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(
          `no matching frame within ${timeoutMs} ms; received:\n${this.frames.map((f) => JSON.stringify(f)).join('\n')}`,
        );
      }
      await this._wake(deadline - Date.now());
    }
  }

  /** Waits until `condition` holds over the received frames. */
  async until(condition: (frames: ServerFrame[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.frames)) {
      if (Date.now() >= deadline) throw new Error(`condition not met within ${timeoutMs} ms (${this.frames.length} frames)`);
      await this._wake(Math.min(deadline - Date.now(), 200));
    }
  }

  /** Joins and waits for `joined`. */
  async join(conv: string, extra: object = {}): Promise<Extract<ServerFrame, { type: 'joined' }>> {
    const ref = `join-${conv}-${this.frames.length}-${Math.random()}`;
    this.send({ type: 'join', conv, ...extra, ref });
    const reply = await this.next((f) => 'ref' in f && f.ref === ref);
    if (reply.type !== 'joined') throw new Error(`join ${conv} failed: ${JSON.stringify(reply)}`);
    return reply;
  }

  /** Every `msg` of a conversation received so far, in arrival order. */
  messages(conv: string): Array<Extract<ServerFrame, { type: 'msg' }>> {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: 'msg' }> => f.type === 'msg' && f.conv === conv);
  }

  close(): void {
    this.ws.close();
  }

  private _wake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this._waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this._waiters.add(done);
    });
  }
}

/** Holds 1..n exactly once each, in any order? Returns a description of what is wrong, or null. */
export function checkSeqs(seqs: readonly number[], n: number): string | null {
  const sorted = [...seqs].sort((a, b) => a - b);
  if (sorted.length !== n) return `expected ${n} messages, got ${sorted.length}`;
  for (let i = 0; i < n; i++) if (sorted[i] !== i + 1) return `seq ${i + 1} missing or duplicated (found ${sorted[i]})`;
  return null;
}
