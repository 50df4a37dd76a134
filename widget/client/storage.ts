/**
 * Storage keys, what the core reads from a token, and the default storage: a small key-value
 * store on IndexedDB (database `chat-room`, object store `client`: the layout localforage used,
 * so what earlier versions stored is read as it is). It replaces localforage, which cost the
 * bundle ~7 KB gzip for the four calls the core makes. Where IndexedDB is missing the store
 * lives in memory (nothing survives a reload, but the chat works).
 */
import { browserIndexedDB } from './platform.js';
import type { KeyValueStorage } from './types.js';

export const STORAGE_DB = { name: 'chat-room', store: 'client' } as const;

export function defaultStorage(): KeyValueStorage {
  const factory = browserIndexedDB();
  return factory ? indexedDbStorage(factory) : memoryStorage();
}

/** A key-value store in one IndexedDB object store; the database opens on first use. */
export function indexedDbStorage(factory: IDBFactory, name: string = STORAGE_DB.name, storeName: string = STORAGE_DB.store): KeyValueStorage {
  let opened: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> =>
    (opened ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(name);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(storeName)) request.result.createObjectStore(storeName);
      };
      request.onsuccess = () => {
        const db = request.result;
        // Another version of the page upgrades the database: let it, and open again on next use.
        db.onversionchange = () => {
          db.close();
          opened = undefined;
        };
        resolve(db);
      };
      request.onerror = () => {
        opened = undefined;
        reject(request.error ?? new Error('IndexedDB open failed'));
      };
    }));
  const run = async <T>(mode: IDBTransactionMode, act: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const db = await open();
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = act(tx.objectStore(storeName));
      // Resolved on commit, not on the request's success: a write is durable only then.
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = tx.onabort = () => reject(tx.error ?? request.error ?? new Error('IndexedDB transaction failed'));
    });
  };
  return {
    getItem: async <T>(key: string) => ((await run('readonly', (store) => store.get(key))) ?? null) as T | null,
    setItem: async <T>(key: string, value: T) => {
      await run('readwrite', (store) => store.put(value, key));
      return value;
    },
    removeItem: async (key: string) => {
      await run('readwrite', (store) => store.delete(key));
    },
    keys: async () => (await run('readonly', (store) => store.getAllKeys())).map(String),
  };
}

/** A store for this page's life only (no IndexedDB): values are copied, as IndexedDB would. */
export function memoryStorage(): KeyValueStorage {
  const data = new Map<string, unknown>();
  return {
    getItem: async <T>(key: string) => (data.has(key) ? (structuredClone(data.get(key)) as T) : null),
    setItem: async <T>(key: string, value: T) => {
      data.set(key, structuredClone(value));
      return value;
    },
    removeItem: async (key: string) => {
      data.delete(key);
    },
    keys: async () => [...data.keys()],
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

/** Per (relay, user, conversation): another user on the same browser never sees or resends these. */
export function storageKeys(relay: string, user: string, conversation: string): { outbox: string; history: string } {
  const scope = [relay.replace(/\s+/g, ''), user, conversation].map(encodeURIComponent).join('|');
  return { outbox: `chat-room:outbox:${scope}`, history: `chat-room:history:${scope}` };
}
