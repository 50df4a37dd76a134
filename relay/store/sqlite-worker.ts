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
import type { Member, User } from '../../protocol/index.js';
import { isDiskError, SqliteDatabase } from './sqlite-db.js';
import { StoreUnavailableError, type AppendInput, type CursorUpdate } from './types.js';

export type Op =
  | { t: 'append'; input: AppendInput }
  | { t: 'range'; conv: string; after: number; limit: number }
  | { t: 'before'; conv: string; before: number; limit: number }
  | { t: 'head'; conv: string }
  | { t: 'addMember'; conv: string; user: User }
  | { t: 'setCursor'; conv: string; userId: string; update: CursorUpdate }
  | { t: 'members'; conv: string };

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

/** Worker → store: the database opened (or not), then batches of replies in request order. */
export type WorkerMessage = { ready: string } | { failed: SerializedError } | { replies: Reply[] };

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

const isWrite = (op: Op) => op.t === 'append' || op.t === 'addMember' || op.t === 'setCursor';

function run(db: SqliteDatabase, op: Op): unknown {
  switch (op.t) {
    case 'append':
      return db.appendOne(op.input);
    case 'range':
      return db.range(op.conv, op.after, op.limit);
    case 'before':
      return db.before(op.conv, op.before, op.limit);
    case 'head':
      return db.head(op.conv);
    case 'addMember':
      return db.addMember(op.conv, op.user);
    case 'setCursor':
      return db.setCursor(op.conv, op.userId, op.update);
    case 'members':
      return db.members(op.conv);
  }
}

/** One operation on its own (its own transaction if it writes), with its own answer. */
function runAlone(db: SqliteDatabase, request: Request): Reply {
  try {
    const value = isWrite(request.op) ? db.transaction(() => run(db, request.op)) : run(db, request.op);
    return [request.id, 1, value];
  } catch (error) {
    return [request.id, 0, serializeError(error)];
  }
}

/** One group: one transaction when anything in it writes. */
function runGroup(db: SqliteDatabase, group: readonly Request[]): Reply[] {
  if (!group.some((r) => isWrite(r.op))) return group.map((r) => runAlone(db, r));
  try {
    const values = db.transaction(() => group.map((r) => run(db, r.op)));
    return group.map((r, i): Reply => [r.id, 1, values[i]]);
  } catch (error) {
    if (isDiskError(error) || error instanceof StoreUnavailableError) {
      // The disk refused the commit: every write fails the same way; reads still work.
      const failed = serializeError(error);
      return group.map((r): Reply => (isWrite(r.op) ? [r.id, 0, failed] : runAlone(db, r)));
    }
    // One operation failed and took the transaction with it: each on its own, so that only
    // that one fails.
    return group.map((r) => runAlone(db, r));
  }
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
      const replies = runGroup(db, requests.length <= maxBatch ? requests : requests.slice(i, i + maxBatch));
      port.postMessage({ replies } satisfies WorkerMessage);
    }
    if (closing) {
      db.close();
      port.close();
    }
  });
}

main();
