/**
 * The storage contract the hub relies on. The store is the source of truth: it assigns
 * sequence numbers, remembers every message id forever (idempotency) and holds the receipt
 * cursors. Implementations: SqliteStore (default, embedded) and PostgresStore (shared by
 * several relay instances). Both must pass relay/store/conformance.ts.
 */
import type { FileRef, Member, MessageFrame, User } from '../../protocol/index.js';

export type StoredMessage = MessageFrame;

export interface AppendInput {
  conv: string;
  id: string;
  from: User;
  text?: string;
  file?: FileRef;
  /** The relay's clock when the frame arrived; kept as the message time. */
  ts: number;
}

export type AppendResult =
  /** Newly stored with the next seq of its conversation. */
  | { kind: 'stored'; message: StoredMessage }
  /** (conv, id) was already stored by the same sender: the original seq and ts, nothing stored. */
  | { kind: 'duplicate'; seq: number; ts: number }
  /** (conv, id) belongs to another sender's message. */
  | { kind: 'conflict' };

export interface CursorUpdate {
  delivered?: number;
  read?: number;
}

export interface Page {
  messages: StoredMessage[];
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
  /** Messages with seq > after, ascending, at most `limit`. */
  range(conv: string, after: number, limit: number): Promise<Page>;
  /** Messages with seq < before, the newest `limit` of them, returned ascending. */
  before(conv: string, before: number, limit: number): Promise<Page>;
  /** Highest seq of the conversation (0 when empty or unknown). */
  head(conv: string): Promise<number>;
  /** Records that a user joined (creating the member on first join, keeping the newest name). */
  addMember(conv: string, user: User): Promise<{ member: Member; isNew: boolean }>;
  /**
   * Moves a member's cursors forward (never back; `read` lifts `delivered`; both are clamped
   * to the head). Resolves with the resulting cursors, or null when nothing changed.
   */
  setCursor(conv: string, userId: string, update: CursorUpdate): Promise<Member | null>;
  members(conv: string): Promise<Member[]>;
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
