/**
 * The widget's client core: `createChatClient` and the types of widget/client/types.ts.
 * No Lit and no DOM beyond WebSocket, timers, XHR and online/offline, so it runs in Node too.
 */
import { ChatClientImpl, type ClientInternals } from './client.js';
import type { ChatClient, ChatClientOptions } from './types.js';

export type * from './types.js';
export type { ClientInternals } from './client.js';

/**
 * One client per (relay, conversation, user). Call `start()` to load the cache and outbox
 * and connect, `dispose()` when done. `internals` is for tests (clock, network, XHR, delays).
 */
export function createChatClient(options: ChatClientOptions, internals?: ClientInternals): ChatClient {
  return new ChatClientImpl(options, internals);
}
