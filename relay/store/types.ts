/**
 * The storage contract the hub relies on. The store is the source of truth: it assigns
 * sequence numbers, remembers every message id forever (idempotency) and holds the receipt
 * cursors. Implementations: SqliteStore (default, embedded) and PostgresStore (shared by
 * several relay instances). Both must pass relay/store/conformance.ts.
 */
import type { FileRef, LogEvent, Member, MessageFrame, UpdateFrame, User, WebhookEvent } from '../../protocol/index.js';

/** A message in its current state (v1.1: edited, deleted, reactions, reply, rev materialised). */
export type StoredMessage = MessageFrame;

export interface AppendInput {
  conv: string;
  id: string;
  from: User;
  text?: string;
  file?: FileRef;
  /** The relay's clock when the frame arrived; kept as the message time. */
  ts: number;
  /** v1.1: the id of an earlier message of the same conversation this one answers. */
  reply?: string;
}

export type AppendResult =
  /** Newly stored with the next seq of its conversation. */
  | { kind: 'stored'; message: StoredMessage }
  /** (conv, id) was already stored by the same sender: the original seq and ts, nothing stored. */
  | { kind: 'duplicate'; seq: number; ts: number }
  /** (conv, id) belongs to another sender's message. */
  | { kind: 'conflict' }
  /** v1.1: `reply` names no message of this conversation; nothing stored. */
  | { kind: 'reply_not_found' };

/** v1.1: who asks for a change, which decides what they may do (PROTOCOL.md "Changing messages"). */
export const Authority = {
  /** A member over WebSocket: edits and deletes only their own messages, reacts to any. */
  member: 'member',
  /** A member whose token has `role: "moderator"`: may also delete anyone's message. */
  moderator: 'moderator',
  /** The site's backend through the server API: may edit and delete any message. */
  server: 'server',
} as const;
export type Authority = (typeof Authority)[keyof typeof Authority];

export type Change =
  | { kind: 'edit'; text: string }
  | { kind: 'delete' }
  | { kind: 'react'; emoji: string; on: boolean };

export interface ChangeInput {
  conv: string;
  /** The message to change. */
  id: string;
  by: User;
  authority: Authority;
  change: Change;
  ts: number;
}

export type ChangeResult =
  /** Stored as the next event of the conversation: fan out `update`, ack with its seq. */
  | { kind: 'stored'; update: UpdateFrame; message: StoredMessage }
  /**
   * Changes nothing (same text, already deleted, reaction already so): ack with `seq` (the rev, or
   * the message's seq) and `ts` (that event's ts), store and fan out nothing.
   */
  | { kind: 'unchanged'; seq: number; ts: number }
  | { kind: 'not_found' }
  /**
   * Another user's message (checked first), or a deleted message edited or reacted to. Edit:
   * author or server; delete: author, moderator or server; react: anyone.
   */
  | { kind: 'forbidden'; reason: 'not_author' | 'deleted' }
  /** A 21st distinct emoji on one message. */
  | { kind: 'too_many_reactions' };

/** v1.1: a ban of a user from a conversation; `until` absent = for good. */
export interface Ban {
  conv: string;
  user: string;
  until?: number;
}

/** v1.1: one event waiting in the durable webhook queue (PROTOCOL.md "Webhooks"). */
export interface QueuedWebhook {
  /** Unique event id, stable across retries and relays (receivers dedup on it). */
  id: string;
  /** The body to POST, exactly (signed as is). */
  event: WebhookEvent;
  /** Delivery attempts made so far. */
  attempts: number;
}

export interface CursorUpdate {
  delivered?: number;
  read?: number;
}

export interface Page<T = StoredMessage> {
  messages: T[];
  /** Whether messages exist beyond this page in the direction that was asked. */
  more: boolean;
}

export interface Store {
  /** Identifies this store's life: a replaced or wiped store has another epoch. */
  epoch(): Promise<string>;
  /**
   * Stores a message and assigns it the conversation's next seq, atomically. Idempotent on
   * (conv, id). Resolves only once the message is durable. Rejects with StoreUnavailableError
   * when the backing database cannot be reached.
   */
  append(input: AppendInput): Promise<AppendResult>;
  /**
   * v1.1: applies an edit, delete or reaction as the conversation's next event, atomically
   * with the authorisation checks (author, moderator, deleted = frozen, 20 emoji). Resolves
   * once durable. A change that changes nothing stores nothing (`unchanged`).
   */
  change(input: ChangeInput): Promise<ChangeResult>;
  /**
   * The log with seq > after, ascending, at most `limit` events: `msg` (in its current state)
   * and `update` events (v1.1). `more` when events beyond the page exist.
   */
  range(conv: string, after: number, limit: number): Promise<Page<LogEvent>>;
  /** Messages (never `update` events) with seq < before, the newest `limit` of them, in current state, returned ascending. */
  before(conv: string, before: number, limit: number): Promise<Page>;
  /** One message in its current state, or null. */
  message(conv: string, id: string): Promise<StoredMessage | null>;
  /** Highest event seq of the conversation (0 when empty or unknown). */
  head(conv: string): Promise<number>;
  /**
   * Records that a user joined (creating the member on first join with `since` = the head at
   * that moment, keeping the newest name). The member carries since (0 for members stored before
   * v1.1) and seen when known, never banned. `isNew` is true once per user and conversation,
   * whichever relay saw the join first.
   */
  addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }>;
  /**
   * Moves a member's cursors forward (never back; `read` lifts `delivered`; both are clamped
   * to the head). Resolves with the resulting cursors, or null when nothing changed.
   */
  setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null>;
  /**
   * Members with delivered, read and since; `seen` only when known; `banned: true` only for a ban
   * in force now (absent otherwise). Online is the hub's to add.
   */
  members(conv: string): Promise<Member[]>;
  /** v1.1: records the last moment a user was online in a conversation (never moves back; ignored for a non-member). */
  setSeen(conv: string, userId: string, ts: number): Promise<void>;
  /** v1.1: bans (or re-bans with a new `until`) a user; durable before it resolves. */
  ban(ban: Ban): Promise<void>;
  /** v1.1: lifts a ban; false when there was none (an expired ban still counts as one to lift). */
  unban(conv: string, userId: string): Promise<boolean>;
  /** v1.1: the ban in force for a user at `now`, or null (an expired ban is none). */
  banOf(conv: string, userId: string, now: number): Promise<Ban | null>;
  /**
   * v1.1 webhooks: from this call on, every `msg` and `update` this store instance stores, and
   * every first join it records, is queued as a webhook event in the same transaction that
   * stores it, so no event is lost between the commit and the delivery. In a cluster, enable it
   * on every relay. Event ids are unique across the store and its lives:
   * `<first 8 chars of the epoch>/<conv>/<seq>` and `<…>/<conv>/member/<user>`.
   */
  enableWebhooks(): void;
  /**
   * Leases the next events due for delivery (`nextAttemptAt <= now`), at most ONE per
   * conversation, the oldest undelivered one, so events of a conversation go out in seq order;
   * an event under a lease (any owner's, the caller's own included) is skipped until its lease
   * (`leaseMs`) runs out, so a relay killed mid-delivery only delays it. Oldest due first.
   */
  claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<QueuedWebhook[]>;
  /**
   * The receiver acknowledged the event: it is removed from the queue, if `owner` still holds its
   * lease (otherwise another relay re-claimed it after the lease ran out and delivers it again:
   * at least once, order kept). The conversation's next event becomes due.
   */
  completeWebhook(id: string, owner: string): Promise<void>;
  /**
   * The attempt failed: attempts + 1, the lease is dropped and the event is due again at
   * `retryAt`; the conversation's later events wait behind it. Ignored unless `owner` holds the lease.
   */
  failWebhook(id: string, owner: string, retryAt: number, error: string): Promise<void>;
  /** Events waiting in the queue (for metrics). */
  webhookBacklog(): Promise<number>;
  /** Waits for pending writes and releases the database. */
  close(): Promise<void>;
}

/** The backing database is unreachable: the caller answers `unavailable`, the client retries. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
