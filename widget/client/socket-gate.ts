/**
 * What the socket owner (the solo tab, or the leader tab for every tab) lets through to the
 * relay for the conversation views that share its connection. The relay keeps ONE membership
 * per connection and conversation, so two views of a conversation on one socket (two elements
 * on a page, or two tabs) must not talk over each other:
 *
 * - Joins go one at a time per conversation. The relay answers a join that a later one
 *   supersedes with nothing at all, so a view whose join was overtaken by another tab's would
 *   wait for its request timeout (this was the ~10 s leader takeover: every tab re-joins at
 *   once on the new leader's socket). The next join goes out when the one in flight is
 *   answered (`joined` or `error` with its ref), or once that one is older than `holdMs`.
 * - `leave` goes out only when the last view holding the conversation leaves (or its tab goes
 *   away): leaving for one view would silence every other view of it on the same socket.
 *
 * A view is named by its refs: `<tab>.<view>.<n>` (session.ts makes them), so the holder of a
 * `join` or `leave` is the ref without its counter. Pure apart from `send` and the clock.
 */
import type { ClientFrame, JoinFrame, ServerFrame } from '../../protocol/index.js';
import type { Clock } from './clock.js';

export interface SocketGateOptions {
  clock: Clock;
  /** Puts a frame on the socket; false if it could not go out. */
  send: (frame: ClientFrame) => boolean;
  /** A join in flight longer than this no longer holds the next one back (its answer was lost). */
  holdMs: number;
}

interface ConversationGate {
  /** The views that joined the conversation on this socket and have not left. */
  holders: Set<string>;
  /** The join on the wire whose answer is awaited. */
  inFlight: { ref: string; at: number } | null;
  /** Joins waiting for it, at most one per view (a view's newer join replaces its older one). */
  queue: Array<{ frame: JoinFrame; holder: string }>;
}

/** The view a ref of session.ts belongs to: `<tab>.<view>` of `<tab>.<view>.<n>`. */
export function holderOf(ref: unknown): string {
  if (typeof ref !== 'string') return '';
  const cut = ref.lastIndexOf('.');
  return cut < 0 ? ref : ref.slice(0, cut);
}

export class SocketGate {
  private readonly _o: SocketGateOptions;
  private readonly _conversations = new Map<string, ConversationGate>();

  constructor(options: SocketGateOptions) {
    this._o = options;
  }

  /** Whether any view holds `conv` on this socket (tests, diagnostics). */
  holders(conv: string): string[] {
    return [...(this._conversations.get(conv)?.holders ?? [])];
  }

  /** A frame for the socket, from any view of any tab. False if it could not go out (nor wait). */
  send(frame: ClientFrame): boolean {
    if (frame.type === 'join') return this._join(frame);
    if (frame.type === 'leave') return this._leave(frame.conv, holderOf(frame.ref), frame);
    return this._o.send(frame);
  }

  /** A frame from the relay: the answer to the join in flight lets the next one go. */
  received(frame: ServerFrame): void {
    if (frame.type !== 'joined' && frame.type !== 'error') return;
    if (typeof frame.ref !== 'string') return;
    for (const [conv, gate] of this._conversations) {
      if (gate.inFlight?.ref !== frame.ref) continue;
      gate.inFlight = null;
      this._next(conv, gate);
      return;
    }
  }

  /** A tab went away: its views leave, and conversations nobody holds any more are left on the relay. */
  tabGone(tab: string): void {
    const prefix = `${tab}.`;
    for (const [conv, gate] of [...this._conversations]) {
      const gone = [...gate.holders].filter((holder) => holder.startsWith(prefix));
      gate.queue = gate.queue.filter((queued) => !queued.holder.startsWith(prefix));
      if (gone.length === 0) continue;
      for (const holder of gone) gate.holders.delete(holder);
      if (gate.holders.size === 0) {
        this._conversations.delete(conv);
        this._o.send({ type: 'leave', conv });
      }
    }
  }

  /** The socket is gone: the relay forgot every membership of it. */
  reset(): void {
    this._conversations.clear();
  }

  private _join(frame: JoinFrame): boolean {
    const holder = holderOf(frame.ref);
    let gate = this._conversations.get(frame.conv);
    if (!gate) this._conversations.set(frame.conv, (gate = { holders: new Set(), inFlight: null, queue: [] }));
    gate.holders.add(holder);
    const now = this._o.clock.now();
    if (gate.inFlight && now - gate.inFlight.at < this._o.holdMs) {
      gate.queue = gate.queue.filter((queued) => queued.holder !== holder);
      gate.queue.push({ frame, holder });
      return true;
    }
    if (this._put(gate, frame)) return true;
    // Not on the relay after all: nothing to hold (the view joins again after the next welcome).
    gate.holders.delete(holder);
    if (gate.holders.size === 0) this._conversations.delete(frame.conv);
    return false;
  }

  private _leave(conv: string, holder: string, frame: ClientFrame): boolean {
    const gate = this._conversations.get(conv);
    if (!gate) return this._o.send(frame);
    gate.holders.delete(holder);
    gate.queue = gate.queue.filter((queued) => queued.holder !== holder);
    // Other views still listen on this socket: the relay must keep sending to it.
    if (gate.holders.size > 0) return true;
    this._conversations.delete(conv);
    return this._o.send(frame);
  }

  private _next(conv: string, gate: ConversationGate): void {
    const next = gate.queue.shift();
    if (!next) {
      if (gate.holders.size === 0) this._conversations.delete(conv);
      return;
    }
    // Lost with the socket: the view's own request registry asks again after the next welcome.
    if (!this._put(gate, next.frame)) gate.queue = [];
  }

  private _put(gate: ConversationGate, frame: JoinFrame): boolean {
    const sent = this._o.send(frame);
    gate.inFlight = sent && typeof frame.ref === 'string' ? { ref: frame.ref, at: this._o.clock.now() } : null;
    return sent;
  }
}
