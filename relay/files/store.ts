/**
 * Uploaded files on disk under DATA_DIR/files: `<id>` holds the bytes exactly as received,
 * `<id>.json` what is needed to serve them. Ids are random and generated here, so a
 * client-supplied name can never become a path. Bytes are streamed to a temporary file and
 * only moved into place once complete, so an aborted or over-limit upload leaves nothing.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FileRef } from '../../protocol/index.js';

export interface StoredFileMeta {
  name: string;
  type: string;
  size: number;
  conv: string;
  uploader: string;
  createdAt: number;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const STALE_TMP_MS = 24 * 60 * 60 * 1000;

export class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError';
}

/** One upload in progress. `write` returns false when the caller should pause its source until `onDrain`. */
export class UploadWriter {
  private _size = 0;
  private _finished = false;
  private _error: Error | null = null;

  constructor(
    readonly id: string,
    private readonly _tmpPath: string,
    private readonly _files: FileStore,
    private readonly _meta: Omit<StoredFileMeta, 'size' | 'createdAt'>,
    private readonly _maxBytes: number,
    private readonly _stream: WriteStream,
  ) {
    // Without a listener a disk error (or a write racing an abort) would crash the relay.
    _stream.on('error', (error) => (this._error ??= error));
  }

  get size(): number {
    return this._size;
  }

  write(chunk: Uint8Array): boolean {
    this._size += chunk.byteLength;
    if (this._size > this._maxBytes) throw new UploadTooLargeError(`file is larger than ${this._maxBytes} bytes`);
    return this._stream.write(chunk);
  }

  onDrain(callback: () => void): void {
    this._stream.once('drain', callback);
  }

  async commit(): Promise<FileRef> {
    this._finished = true;
    await new Promise<void>((resolve, reject) => {
      if (this._error) return reject(this._error);
      this._stream.once('error', reject);
      this._stream.end(resolve);
    });
    const meta: StoredFileMeta = { ...this._meta, size: this._size, createdAt: Date.now() };
    await writeFile(this._files.metaPath(this.id), JSON.stringify(meta));
    await rename(this._tmpPath, this._files.dataPath(this.id));
    return { url: `/files/${this.id}`, name: meta.name, size: meta.size, type: meta.type };
  }

  /** Throws the partial upload away. */
  async abort(): Promise<void> {
    if (this._finished) return;
    this._finished = true;
    if (!this._stream.closed) {
      const closed = new Promise<void>((resolve) => this._stream.once('close', () => resolve()));
      this._stream.destroy();
      await closed;
    }
    await rm(this._tmpPath, { force: true });
  }
}

export class FileStore {
  private readonly _dir: string;
  private readonly _tmpDir: string;

  private readonly _tmpRoot: string;

  constructor(dataDir: string) {
    this._dir = join(dataDir, 'files');
    this._tmpRoot = join(this._dir, 'tmp');
    // One temp dir per process: several relays may share DATA_DIR (see README, "Running
    // several relays"), and none may delete another's upload in progress.
    this._tmpDir = join(this._tmpRoot, `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  async init(): Promise<void> {
    await mkdir(this._tmpDir, { recursive: true });
    // Partial uploads left by relays that crashed mid-stream: temp dirs nobody has written
    // to for a day (a live relay's uploads touch theirs far more often).
    const stale = Date.now() - STALE_TMP_MS;
    for (const entry of await readdir(this._tmpRoot, { withFileTypes: true })) {
      const path = join(this._tmpRoot, entry.name);
      if (path === this._tmpDir) continue;
      const info = await stat(path).catch(() => null);
      if (info && info.mtimeMs < stale) await rm(path, { recursive: true, force: true });
    }
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

  begin(meta: Omit<StoredFileMeta, 'size' | 'createdAt'>, maxBytes: number): UploadWriter {
    const id = randomBytes(16).toString('base64url');
    const tmpPath = join(this._tmpDir, id);
    return new UploadWriter(id, tmpPath, this, meta, maxBytes, createWriteStream(tmpPath));
  }

  /** The metadata of a stored file, or null for an unknown or malformed id. */
  async lookup(id: string): Promise<StoredFileMeta | null> {
    if (!ID_PATTERN.test(id)) return null;
    try {
      return JSON.parse(await readFile(this.metaPath(id), 'utf8')) as StoredFileMeta;
    } catch {
      return null;
    }
  }
}
