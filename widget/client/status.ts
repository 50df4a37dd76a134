/**
 * Status of the user's own messages, derived from the other members' receipt cursors
 * (as with Matrix's `m.read`): a message is delivered/read once EVERY other member's
 * cursor has passed it. Only members who had joined before the message was stored count
 * (`since` < its seq; no `since`: a member from before v1.1, counted as since 0): a member
 * who joins later never turns an old message back from `read` to `sent`. Pure, so the rules
 * are tested without sockets.
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

/** Receipt cursors of everyone but the user, gathered once per snapshot rather than once per message. */
export class ReceiptView {
  /** The other members, by `since` ascending: those who count for a message are a prefix. */
  private readonly _others: readonly Member[];

  constructor(selfId: string | null, members: Iterable<Member>) {
    this._others = [...members].filter((m) => m.id !== selfId).sort((a, b) => (a.since ?? 0) - (b.since ?? 0));
  }

  statusOf(message: OwnMessageState): DerivedStatus {
    if (message.failed) return { status: 'failed', readBy: [] };
    const seq = message.seq;
    if (seq === undefined) return { status: 'sending', readBy: [] };
    const readBy: string[] = [];
    let counted = 0;
    let allRead = true;
    let allDelivered = true;
    for (const member of this._others) {
      if (member.read >= seq) readBy.push(member.name || member.id);
      if ((member.since ?? 0) >= seq) continue;
      counted++;
      if (member.read < seq) allRead = false;
      // Reading implies having received it, even if a client only ever sent `read`.
      if (Math.max(member.delivered, member.read) < seq) allDelivered = false;
    }
    // Nobody else to deliver to (yet): an acked message stays `sent`.
    if (counted === 0) return { status: 'sent', readBy };
    if (allRead) return { status: 'read', readBy };
    if (allDelivered) return { status: 'delivered', readBy };
    return { status: 'sent', readBy };
  }
}

/** One-off form of `ReceiptView.statusOf`. */
export function deriveStatus(message: OwnMessageState, selfId: string | null, members: Iterable<Member>): DerivedStatus {
  return new ReceiptView(selfId, members).statusOf(message);
}
