/**
 * The SQLite commit thread (see SqliteStore in sqlite.ts). It owns the only connection and
 * runs every operation in arrival order. Pipelined group commit: everything that arrived
 * while the previous transaction was syncing is drained from the port at once and becomes
 * the next transaction, so a slow fsync turns into bigger transactions, never into a queue
 * of small ones, and the relay's event loop never waits for the disk.
 *
 * Answers are posted only after COMMIT returned, i.e. after the fsync: an ack still means
 * durable. Reads in the same group run inside the transaction (they see the writes queued
 * before them) and are answered after the commit too; if the commit fails they run again
 * without the rolled-back writes.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { isDiskError, SqliteDatabase } from './sqlite-db.js';
import { isWrite, runGroup, type Op } from './sqlite-ops.js';
import { StoreUnavailableError } from './types.js';

export type { Op } from './sqlite-ops.js';

export interface Request {
  id: number;
  op: Op;
}

export interface SerializedError {
  unavailable: boolean;
  name: string;
  message: string;
  code?: string;
}

/** [request id, 1, value] or [request id, 0, error]. */
export type Reply = [number, 1, unknown] | [number, 0, SerializedError];

/**
 * Worker → store: the database opened (or not), then batches of replies in request order, with
 * how many writes the transaction held and how long it took (ms), for the store's onBatch.
 */
export type WorkerMessage = { ready: string } | { failed: SerializedError } | { replies: Reply[]; writes: number; ms: number };

/** Store → worker: a turn's requests, or the order to close once everything before it is done. */
export type StoreMessage = Request[] | 'close';

export interface WorkerInit {
  path: string;
  /** Largest number of operations in one transaction. */
  maxBatch: number;
  port: MessagePort;
}

export function serializeError(error: unknown): SerializedError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return {
    unavailable: error instanceof StoreUnavailableError || isDiskError(error),
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(code !== undefined ? { code } : {}),
  };
}

function answer(db: SqliteDatabase, group: readonly Request[]): WorkerMessage {
  const started = performance.now();
  const replies = new Array<Reply>(group.length);
  runGroup(
    db,
    group.map((r) => r.op),
    (i, ok, value) => (replies[i] = ok ? [group[i]!.id, 1, value] : [group[i]!.id, 0, serializeError(value)]),
  );
  const ms = performance.now() - started;
  let writes = 0;
  for (const r of group) if (isWrite(r.op)) writes++;
  return { replies, writes, ms };
}

function main(): void {
  const { path, maxBatch, port } = workerData as WorkerInit;
  let db: SqliteDatabase;
  try {
    db = new SqliteDatabase(path);
  } catch (error) {
    port.postMessage({ failed: serializeError(error) } satisfies WorkerMessage);
    port.close();
    return;
  }
  port.postMessage({ ready: db.epoch } satisfies WorkerMessage);

  port.on('message', (first: StoreMessage) => {
    // Whatever queued up while the last transaction synced joins this one.
    const requests: Request[] = [];
    let closing = first === 'close';
    if (first !== 'close') requests.push(...first);
    for (let next = receiveMessageOnPort(port); next !== undefined && !closing; next = receiveMessageOnPort(port)) {
      const message = next.message as StoreMessage;
      if (message === 'close') closing = true;
      else for (const request of message) requests.push(request);
    }
    for (let i = 0; i < requests.length; i += maxBatch) {
      port.postMessage(answer(db, requests.length <= maxBatch ? requests : requests.slice(i, i + maxBatch)) satisfies WorkerMessage);
    }
    if (closing) {
      db.close();
      port.close();
    }
  });
}

main();
