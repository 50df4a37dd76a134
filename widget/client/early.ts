/**
 * The cached history, read before the core is loaded: the small entry (widget/loader.ts) starts
 * reading a `<chat-room>`'s newest cached messages while the widget itself is still being
 * fetched, and the conversation takes that read instead of starting its own (cache.ts). Each
 * read is taken once; one nobody takes stays here (one per `<chat-room>` of the page at most).
 */
import { readIndexedDb } from './platform.js';
import { STORAGE_DB, storageKeys, storageUser } from './storage.js';

const early = new Map<string, Promise<unknown>>();

/**
 * Starts reading the newest cached messages of (relay, user or token's user, conversation) from the default
 * storage's IndexedDB. Only where the user is known from these (not with `getToken` alone) and IndexedDB exists.
 */
export function readHistoryEarly(options: { relay: string; conversation: string; user?: string; token?: string }): void {
  const { relay, conversation, user, token } = options;
  if (!relay || !conversation || (!user && !token) || typeof IDBFactory === 'undefined') return;
  const key = storageKeys(relay, storageUser({ token, user }), conversation).history;
  const read = readIndexedDb(STORAGE_DB.name, STORAGE_DB.store, key);
  // Taken or not, a failed read is not an unhandled rejection: the core then reads the usual way.
  read.catch(() => undefined);
  early.set(key, read);
}

/** The read of `key` started early, if any (once). */
export function takeEarly(key: string): Promise<unknown> | undefined {
  const read = early.get(key);
  early.delete(key);
  return read;
}
