/**
 * Uploads kept in storage while they wait (offline, relay unreachable), run or failed, so that a
 * reload or a browser restart takes them up again as the outbox does text: one key per upload
 * (`<prefix><upload id>`), holding the file itself (IndexedDB stores a Blob as it is).
 *
 * Bounded: at most UploadDefaults.maxJobs uploads and KeptUploadDefaults.maxBytes of files per
 * conversation and tab; an upload beyond that waits in memory only (a reload forgets it).
 *
 * Each kept upload is held by the tab that runs it (a Web Lock named after it, see
 * platform.claimLock): a tab opened meanwhile leaves it to that tab, and takes it up only once
 * that tab is gone. Its message goes out with the id chosen when the upload began, so an upload
 * taken up twice (a tab closed after the upload but before its record was removed) is still
 * stored once by the relay, which answers a repeated id with the first ack.
 */
import { claimLock } from './platform.js';
import type { KeyValueStorage } from './types.js';
import { UploadDefaults } from './uploads.js';

/** What is kept of one upload. */
export interface KeptUpload {
  /** The upload's local id (UploadState.id). */
  id: string;
  /** The id its message will be sent with. */
  message: string;
  name: string;
  file: Blob;
  text?: string;
  reply?: string;
}

export const KeptUploadDefaults = {
  /** Bytes of files one tab keeps per conversation; beyond it, uploads wait in memory only. */
  maxBytes: 100 * 1024 * 1024,
} as const;

export interface KeptUploadsOptions {
  storage: KeyValueStorage;
  /** The keys' prefix (per relay, user and conversation); read when storage is used. */
  readonly prefix: string;
  onStorageError: (error: unknown) => void;
  /** Injected for tests; default: a Web Lock (platform.claimLock). */
  claim?: (name: string) => Promise<(() => void) | null>;
}

export class KeptUploads {
  private readonly _o: KeptUploadsOptions;
  /** Kept by this tab: size, and the release of its lock. */
  private readonly _held = new Map<string, { size: number; release: (() => void) | null }>();

  constructor(options: KeptUploadsOptions) {
    this._o = options;
  }

  /** Keeps a new upload, if storage can list its keys (else nothing could find it again) and the bounds allow. */
  keep(upload: KeptUpload): void {
    if (!this._o.storage.keys || this._held.has(upload.id)) return;
    let bytes = 0;
    for (const { size } of this._held.values()) bytes += size;
    if (this._held.size >= UploadDefaults.maxJobs || bytes + upload.file.size > KeptUploadDefaults.maxBytes) return;
    const held = { size: upload.file.size, release: null as (() => void) | null };
    this._held.set(upload.id, held);
    // A new id: no other tab can hold its lock; taken so that none takes the upload up while this tab runs it.
    void this._claim(upload.id).then((release) => {
      if (this._held.get(upload.id) === held) held.release = release;
      else release?.();
    });
    this._o.storage.setItem(this._o.prefix + upload.id, { ...upload }).catch(this._o.onStorageError);
  }

  /** The upload is over (done, cancelled, dismissed): its record and its lock go. */
  forget(id: string): void {
    const held = this._held.get(id);
    if (!held) return;
    this._held.delete(id);
    held.release?.();
    this._o.storage.removeItem(this._o.prefix + id).catch(this._o.onStorageError);
  }

  /** The kept uploads no other tab holds, oldest first by id order of keys, each now held by this tab (up to the bounds). */
  async restore(): Promise<KeptUpload[]> {
    const { storage, prefix } = this._o;
    if (!storage.keys) return [];
    const out: KeptUpload[] = [];
    try {
      const keys = (await storage.keys()).filter((key) => key.startsWith(prefix));
      for (const key of keys) {
        if (out.length >= UploadDefaults.maxJobs) break;
        const id = key.slice(prefix.length);
        if (this._held.has(id)) continue;
        const release = await this._claim(id);
        if (!release) continue;
        const record = await storage.getItem<KeptUpload>(key);
        if (!isKept(record, id)) {
          // Unreadable (or gone meanwhile): nothing to resume.
          release();
          if (record !== null) await storage.removeItem(key);
          continue;
        }
        this._held.set(id, { size: record.file.size, release });
        out.push(record);
      }
    } catch (error) {
      this._o.onStorageError(error);
    }
    return out;
  }

  /** The tab lets go of what it holds (the records stay, for the next load or another tab). */
  dispose(): void {
    for (const held of this._held.values()) held.release?.();
    this._held.clear();
  }

  private _claim(id: string): Promise<(() => void) | null> {
    return (this._o.claim ?? claimLock)(`${this._o.prefix}${id}`);
  }
}

function isKept(value: unknown, id: string): value is KeptUpload {
  const r = value as Partial<KeptUpload> | null;
  const optional = (x: unknown) => x === undefined || typeof x === 'string';
  return r?.id === id && typeof r.message === 'string' && typeof r.name === 'string' && r.file instanceof Blob && optional(r.text) && optional(r.reply);
}
