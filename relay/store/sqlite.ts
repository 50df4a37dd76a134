/**
 * The default store: embedded SQLite (better-sqlite3) in WAL mode with synchronous=FULL,
 * committed in a worker thread (sqlite-worker.ts) so that the event loop never waits for
 * the disk. Pipelined group commit: while the worker commits (and syncs) one transaction,
 * the main thread gathers every operation that arrives; when the worker answers, all of
 * them go over as one message and become the next transaction. The worker answers once
 * COMMIT (the fsync) returned, so a resolved `append` still means durable.
 *
 * Reads (history, catch-up pages, head, members) run on the main thread, on a read-only
 * connection: in WAL mode they never wait for the writer or its fsync, they see only
 * committed (durable) data, and a page is bounded (the protocol caps a history page at
 * 200 messages; measured in loadtest/README.md). Sending them through the worker was
 * measured too: every page was copied twice between threads, which cost more CPU and
 * memory than the read itself. (A ':memory:' database has no second connection: there
 * reads go through the worker, in order behind the writes before them.)
 *
 * InlineSqliteStore (sqlite-inline.ts) is the same database committed on the main thread.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { LogEvent, Member, User } from '../../protocol/index.js';
import { diskErrors, SqliteReader, toAppendResult, type AppendOutcome } from './sqlite-db.js';
import type { Op, Request, SerializedError, StoreMessage, WorkerInit, WorkerMessage } from './sqlite-worker.js';
import {
  StoreUnavailableError,
  type AppendInput,
  type AppendResult,
  type Ban,
  type ChangeInput,
  type ChangeResult,
  type CursorUpdate,
  type Page,
  type QueuedWebhook,
  type Store,
  type StoredMessage,
} from './types.js';

export interface SqliteStoreOptions {
  /** Database file; ':memory:' for a throwaway store. */
  path: string;
  /** Largest number of operations committed in one transaction. */
  maxBatch?: number;
  /** Called after each committed transaction that wrote: how many writes it held, and its time in the worker (ms). */
  onBatch?: (size: number, ms: number) => void;
  /**
   * Commit window (ms): under load, the least time from the start of one transaction to the
   * start of the next. What arrives meanwhile joins the next one: fewer, larger commits (each
   * commit costs an fsync, WAL page writes and two thread wake-ups, whatever its size), for at
   * most this much more ack latency. An idle store commits at once. Default COMMIT_WINDOW_MS.
   */
  commitWindowMs?: number;
}

/**
 * Measured in loadtest/README.md (issue #10, part 3), `fanout` (1,000 messages/s), one core: with
 * no window the pipeline committed every ~2.5 ms and the commit thread cost ~80 % of bare uWS's
 * whole run; 4 ms saved 9 % CPU per delivery, 8 ms 23 %, for ack p50 +2 ms and +5 ms.
 */
export const COMMIT_WINDOW_MS = 8;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Built, the worker is sqlite-worker.js next to this file. Under tsx (tests, the load
 * harness) both are .ts, and Node 20 does not run `--import tsx` in workers: the worker
 * then registers tsx's require hook (in-thread, so it starts in a fraction of the time
 * the ESM loader hooks, which run on a thread of their own, would take) and requires the
 * .ts file.
 */
function startWorker(options: ConstructorParameters<typeof Worker>[1]): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sqlite-worker.js', import.meta.url), options);
  const tsx = fileURLToPath(import.meta.resolve('tsx/cjs/api'));
  const worker = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url));
  const code = `require(${JSON.stringify(tsx)}).register(); require(${JSON.stringify(worker)});`;
  return new Worker(code, { ...options, eval: true });
}

function toError(e: SerializedError): Error {
  if (e.unavailable) return new StoreUnavailableError(e.message);
  const error = new Error(e.message) as Error & { code?: string };
  error.name = e.name;
  if (e.code !== undefined) error.code = e.code;
  return error;
}

export class SqliteStore implements Store {
  private readonly _worker: Worker;
  private readonly _port: MessagePort;
  private readonly _pending = new Map<number, Pending>();
  private _nextId = 1;
  private _outbox: Request[] = [];
  private _scheduled = false;
  private readonly _window: number;
  private readonly _maxBatch: number;
  /** When the last transaction was handed to the worker (performance.now()). */
  private _lastFlush = -Infinity;
  /** Waits for the commit window to end (see commitWindowMs). */
  private _windowTimer: NodeJS.Timeout | null = null;
  /** Operations posted to the worker and not answered yet: while there are any, new ones wait. */
  private _unanswered = 0;
  private _closed = false;
  private _failure: Error | null = null;
  private readonly _ready: Promise<string>;
  private readonly _exited: Promise<void>;
  private _idle: (() => void) | null = null;
  private _reader: SqliteReader | null = null;
  private readonly _path: string;
  private readonly _onBatch: ((size: number, ms: number) => void) | undefined;

  constructor(options: SqliteStoreOptions) {
    this._path = options.path;
    this._onBatch = options.onBatch;
    this._window = options.commitWindowMs ?? COMMIT_WINDOW_MS;
    this._maxBatch = options.maxBatch ?? 1000;
    const { port1, port2 } = new MessageChannel();
    this._port = port1;
    const init: WorkerInit = { path: options.path, maxBatch: this._maxBatch, port: port2 };
    this._worker = startWorker({ workerData: init, transferList: [port2] });
    this._worker.unref();
    this._exited = new Promise((resolve) => this._worker.once('exit', () => resolve()));
    let ready!: (epoch: string) => void;
    let failed!: (error: Error) => void;
    this._ready = new Promise<string>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    this._ready.catch(() => undefined);
    this._port.on('message', (message: WorkerMessage) => {
      if ('replies' in message) {
        this._unanswered -= message.replies.length;
        // The worker is done with what it had: what gathered meanwhile goes now, as one transaction.
        if (this._unanswered === 0) this._flush();
        if (this._onBatch && message.writes > 0) this._onBatch(message.writes, message.ms);
        for (const [id, ok, value] of message.replies) {
          const pending = this._pending.get(id);
          if (!pending) continue;
          this._pending.delete(id);
          if (ok === 1) pending.resolve(value);
          else pending.reject(toError(value));
        }
        this._settled();
      } else if ('ready' in message) {
        try {
          if (this._path !== ':memory:') this._reader = SqliteReader.open(this._path);
          ready(message.ready);
        } catch (error) {
          this._fail(error as Error);
          failed(this._failure!);
        }
        this._settled();
      } else {
        this._fail(toError(message.failed));
        failed(this._failure!);
      }
    });
    this._worker.once('error', (error) => {
      this._fail(new StoreUnavailableError(`the SQLite worker failed: ${error.message}`, { cause: error }));
      failed(this._failure!);
    });
    this._worker.once('exit', () => {
      if (!this._closed) this._fail(new StoreUnavailableError('the SQLite worker stopped'));
      failed(this._failure ?? new Error('store is closed'));
    });
  }

  /** Opens the database and waits until it is ready (throws if it cannot be opened). */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    try {
      await store._ready;
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  epoch(): Promise<string> {
    return this._ready;
  }

  append(input: AppendInput): Promise<AppendResult> {
    return this._call({ t: 'append', input }, (outcome) => toAppendResult(input, outcome as AppendOutcome)) as Promise<AppendResult>;
  }

  change(input: ChangeInput): Promise<ChangeResult> {
    return this._call({ t: 'change', input }) as Promise<ChangeResult>;
  }

  range(conv: string, after: number, limit: number): Promise<Page<LogEvent>> {
    return this._read((r) => r.range(conv, after, limit), { t: 'range', conv, after, limit });
  }

  before(conv: string, before: number, limit: number): Promise<Page> {
    return this._read((r) => r.before(conv, before, limit), { t: 'before', conv, before, limit });
  }

  message(conv: string, id: string): Promise<StoredMessage | null> {
    return this._read((r) => r.message(conv, id), { t: 'message', conv, id });
  }

  head(conv: string): Promise<number> {
    return this._read((r) => r.head(conv), { t: 'head', conv });
  }

  addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }> {
    return this._call({ t: 'addMember', conv, user }) as Promise<{ member: Member; isNew: boolean }>;
  }

  setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null> {
    return this._call({ t: 'setCursor', conv, userId, update }) as Promise<Member | null>;
  }

  members(conv: string): Promise<Member[]> {
    const now = Date.now();
    return this._read((r) => r.members(conv, now), { t: 'members', conv, now });
  }

  setSeen(conv: string, userId: string, ts: number): Promise<void> {
    return this._call({ t: 'setSeen', conv, userId, ts }) as Promise<void>;
  }

  ban(ban: Ban): Promise<void> {
    return this._call({ t: 'ban', ban }) as Promise<void>;
  }

  unban(conv: string, userId: string): Promise<boolean> {
    return this._call({ t: 'unban', conv, userId }) as Promise<boolean>;
  }

  banOf(conv: string, userId: string, now: number): Promise<Ban | null> {
    return this._read((r) => r.banOf(conv, userId, now), { t: 'banOf', conv, userId, now });
  }

  enableWebhooks(): void {
    // Queued like a write, so every write called after this one is queued as a webhook event too.
    this._call({ t: 'webhooks' }).catch(() => undefined);
  }

  claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<QueuedWebhook[]> {
    return this._call({ t: 'claim', owner, now, leaseMs, limit }) as Promise<QueuedWebhook[]>;
  }

  completeWebhook(id: string, owner: string): Promise<void> {
    return this._call({ t: 'complete', id, owner }) as Promise<void>;
  }

  failWebhook(id: string, owner: string, retryAt: number, error: string): Promise<void> {
    return this._call({ t: 'fail', id, owner, retryAt, error }) as Promise<void>;
  }

  webhookBacklog(): Promise<number> {
    return this._read((r) => r.webhookBacklog(), { t: 'backlog' });
  }

  async close(): Promise<void> {
    if (this._closed) return this._exited;
    this._closed = true;
    if (this._pending.size > 0 && !this._failure) await new Promise<void>((resolve) => (this._idle = resolve));
    this._port.ref();
    this._port.postMessage('close' satisfies StoreMessage);
    // The worker closes its end after closing the database; a dead worker has exited already.
    await Promise.race([this._exited, new Promise<void>((resolve) => this._port.once('close', () => resolve()))]);
    this._port.close();
    await this._worker.terminate();
    this._reader?.close();
  }

  /** On the main thread's read-only connection once it is open; through the worker for ':memory:'. */
  private _read<T>(local: (reader: SqliteReader) => T, op: Op): Promise<T> {
    if (this._closed) return Promise.reject(new Error('store is closed'));
    if (this._failure) return Promise.reject(this._failure);
    const reader = this._reader;
    if (reader) {
      try {
        return Promise.resolve(diskErrors(() => local(reader)));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (this._path === ':memory:') return this._call(op) as Promise<T>;
    return this._ready.then(() => this._read(local, op));
  }

  /** `map` turns the worker's answer into the result (no extra promise, so answers settle in order). */
  private _call(op: Op, map?: (value: unknown) => unknown): Promise<unknown> {
    if (this._closed) return Promise.reject(new Error('store is closed'));
    if (this._failure) return Promise.reject(this._failure);
    const id = this._nextId++;
    // Only while answers are owed does the port keep the process alive.
    if (this._pending.size === 0) this._port.ref();
    const promise = new Promise<unknown>((resolve, reject) =>
      this._pending.set(id, { resolve: map ? (value) => resolve(map(value)) : resolve, reject }),
    );
    this._outbox.push({ id, op });
    if (!this._scheduled) {
      this._scheduled = true;
      // setImmediate, not a microtask: the socket callbacks of one poll phase each drain the
      // microtask queue, so only setImmediate sends every operation of this turn in one message.
      setImmediate(() => this._flush());
    }
    return promise;
  }

  /**
   * Posts the gathered operations, unless the worker is still busy with earlier ones: then
   * they wait for its answer and go together (one message and one wake-up of the worker per
   * transaction, not per event-loop turn; with both threads on one core that matters), and
   * under load not before the commit window since the last one has passed: a full batch
   * goes at once, an idle store's first operation too.
   */
  private _flush(): void {
    this._scheduled = false;
    if (this._outbox.length === 0 || this._unanswered > 0) return;
    const now = performance.now();
    const wait = this._lastFlush + this._window - now;
    if (wait >= 1 && this._outbox.length < this._maxBatch) {
      this._windowTimer ??= setTimeout(() => {
        this._windowTimer = null;
        this._flush();
      }, wait);
      return;
    }
    if (this._windowTimer !== null) clearTimeout(this._windowTimer);
    this._windowTimer = null;
    this._lastFlush = now;
    const batch = this._outbox;
    this._outbox = [];
    this._unanswered += batch.length;
    this._port.postMessage(batch satisfies StoreMessage);
  }

  private _settled(): void {
    if (this._pending.size > 0) return;
    this._port.unref();
    this._idle?.();
    this._idle = null;
  }

  private _fail(error: Error): void {
    if (this._failure) return;
    this._failure = error;
    this._outbox = [];
    if (this._windowTimer !== null) clearTimeout(this._windowTimer);
    this._windowTimer = null;
    for (const pending of this._pending.values()) pending.reject(error);
    this._pending.clear();
    this._settled();
  }
}
