/**
 * Storage keys and the default storage. localforage is CommonJS and reaches for IndexedDB,
 * so it is imported only when no storage was passed: Node (tests) never loads it.
 */
import type { KeyValueStorage } from './types.js';

export function defaultStorage(): KeyValueStorage {
  let store: Promise<KeyValueStorage> | undefined;
  const load = (): Promise<KeyValueStorage> => {
    store ??= import('localforage').then((module) => {
      const lf = (module as { default?: unknown }).default ?? module;
      const instance = (lf as { createInstance(options: { name: string; storeName: string }): KeyValueStorage }).createInstance({
        name: 'chat-room',
        storeName: 'client',
      });
      return instance;
    });
    return store;
  };
  return {
    getItem: async <T>(key: string) => (await load()).getItem<T>(key),
    setItem: async <T>(key: string, value: T) => (await load()).setItem<T>(key, value),
    removeItem: async (key: string) => (await load()).removeItem(key),
    keys: async () => (await load()).keys!(),
  };
}

/** The user the stored data belongs to: `user` in open mode, the token's `sub` otherwise. */
export function storageUser(options: { token?: string; user?: string }): string {
  if (options.user) return options.user;
  const payload = options.token?.split('.')[1];
  if (payload) {
    try {
      const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
      const sub = (JSON.parse(json) as { sub?: unknown }).sub;
      if (typeof sub === 'string' && sub !== '') return sub;
    } catch {
      // Not a readable JWT: the relay will say so; storage just gets a neutral scope.
    }
  }
  return '_';
}

/** Per (relay, user, conversation): another user on the same browser never sees or resends these. */
export function storageKeys(relay: string, user: string, conversation: string): { outbox: string; history: string } {
  const scope = [relay.replace(/\s+/g, ''), user, conversation].map(encodeURIComponent).join('|');
  return { outbox: `chat-room:outbox:${scope}`, history: `chat-room:history:${scope}` };
}
