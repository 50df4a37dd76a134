/**
 * The conversations this relay follows: which local sessions are joined to each, the bus
 * subscription that brings its events, the sequencer that puts them back in seq order
 * before they fan out, and which sessions' connections receive its live events through the
 * transport's topic (see `Topics` in ports.ts). A conversation is followed while at least
 * one local session is joined to it.
 */
import type { Bus, BusEvent } from '../bus/types.js';
import { logSeq } from './frames.js';
import type { Clock, Topics } from './ports.js';
import { Sequencer } from './sequencer.js';
import type { Session } from './session.js';

interface Followed {
  sessions: Set<Session>;
  subscribed: Promise<void> | void;
  sequencer: Sequencer<BusEvent>;
  /** Sessions whose connection is subscribed to the conversation's topic (live and keeping up). */
  onTopic: Set<Session>;
}

export class Conversations {
  private readonly _followed = new Map<string, Followed>();

  constructor(
    private readonly _bus: () => Bus,
    private readonly _clock: Clock,
    /** Hands an event, in seq order, to every local session joined to its conversation. */
    private readonly _fanOut: (conv: string, event: BusEvent, sessions: ReadonlySet<Session>) => void,
    private readonly _topics: () => Topics,
  ) {}

  get size(): number {
    return this._followed.size;
  }

  /** Adds a local receiver; resolves once the bus delivers the conversation's events. */
  attach(session: Session, conv: string): Promise<void> | void {
    let followed = this._followed.get(conv);
    if (!followed) {
      const sessions = new Set<Session>();
      followed = {
        sessions,
        subscribed: this._bus().subscribe(conv),
        sequencer: new Sequencer((event) => this._fanOut(conv, event, sessions), this._clock),
        onTopic: new Set(),
      };
      this._followed.set(conv, followed);
    }
    followed.sessions.add(session);
    return followed.subscribed;
  }

  /**
   * Removes a local receiver. Returns what the caller must act on: whether the session's
   * user still has another session here, and whether the conversation is no longer followed.
   */
  detach(session: Session, conv: string): { userStillHere: boolean; unfollowed: boolean } {
    const followed = this._followed.get(conv);
    if (!followed) return { userStillHere: false, unfollowed: false };
    followed.sessions.delete(session);
    this._unsubscribe(followed, session, conv);
    const userId = session.userId;
    let userStillHere = false;
    for (const other of followed.sessions) {
      if (other.userId === userId) {
        userStillHere = true;
        break;
      }
    }
    if (followed.sessions.size > 0) return { userStillHere, unfollowed: false };
    followed.sequencer.dispose();
    this._followed.delete(conv);
    this._bus().unsubscribe(conv);
    return { userStillHere, unfollowed: true };
  }

  /** The session's connection receives the conversation's published events from now on (idempotent). */
  subscribe(session: Session, conv: string): void {
    const followed = this._followed.get(conv);
    if (!followed || !followed.sessions.has(session) || followed.onTopic.has(session) || session.isClosed) return;
    followed.onTopic.add(session);
    this._topics().subscribe(session.conn, conv);
  }

  /** No more published events for this session (a new replay, or a client that does not keep up). */
  unsubscribe(session: Session, conv: string): void {
    const followed = this._followed.get(conv);
    if (followed) this._unsubscribe(followed, session, conv);
  }

  isSubscribed(session: Session, conv: string): boolean {
    return this._followed.get(conv)?.onTopic.has(session) ?? false;
  }

  /** One event to every subscribed session, serialized once by the caller. */
  publish(conv: string, text: string): void {
    this._topics().publish(conv, text);
  }

  pendingBytes(): number {
    return this._topics().pendingBytes();
  }

  private _unsubscribe(followed: Followed, session: Session, conv: string): void {
    if (followed.onTopic.delete(session)) this._topics().unsubscribe(session.conn, conv);
  }

  /** The head read after subscribing: tells the sequencer which seq the bus brings next. */
  knowHead(conv: string, head: number): void {
    this._followed.get(conv)?.sequencer.knowHead(head);
  }

  sessions(conv: string): ReadonlySet<Session> {
    return this._followed.get(conv)?.sessions ?? EMPTY;
  }

  /** An event from the bus: log events (`msg`, `update`) pass the sequencer, everything else fans out at once. */
  receive(conv: string, event: BusEvent): void {
    const followed = this._followed.get(conv);
    if (!followed) return;
    const seq = event.kind === 'ban' ? null : logSeq(event);
    if (seq !== null) followed.sequencer.push(seq, event);
    else this._fanOut(conv, event, followed.sessions);
  }

  dispose(): void {
    for (const followed of this._followed.values()) followed.sequencer.dispose();
    this._followed.clear();
  }
}

const EMPTY: ReadonlySet<Session> = new Set();
