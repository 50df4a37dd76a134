/** An in-memory KeyValueStorage that copies values like IndexedDB does, so tests cannot share objects with the client by accident. */
import type { KeyValueStorage } from '../types.js';

export class MemoryStorage implements KeyValueStorage {
  readonly data = new Map<string, unknown>();
  writes = 0;
  /** When set, each write waits for this before it completes (to observe ordering). */
  gate: Promise<void> | null = null;

  async getItem<T>(key: string): Promise<T | null> {
    return this.data.has(key) ? (structuredClone(this.data.get(key)) as T) : null;
  }

  async setItem<T>(key: string, value: T): Promise<T> {
    const copy = structuredClone(value);
    if (this.gate) await this.gate;
    this.writes++;
    this.data.set(key, copy);
    return value;
  }

  async removeItem(key: string): Promise<void> {
    if (this.gate) await this.gate;
    this.writes++;
    this.data.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.data.keys()];
  }

  /** The outbox's entries (per-entry keys under `prefix`, in the order they were written), or undefined when there are none. */
  outbox(prefix = 'chat-room:outbox:'): Array<{ id: string; [key: string]: unknown }> | undefined {
    const records = [...this.data.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .map(([, value]) => value as { entry: { id: string; ts: number }; n: number })
      .sort((a, b) => a.entry.ts - b.entry.ts || a.n - b.n);
    return records.length === 0 ? undefined : records.map((r) => r.entry);
  }

  /** The value under the only key that starts with `prefix` (keys embed relay, user and conversation). */
  find(prefix: string): unknown {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix));
    if (keys.length > 1) throw new Error(`several keys start with ${prefix}: ${keys.join(', ')}`);
    return keys[0] === undefined ? undefined : this.data.get(keys[0]);
  }
}
