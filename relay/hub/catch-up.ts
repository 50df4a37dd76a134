/**
 * Join replay: the conversation's log after the client's `after` (v1.1: `msg` events in their
 * current state and `update` events, sharing one seq), up to the head it was told, sent one
 * frame at a time in seq order. Before each frame it checks the client's queue and waits while
 * more than the high-water mark is queued (the hub closes a client that stops reading), and
 * it pays for what it reads from the connection's and the user's read budgets, pausing
 * while they are spent — so a long history reaches a slow client at the client's pace and
 * a replay flood at the budget's, never all at once into memory.
 */
import type { Store } from '../store/types.js';
import type { Session } from './session.js';

/** Rows read per store query: small enough that a page of 16 KiB messages stays a few MiB. */
export const REPLAY_PAGE_ROWS = 100;

export interface ReplayPorts {
  store: Store;
  /** Whether the replay is still wanted (the session is open and still joined the same way). */
  current(): boolean;
  /** Sends one replayed frame (`type` for metrics); false when it could not be queued (the session is then closed). */
  send(text: string, type: 'msg' | 'update'): boolean;
  /** Resolves once the client's queue is under the high-water mark (or the session closed). */
  roomFor(session: Session): Promise<void>;
  /** Resolves once the session's read budgets allow another page (or the session closed). */
  readBudget(session: Session): Promise<void>;
  /** Charges rows read to the session's and its user's budgets. */
  chargeReads(session: Session, rows: number): void;
}

/** Replays (after, head]; resolves the last seq sent, or null if the replay was abandoned. */
export async function replay(session: Session, conv: string, after: number, head: number, ports: ReplayPorts): Promise<number | null> {
  let lastSent = after;
  while (lastSent < head) {
    await ports.readBudget(session);
    if (!ports.current()) return null;
    const page = await ports.store.range(conv, lastSent, Math.min(REPLAY_PAGE_ROWS, head - lastSent));
    if (!ports.current()) return null;
    ports.chargeReads(session, Math.max(1, page.messages.length));
    for (const event of page.messages) {
      if (event.seq > head) return lastSent;
      await ports.roomFor(session);
      if (!ports.current()) return null;
      if (!ports.send(JSON.stringify(event), event.type)) return null;
      lastSent = event.seq;
    }
    if (!page.more || page.messages.length === 0) break;
  }
  return lastSent;
}
