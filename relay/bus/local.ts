import type { Bus, BusEvent, BusHandlers, ClusterEvent } from './types.js';

/** In-process bus for a single relay: an event goes straight back to this instance's hub. */
export class LocalBus implements Bus {
  private readonly _subscribed = new Set<string>();

  constructor(private readonly _handlers: BusHandlers) {}

  subscribe(conv: string): void {
    this._subscribed.add(conv);
  }

  unsubscribe(conv: string): void {
    this._subscribed.delete(conv);
  }

  publish(conv: string, event: BusEvent): void {
    if (this._subscribed.has(conv)) this._handlers.onEvent(conv, event);
  }

  broadcast(event: ClusterEvent): void {
    this._handlers.onBroadcast(event);
  }

  async close(): Promise<void> {
    this._subscribed.clear();
  }
}
