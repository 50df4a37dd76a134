/**
 * The operations of the SQLite store as data, and how a group of them becomes ONE transaction.
 * Shared by the commit worker (sqlite-worker.ts), which receives them from the main thread, and
 * by InlineSqliteStore (sqlite-inline.ts), which batches them on the main thread: both commit
 * every operation in call order, so a change right after an append finds the message.
 */
import type { User } from '../../protocol/index.js';
import { ItemFailure } from './batcher.js';
import { isDiskError, toAppendResult, type AppendOutcome, type SqliteDatabase } from './sqlite-db.js';
import { StoreUnavailableError, type AppendInput, type Ban, type ChangeInput, type CursorUpdate } from './types.js';

export type Op =
  | { t: 'append'; input: AppendInput }
  | { t: 'change'; input: ChangeInput }
  | { t: 'addMember'; conv: string; user: User }
  | { t: 'setCursor'; conv: string; userId: string; update: CursorUpdate }
  | { t: 'setSeen'; conv: string; userId: string; ts: number }
  | { t: 'ban'; ban: Ban }
  | { t: 'unban'; conv: string; userId: string }
  | { t: 'webhooks' }
  | { t: 'claim'; owner: string; now: number; leaseMs: number; limit: number }
  | { t: 'complete'; id: string; owner: string }
  | { t: 'fail'; id: string; owner: string; retryAt: number; error: string }
  // Reads: on the main thread's connection, except for ':memory:' (no second connection).
  | { t: 'range'; conv: string; after: number; limit: number }
  | { t: 'before'; conv: string; before: number; limit: number }
  | { t: 'message'; conv: string; id: string }
  | { t: 'head'; conv: string }
  | { t: 'members'; conv: string; now: number }
  | { t: 'banOf'; conv: string; userId: string; now: number }
  | { t: 'backlog' };

const READS = new Set<Op['t']>(['range', 'before', 'message', 'head', 'members', 'banOf', 'backlog', 'webhooks']);

/** Whether the operation writes (and so needs a transaction and a commit before it is answered). */
export const isWrite = (op: Op): boolean => !READS.has(op.t);

export function run(db: SqliteDatabase, op: Op): unknown {
  switch (op.t) {
    case 'append':
      return db.appendOne(op.input);
    case 'change':
      return db.change(op.input);
    case 'addMember':
      return db.addMember(op.conv, op.user);
    case 'setCursor':
      return db.setCursor(op.conv, op.userId, op.update);
    case 'setSeen':
      return db.setSeen(op.conv, op.userId, op.ts);
    case 'ban':
      return db.ban(op.ban);
    case 'unban':
      return db.unban(op.conv, op.userId);
    case 'webhooks':
      return db.enableWebhooks();
    case 'claim':
      return db.claimWebhooks(op.owner, op.now, op.leaseMs, op.limit);
    case 'complete':
      return db.completeWebhook(op.id, op.owner);
    case 'fail':
      return db.failWebhook(op.id, op.owner, op.retryAt, op.error);
    case 'range':
      return db.range(op.conv, op.after, op.limit);
    case 'before':
      return db.before(op.conv, op.before, op.limit);
    case 'message':
      return db.message(op.conv, op.id);
    case 'head':
      return db.head(op.conv);
    case 'members':
      return db.members(op.conv, op.now);
    case 'banOf':
      return db.banOf(op.conv, op.userId, op.now);
    case 'backlog':
      return db.webhookBacklog();
  }
}

/** Receives each operation's outcome, by its index in the group. */
export type Settle = (index: number, ok: boolean, value: unknown) => void;

/** One operation on its own (its own transaction if it writes). */
function runAlone(db: SqliteDatabase, op: Op, index: number, settle: Settle): void {
  let value: unknown;
  try {
    value = isWrite(op) ? db.transaction(() => run(db, op)) : run(db, op);
  } catch (error) {
    settle(index, false, error);
    return;
  }
  settle(index, true, value);
}

/**
 * One group: one transaction (one fsync) when anything in it writes. Reads in the group run
 * inside it, so they see the writes queued before them. Outcomes go to `settle` (no wrapper
 * object per operation: this is the append hot path).
 */
export function runGroup(db: SqliteDatabase, group: readonly Op[], settle: Settle): void {
  if (!group.some(isWrite)) {
    group.forEach((op, i) => runAlone(db, op, i, settle));
    return;
  }
  let values: unknown[];
  try {
    values = db.transaction(() => group.map((op) => run(db, op)));
  } catch (error) {
    if (isDiskError(error) || error instanceof StoreUnavailableError) {
      // The disk refused the commit: every write fails the same way; reads still work.
      group.forEach((op, i) => (isWrite(op) ? settle(i, false, error) : runAlone(db, op, i, settle)));
      return;
    }
    // One operation failed and took the transaction with it: each on its own, so that only
    // that one fails.
    group.forEach((op, i) => runAlone(db, op, i, settle));
    return;
  }
  for (let i = 0; i < values.length; i++) settle(i, true, values[i]);
}

/**
 * runGroup's results as a list for a Batcher: each operation's final value (an append's
 * AppendResult, built from its input), or an ItemFailure that rejects only that operation.
 */
export function runGroupResults(db: SqliteDatabase, group: readonly Op[]): unknown[] {
  const results = new Array<unknown>(group.length);
  runGroup(db, group, (i, ok, value) => {
    const op = group[i]!;
    results[i] = !ok ? new ItemFailure(value) : op.t === 'append' ? toAppendResult(op.input, value as AppendOutcome) : value;
  });
  return results;
}
