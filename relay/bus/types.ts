/**
 * The bus carries events between relay instances; the store, not the bus, is the source of
 * truth. A bus may lose events (core NATS is at-most-once): that is repaired, not
 * prevented — clients fill seq gaps from history, after a bus outage the hub tells every
 * client to `resync`, and presence is restated by every relay's periodic snapshot.
 */
import type { Member, MessageFrame, UpdateFrame } from '../../protocol/index.js';

/** Events of one conversation, published on its subject: only relays that follow it receive them. */
export type BusEvent =
  | { kind: 'msg'; message: MessageFrame }
  /** v1.1: a change to an earlier message; shares the conversation's seq with `msg`. */
  | { kind: 'update'; update: UpdateFrame }
  | { kind: 'typing'; conv: string; user: string; active: boolean }
  | { kind: 'receipt'; conv: string; member: Member }
  | { kind: 'member'; conv: string; member: Member }
  /** v1.1: the user was banned: every relay removes the user's sessions from the conversation at once. */
  | { kind: 'ban'; conv: string; user: string; until?: number };

/** One (conversation, user) pair a relay holds online: `[conv, user]`. */
export type PresencePair = readonly [conv: string, user: string];

/**
 * v1.1: events for every relay of the cluster, whatever conversations it follows (presence
 * is needed by a relay before its first session joins a conversation, and by the server
 * API for any conversation). Each names the relay that sent it.
 */
export type ClusterEvent =
  /** Pairs that came online on `relay`, or went offline there (after the grace) at `ts`. */
  | { kind: 'presence'; relay: string; changes: Array<{ conv: string; user: string; online: boolean; ts: number }> }
  /**
   * Everything `relay` holds online, in `parts` messages sent back to back (a part stays far
   * below NATS's payload limit). Sent every heartbeat, so lost changes are repaired and a
   * relay that falls silent is known to be gone.
   */
  | { kind: 'presence-snapshot'; relay: string; round: number; part: number; parts: number; ts: number; pairs: PresencePair[] }
  /** A relay that (re)joined the cluster asks the others for their snapshots. */
  | { kind: 'presence-query'; relay: string }
  /** `relay` is shutting down: its users go offline after the grace unless they reconnect elsewhere. */
  | { kind: 'presence-bye'; relay: string; ts: number };

export interface BusHandlers {
  /** An event published by any instance, this one included, exactly once. */
  onEvent(conv: string, event: BusEvent): void;
  /** Events may have been lost (e.g. after a reconnect): every local client of `convs` must resync. */
  onGap(convs: readonly string[]): void;
  /** A cluster-wide event from any instance (this one's own included: the receiver ignores them). */
  onBroadcast(event: ClusterEvent): void;
  /** The bus came back after an outage (cluster events may have been lost meanwhile). */
  onReconnect(): void;
}

export interface Bus {
  /**
   * Starts delivering events of `conv` to the handlers (idempotent). Resolves once the
   * subscription is in effect, so nothing published after that can be missed.
   */
  subscribe(conv: string): Promise<void> | void;
  unsubscribe(conv: string): void;
  publish(conv: string, event: BusEvent): void;
  /** Sends a cluster-wide event to every instance (at most once; dropped while disconnected). */
  broadcast(event: ClusterEvent): void;
  close(): Promise<void>;
}

export type BusFactory = (handlers: BusHandlers) => Promise<Bus>;
