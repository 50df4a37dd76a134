/**
 * The only file of the client core that touches the browser's globals (`window`, `document`,
 * `navigator`, `BroadcastChannel`, `navigator.locks`, `crypto`): everything else gets what it
 * needs from here, behind small interfaces, so the core runs in Node (where these are absent
 * or different) and tests can pass their own.
 */

/** The browser's online/offline signal; in Node always online. */
export interface NetworkSignal {
  readonly online: boolean;
  /** Returns the unsubscribe function. */
  subscribe(onOnline: () => void, onOffline: () => void): () => void;
}

interface EventTargetLike {
  addEventListener?: (type: string, fn: (event?: { persisted?: boolean }) => void) => void;
  removeEventListener?: (type: string, fn: (event?: { persisted?: boolean }) => void) => void;
}

const target = globalThis as EventTargetLike;

function listen(type: string, fn: (event?: { persisted?: boolean }) => void): () => void {
  if (typeof target.addEventListener !== 'function') return () => {};
  target.addEventListener(type, fn);
  return () => target.removeEventListener?.(type, fn);
}

export const browserNetwork: NetworkSignal = {
  get online() {
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    return nav?.onLine !== false;
  },
  subscribe(onOnline, onOffline) {
    const off = [listen('online', onOnline), listen('offline', onOffline)];
    return () => off.forEach((f) => f());
  },
};

/**
 * Calls `onHide` when the page is being left or hidden (tab closed, navigation, app switch on
 * mobile): debounced writes must not be lost with the page. A no-op outside a browser.
 */
export function watchPageHide(onHide: () => void): () => void {
  return listen('pagehide', onHide);
}

/** A message or upload id: a UUID where available (secure contexts), random hex otherwise. */
export function newId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string; getRandomValues?: (a: Uint8Array) => Uint8Array } }).crypto;
  if (typeof crypto?.randomUUID === 'function') return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** What tab sharing needs of `BroadcastChannel`. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

/**
 * What tab sharing needs of the browser: a channel between the tabs of this origin and an
 * exclusive lock that is released when its holder's tab goes away (Web Locks).
 */
export interface TabPlatform {
  channel(name: string): ChannelLike;
  /**
   * Waits for the lock `name`, then calls `granted`; the lock is held until `signal` aborts
   * (or the tab goes away).
   */
  lock(name: string, signal: AbortSignal, granted: () => void): void;
  /**
   * Calls `hide` when the tab is going away or into the back/forward cache (`pagehide`) and
   * `show` when it comes back from there; returns the unsubscribe function.
   */
  watchPage?(hide: () => void, show: () => void): () => void;
}

interface LocksLike {
  request(name: string, options: { signal?: AbortSignal; ifAvailable?: boolean }, callback: (lock: unknown) => Promise<void> | void): Promise<unknown>;
}

/**
 * Takes the Web Lock `name` if no tab of this origin holds it, and holds it until the returned
 * release is called (or the tab goes away); null when another tab holds it. Where Web Locks are
 * missing (Node, old browsers) every claim is granted: a tab cannot tell, and doing the work twice
 * is what the callers are built to survive.
 */
export function claimLock(name: string): Promise<(() => void) | null> {
  const locks = (globalThis as { navigator?: { locks?: LocksLike } }).navigator?.locks;
  if (typeof locks?.request !== 'function') return Promise.resolve(() => {});
  return new Promise((resolve) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (!lock) return resolve(null);
        return new Promise<void>((release) => resolve(() => release()));
      })
      .catch(() => resolve(() => {}));
  });
}

/** The browser's tab platform, or null where Web Locks or BroadcastChannel is missing (then each tab connects itself). */
export function browserTabs(): TabPlatform | null {
  const g = globalThis as { BroadcastChannel?: new (name: string) => ChannelLike; navigator?: { locks?: LocksLike } };
  const Channel = g.BroadcastChannel;
  const locks = g.navigator?.locks;
  if (typeof Channel !== 'function' || typeof locks?.request !== 'function') return null;
  return {
    channel: (name) => new Channel(name),
    lock(name, signal, granted) {
      locks
        .request(name, { signal }, () => {
          granted();
          // Held until aborted: the promise settles when the session lets go.
          return new Promise<void>((resolve) => {
            if (signal.aborted) resolve();
            else signal.addEventListener('abort', () => resolve(), { once: true });
          });
        })
        // An abort while still waiting rejects the request: nothing to do.
        .catch(() => {});
    },
    watchPage(hide, show) {
      const off = [listen('pagehide', hide), listen('pageshow', (event?: { persisted?: boolean }) => event?.persisted === true && show())];
      return () => off.forEach((f) => f());
    },
  };
}

/**
 * Reads `key` straight from IndexedDB (`database`, object store `store`), where the default storage keeps its
 * values as they are: for a read that must start before that storage is loaded (client/early.ts). Rejects on
 * anything unexpected (no IndexedDB, no such database or store: none is created here, an error).
 */
export function readIndexedDb(database: string, store: string, key: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(database);
    // No database yet: nothing stored, and the default storage creates it as it wants it.
    request.onupgradeneeded = () => request.transaction?.abort();
    request.onerror = () => reject(request.error);
    request.onsuccess = () => {
      const db = request.result;
      try {
        const get = db.transaction(store, 'readonly').objectStore(store).get(key);
        get.onsuccess = () => resolve(get.result ?? null);
        get.onerror = () => reject(get.error);
      } catch (error) {
        reject(error);
      } finally {
        // Closed once the read is done: an open connection would hold up the default storage upgrading the database.
        db.close();
      }
    };
  });
}
