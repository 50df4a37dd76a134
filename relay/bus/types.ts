/**
 * The bus carries events between relay instances; the store, not the bus, is the source of
 * truth. A bus may lose events (core NATS is at-most-once): that is repaired, not
 * prevented — clients fill seq gaps from history, and after a bus outage the hub tells
 * every client to `resync`.
 */
import type { Member, MessageFrame } from '../../protocol/index.js';

export type BusEvent =
  | { kind: 'msg'; message: MessageFrame }
  | { kind: 'typing'; conv: string; user: string; active: boolean }
  | { kind: 'receipt'; conv: string; member: Member }
  | { kind: 'member'; conv: string; member: Member };

export interface BusHandlers {
  /** An event published by any instance, this one included, exactly once. */
  onEvent(conv: string, event: BusEvent): void;
  /** Events may have been lost (e.g. after a reconnect): every local client of `convs` must resync. */
  onGap(convs: readonly string[]): void;
}

export interface Bus {
  /**
   * Starts delivering events of `conv` to the handlers (idempotent). Resolves once the
   * subscription is in effect, so nothing published after that can be missed.
   */
  subscribe(conv: string): Promise<void> | void;
  unsubscribe(conv: string): void;
  publish(conv: string, event: BusEvent): void;
  close(): Promise<void>;
}

export type BusFactory = (handlers: BusHandlers) => Promise<Bus>;
