/**
 * Storage keys, what the core reads from a token, and the default storage: localforage
 * (IndexedDB, with its fallbacks where IndexedDB is missing or broken), database `chat-room`,
 * object store `client`. localforage is the largest thing the core would carry, so it is
 * imported only on first use: Node (tests) never loads it. The browser bundle builds it from
 * its ES sources without the WebSQL driver and puts it in the widget's chunk (every inline
 * widget needs it at once): see widget/vite.config.ts.
 */
import type { KeyValueStorage } from './types.js';

export const STORAGE_DB = { name: 'chat-room', store: 'client' } as const;

export function defaultStorage(): KeyValueStorage {
  let store: Promise<KeyValueStorage> | undefined;
  const load = (): Promise<KeyValueStorage> =>
    (store ??= import('localforage').then((module) => {
      const lf = (module as { default?: unknown }).default ?? module;
      return (lf as { createInstance(options: { name: string; storeName: string }): KeyValueStorage }).createInstance({
        name: STORAGE_DB.name,
        storeName: STORAGE_DB.store,
      });
    }));
  return {
    getItem: async <T>(key: string) => (await load()).getItem<T>(key),
    setItem: async <T>(key: string, value: T) => (await load()).setItem<T>(key, value),
    removeItem: async (key: string) => (await load()).removeItem(key),
    keys: async () => (await load()).keys!(),
  };
}

/** The claims of a JWT the core uses (unverified: the relay verifies; these only name storage and shape the view). */
export function tokenClaims(token: string | undefined): { sub?: string; exp?: number; role?: string } {
  const payload = token?.split('.')[1];
  if (!payload) return {};
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { sub?: unknown; exp?: unknown; role?: unknown };
    return {
      ...(typeof claims.sub === 'string' && claims.sub !== '' ? { sub: claims.sub } : {}),
      ...(typeof claims.exp === 'number' ? { exp: claims.exp } : {}),
      ...(typeof claims.role === 'string' ? { role: claims.role } : {}),
    };
  } catch {
    // Not a readable JWT: the relay will say so.
    return {};
  }
}

/** The user the stored data belongs to: `user` in open mode, the token's `sub` otherwise. */
export function storageUser(options: { token?: string; user?: string }): string {
  if (options.user) return options.user;
  // Not a readable JWT: the relay will say so; storage just gets a neutral scope.
  return tokenClaims(options.token).sub ?? '_';
}

const scope = (relay: string, user: string, conversation: string) =>
  [relay.replace(/\s+/g, ''), user, conversation].map(encodeURIComponent).join('|');

/** Per (relay, user, conversation): another user on the same browser never sees or resends these. */
export function storageKeys(relay: string, user: string, conversation: string): { outbox: string; history: string } {
  const at = scope(relay, user, conversation);
  return { outbox: `chat-room:outbox:${at}`, history: `chat-room:history:${at}` };
}

/** The prefix of the kept uploads' keys (one key each, kept-uploads.ts), scoped as storageKeys; apart, so the entry (early.ts) does not carry it. */
export function uploadKeyPrefix(relay: string, user: string, conversation: string): string {
  return `chat-room:upload:${scope(relay, user, conversation)}|`;
}
