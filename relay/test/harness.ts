/**
 * Test harness shared by the relay, scale-out, widget end-to-end and load tests: a real
 * relay in a child process on a free port with a temp data dir, and a small WebSocket
 * client that records every frame it receives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { ServerFrame } from '../../protocol/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RelayOptions {
  env?: Record<string, string | undefined>;
  /** Reuse a data dir (e.g. to restart on the same store); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Fixed port, e.g. to restart a relay where its clients expect it; 0 = any free port. */
  port?: number;
}

export interface RelayProcess {
  port: number;
  wsUrl: string;
  httpUrl: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the relay logged (JSON lines). */
  logs: string[];
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /**
   * Kills it (if running) and starts a new relay on the same data dir. On a NEW port unless
   * `samePort`: the old port may stay blocked by TIME_WAIT for up to a minute (see
   * RelayServer.listen), which the relay waits out, but tests should not.
   */
  restart(options?: { env?: Record<string, string | undefined>; samePort?: boolean }): Promise<RelayProcess>;
  /** Stops it (if running) and removes the temp dir it created. */
  dispose(): Promise<void>;
}

export async function startRelay(options: RelayOptions = {}): Promise<RelayProcess> {
  const ownsDir = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'chat-relay-test-')));
  const env = {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(options.port ?? 0),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    CHAT_JWT_SECRET: undefined,
    ALLOWED_ORIGINS: undefined,
    NATS_URL: undefined,
    DATABASE_URL: undefined,
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'relay/main.ts')], {
    cwd: ROOT,
    env: Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start in 20 s:\n${logs.join('\n')}`)), 20_000);
    const onLine = (line: string) => {
      logs.push(line);
      const match = /"port":(\d+).*relay listening/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
  const relay: RelayProcess = {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    dataDir,
    child,
    logs,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async restart(restartOptions = {}) {
      await relay.kill();
      return startRelay({
        env: { ...options.env, ...restartOptions.env },
        dataDir,
        port: restartOptions.samePort ? port : (options.port ?? 0),
      });
    },
    async dispose() {
      await relay.kill();
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return relay;
}

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
