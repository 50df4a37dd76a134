/**
 * Status of the user's own messages, derived from the other members' receipt cursors
 * (as with Matrix's `m.read`): a message is delivered/read once EVERY other member's
 * cursor has passed it. Pure, so the rules are tested without sockets.
 */
import type { Member } from '../../protocol/index.js';
import type { MessageStatus } from './types.js';

export interface OwnMessageState {
  /** Assigned by the relay's ack; undefined while sending. */
  seq?: number;
  /** Set when the relay rejected it for good. */
  failed?: boolean;
}

export interface DerivedStatus {
  status: MessageStatus;
  /** Display names of the other members whose `read` cursor covers the message. */
  readBy: string[];
}

/** Receipt cursors of everyone but the user, computed once per snapshot rather than once per message. */
export class ReceiptView {
  private readonly _others: readonly Member[];
  private readonly _minDelivered: number;
  private readonly _minRead: number;

  constructor(selfId: string | null, members: Iterable<Member>) {
    this._others = [...members].filter((m) => m.id !== selfId);
    // Reading implies having received it, even if a client only ever sent `read`.
    this._minDelivered = Math.min(...this._others.map((m) => Math.max(m.delivered, m.read)));
    this._minRead = Math.min(...this._others.map((m) => m.read));
  }

  statusOf(message: OwnMessageState): DerivedStatus {
    if (message.failed) return { status: 'failed', readBy: [] };
    const seq = message.seq;
    if (seq === undefined) return { status: 'sending', readBy: [] };
    const readBy = this._others.filter((m) => m.read >= seq).map((m) => m.name || m.id);
    // Nobody else to deliver to: an acked message stays `sent` (Math.min() of nothing is Infinity).
    if (this._others.length === 0) return { status: 'sent', readBy };
    if (seq <= this._minRead) return { status: 'read', readBy };
    if (seq <= this._minDelivered) return { status: 'delivered', readBy };
    return { status: 'sent', readBy };
  }
}

/** One-off form of `ReceiptView.statusOf`. */
export function deriveStatus(message: OwnMessageState, selfId: string | null, members: Iterable<Member>): DerivedStatus {
  return new ReceiptView(selfId, members).statusOf(message);
}
