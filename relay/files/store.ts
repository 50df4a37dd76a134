/**
 * Uploaded files on disk under DATA_DIR/files: `<id>` holds the bytes exactly as received,
 * `<id>.json` what is needed to serve them. Ids are random and generated here, so a
 * client-supplied name can never become a path.
 *
 * An upload streams into this process's temp dir (DATA_DIR/files/tmp/<host>-<pid>-<random>).
 * Committing writes the metadata next to it, then renames the bytes into place, then the
 * metadata: the metadata is the commit marker, so a failure or a crash at any step leaves
 * no metadata without its bytes (at worst, after a crash between the two renames, bytes
 * nobody can address). Every write error removes what the upload had written.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import * as v from 'valibot';
import type { FileRef } from '../../protocol/index.js';

const StoredFileMeta = v.object({
  name: v.string(),
  type: v.string(),
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  conv: v.string(),
  uploader: v.string(),
  createdAt: v.number(),
});
export type StoredFileMeta = v.InferOutput<typeof StoredFileMeta>;

/** What the relay knows about a stored file: the truth behind a `/files/<id>` reference. */
export type FileDescription = Pick<StoredFileMeta, 'name' | 'type' | 'size' | 'conv' | 'uploader'>;

const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const URL_PATTERN = /^\/files\/([A-Za-z0-9_-]{22})$/;
/**
 * Temp dirs of other hosts (DATA_DIR may be shared) are removed once nobody wrote to them
 * for this long; a live relay's uploads touch theirs far more often.
 */
const STALE_TMP_MS = 24 * 60 * 60 * 1000;
const TMP_DIR_NAME = /^(.+)-(\d+)-[0-9a-f]{8}$/;

export class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError';
}

/** The disk (or the user's quota) is full: HTTP 507 rather than 500. */
export function isOutOfSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export interface FileStoreOptions {
  /** Opens an upload's temp file; tests inject failures here. */
  createWriteStream?: (path: string) => Writable;
}

type UploadMeta = Omit<StoredFileMeta, 'size' | 'createdAt'>;

/**
 * One upload in progress.
 *   writing ──commit()──> committing ──> committed
 *      │                      │
 *      └───> failed <─────────┘        (a write error; everything written is removed)
 *      └───> aborted                   (abort(); everything written is removed)
 */
type WriterState =
  | { name: 'writing' }
  | { name: 'committing' }
  | { name: 'committed' }
  | { name: 'failed'; error: Error }
  | { name: 'aborted' };

export class UploadWriter {
  private _state: WriterState = { name: 'writing' };
  private _size = 0;
  private _cleanup: Promise<void> | null = null;

  constructor(
    readonly id: string,
    private readonly _paths: { tmpData: string; tmpMeta: string; data: string; meta: string },
    private readonly _meta: UploadMeta,
    private readonly _maxBytes: number,
    private readonly _stream: Writable,
    private readonly _onError: (error: Error) => void,
  ) {
    // Without a listener a disk error would crash the relay. While writing, an error ends the
    // upload at once (a paused request would otherwise wait for a drain that never comes);
    // while committing, commit() rejects with it.
    _stream.on('error', (error) => {
      if (this._state.name !== 'writing') return;
      this._setState({ name: 'failed', error });
      void this._removeAll().then(() => this._onError(error));
    });
  }

  get size(): number {
    return this._size;
  }

  /** False when the caller should pause its source until `onDrain`. A no-op once the upload failed or was aborted. */
  write(chunk: Uint8Array): boolean {
    if (this._state.name !== 'writing') return true;
    this._size += chunk.byteLength;
    if (this._size > this._maxBytes) throw new UploadTooLargeError(`file is larger than ${this._maxBytes} bytes`);
    return this._stream.write(chunk);
  }

  onDrain(callback: () => void): void {
    this._stream.once('drain', callback);
  }

  async commit(): Promise<FileRef> {
    const state = this._state;
    if (state.name === 'failed') throw state.error;
    if (state.name !== 'writing') throw new Error(`upload ${this.id} cannot be committed: ${state.name}`);
    this._setState({ name: 'committing' });
    const meta: StoredFileMeta = { ...this._meta, size: this._size, createdAt: Date.now() };
    try {
      // 'close', not just 'finish': some filesystems (NFS) report a full disk only when the file is closed.
      await new Promise<void>((resolve, reject) => {
        this._stream.once('error', reject);
        this._stream.once('close', () => resolve());
        this._stream.end();
      });
      await writeFile(this._paths.tmpMeta, JSON.stringify(meta));
      await rename(this._paths.tmpData, this._paths.data);
      await rename(this._paths.tmpMeta, this._paths.meta);
    } catch (error) {
      this._setState({ name: 'failed', error: error as Error });
      await this._removeAll(true);
      throw error;
    }
    this._setState({ name: 'committed' });
    return { url: `/files/${this.id}`, name: meta.name, size: meta.size, type: meta.type };
  }

  /** Throws the partial upload away (a no-op once committed, failed or aborted). */
  async abort(): Promise<void> {
    if (this._state.name !== 'writing') return this._cleanup ?? undefined;
    this._setState({ name: 'aborted' });
    await this._removeAll();
  }

  private _setState(next: WriterState): void {
    this._state = next;
  }

  /** Closes the stream and removes the temp files (and, for a failed commit, bytes already moved into place). */
  private _removeAll(includingPlaced = false): Promise<void> {
    this._cleanup ??= (async () => {
      if (!this._stream.closed) {
        const closed = new Promise<void>((resolve) => this._stream.once('close', () => resolve()));
        this._stream.destroy();
        await closed;
      }
      const paths = [this._paths.tmpData, this._paths.tmpMeta];
      // The metadata rename is the last step: when it failed, the bytes must not stay without it.
      if (includingPlaced) paths.push(this._paths.data);
      await Promise.all(paths.map((path) => rm(path, { force: true }).catch(() => {})));
    })();
    return this._cleanup;
  }
}

export class FileStore {
  private readonly _dir: string;
  private readonly _tmpRoot: string;
  private readonly _tmpDir: string;
  private readonly _host = hostname();
  private readonly _createWriteStream: (path: string) => Writable;

  constructor(dataDir: string, options: FileStoreOptions = {}) {
    this._dir = join(dataDir, 'files');
    this._tmpRoot = join(this._dir, 'tmp');
    // One temp dir per process: several relays may share DATA_DIR (see README, "Running
    // several relays"), and none may delete another's upload in progress.
    this._tmpDir = join(this._tmpRoot, `${this._host}-${process.pid}-${randomBytes(4).toString('hex')}`);
    this._createWriteStream = options.createWriteStream ?? ((path) => createWriteStream(path));
  }

  /** Creates this process's temp dir and removes those of relays that are gone (see removeDeadTempDirs). */
  async init(): Promise<void> {
    await mkdir(this._tmpDir, { recursive: true });
    await this.removeDeadTempDirs();
  }

  /**
   * Partial uploads of relays that died mid-stream (SIGKILL, OOM, power): a temp dir of this
   * host whose process is gone goes at once; one of another host (DATA_DIR on a shared
   * filesystem) only when nobody wrote to it for a day, since its process cannot be asked.
   */
  async removeDeadTempDirs(now = Date.now()): Promise<string[]> {
    const removed: string[] = [];
    const entries = await readdir(this._tmpRoot).catch(() => []);
    for (const entry of entries) {
      const path = join(this._tmpRoot, entry);
      if (path === this._tmpDir) continue;
      const match = TMP_DIR_NAME.exec(entry);
      let dead: boolean;
      if (match && match[1] === this._host) {
        const pid = Number(match[2]);
        // Our own pid on another dir: a previous process of this container had it.
        dead = pid === process.pid || !processAlive(pid);
      } else {
        const info = await stat(path).catch(() => null);
        dead = info !== null && info.mtimeMs < now - STALE_TMP_MS;
      }
      if (!dead) continue;
      // Another relay starting at the same moment may be removing it too.
      await rm(path, { recursive: true, force: true }).catch(() => {});
      removed.push(entry);
    }
    return removed;
  }

  /** Removes this process's temp dir (on shutdown). */
  async close(): Promise<void> {
    await rm(this._tmpDir, { recursive: true, force: true });
  }

  dataPath(id: string): string {
    return join(this._dir, id);
  }

  metaPath(id: string): string {
    return join(this._dir, `${id}.json`);
  }

  /**
   * Starts an upload. `onError` is called once if writing fails before commit() (the disk is
   * full, no file descriptor is left…), after the partial file has been removed.
   */
  begin(meta: UploadMeta, maxBytes: number, onError: (error: Error) => void = () => {}): UploadWriter {
    const id = randomBytes(16).toString('base64url');
    const tmpData = join(this._tmpDir, id);
    const paths = { tmpData, tmpMeta: `${tmpData}.json`, data: this.dataPath(id), meta: this.metaPath(id) };
    return new UploadWriter(id, paths, meta, maxBytes, this._createWriteStream(tmpData), onError);
  }

  /**
   * The metadata of a stored file; null for a malformed or unknown id, unreadable or
   * malformed metadata, or bytes that are missing or not of the recorded size.
   */
  async lookup(id: string): Promise<StoredFileMeta | null> {
    if (!ID_PATTERN.test(id)) return null;
    try {
      const parsed = v.safeParse(StoredFileMeta, JSON.parse(await readFile(this.metaPath(id), 'utf8')));
      if (!parsed.success) return null;
      const data = await stat(this.dataPath(id));
      return data.isFile() && data.size === parsed.output.size ? parsed.output : null;
    } catch {
      return null;
    }
  }

  /** The stored file behind a `/files/<id>` URL (as /upload returned it), or null when there is none. */
  async describe(url: string): Promise<FileDescription | null> {
    const id = URL_PATTERN.exec(url)?.[1];
    const meta = id ? await this.lookup(id) : null;
    return meta && { name: meta.name, type: meta.type, size: meta.size, conv: meta.conv, uploader: meta.uploader };
  }
}

/** Whether a process of this host is alive: signal 0 checks without sending anything (EPERM: alive, not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
