/**
 * File uploads: XMLHttpRequest rather than fetch, because only XHR reports upload progress
 * in every browser. Each upload is a small state machine (uploading → done | failed |
 * cancelled, failed → uploading on retry; waiting → uploading when the connection is back:
 * an upload started, or cut off by the network, while offline waits instead of failing); a
 * finished upload hands its FileRef to the client, which sends it as a message. An upload
 * that is not over is kept in storage through the `keep`/`forget` options (kept-uploads.ts), and
 * one taken up again after a reload comes back through `restore`, waiting.
 */
import * as v from 'valibot';
import { ErrorCode, FileRef } from '../../protocol/index.js';
import { ClientErrorCode, type ChatError } from './errors.js';
import type { KeptUpload } from './kept-uploads.js';
import type { UploadState } from './types.js';

/** The part of XMLHttpRequest used here. */
export interface XhrLike {
  readonly status: number;
  readonly responseText: string;
  readonly upload: { onprogress: ((event: { loaded: number; total?: number }) => void) | null };
  onload: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onabort: ((event: unknown) => void) | null;
  ontimeout: ((event: unknown) => void) | null;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
}

export type UploadFile = Blob & { name?: string };

export interface UploadRequest {
  url: string;
  headers: Record<string, string>;
}

export interface UploadsOptions {
  createXhr: () => XhrLike;
  /** Where and with which credentials to upload; asked again on every attempt (the relay URL may have changed). */
  request: (file: UploadFile, name: string) => UploadRequest;
  maxBytes: () => number;
  makeId: () => string;
  onChange: () => void;
  /** `reply`: the id of the message the upload's message answers; `message`: the id to send it with. */
  onDone: (file: FileRef, text: string | undefined, reply: string | undefined, message: string) => void;
  /** An upload failed: the error with the file's `name` among its parameters. */
  onError: (error: ChatError) => void;
  /** Whether an upload can start now (the relay connection is up); default: always. */
  canStart?: () => boolean;
  /** A new upload, to keep until `forget` (so that a reload can take it up again). */
  keep?: (upload: KeptUpload) => void;
  /** The upload is over: done (its message is in the outbox), cancelled or dismissed. */
  forget?: (id: string) => void;
}

export const UploadDefaults = {
  /** Uploads held at once (each holds its file in memory); more are refused (`outbox_full`). */
  maxJobs: 20,
} as const;

interface Job {
  state: UploadState;
  file: UploadFile;
  text: string | undefined;
  reply: string | undefined;
  /** The id its message is sent with, chosen at the start (kept with it). */
  message: string;
  xhr: XhrLike | null;
}

export class Uploads {
  private readonly _jobs: Job[] = [];
  private readonly _o: UploadsOptions;

  constructor(options: UploadsOptions) {
    this._o = options;
  }

  /** Uploads in progress or failed; finished and cancelled ones drop out (the message itself shows a sent file). */
  get list(): readonly UploadState[] {
    return this._jobs.map((j) => j.state);
  }

  start(file: UploadFile, text?: string, reply?: string): UploadState {
    const job: Job = {
      state: { id: this._o.makeId(), name: file.name || 'file', size: file.size, loaded: 0, state: 'waiting' },
      file,
      text: text?.trim() ? text : undefined,
      reply,
      message: this._o.makeId(),
      xhr: null,
    };
    this._jobs.push(job);
    if (this._jobs.length > UploadDefaults.maxJobs) {
      this._fail(job, ClientErrorCode.outboxFull, { max: UploadDefaults.maxJobs });
      return job.state;
    }
    // One the relay would refuse fails below, and is not worth keeping.
    if (file.size <= this._o.maxBytes()) {
      const { id, name } = job.state;
      this._o.keep?.({ id, message: job.message, name, file, ...(job.text !== undefined ? { text: job.text } : {}), ...(reply !== undefined ? { reply } : {}) });
    }
    this._beginOrWait(job);
    return job.state;
  }

  /** Uploads kept from an earlier load of the page: they wait (and begin as soon as they can). */
  restore(kept: readonly KeptUpload[]): void {
    for (const upload of kept) {
      if (this._jobs.length >= UploadDefaults.maxJobs || this._job(upload.id)) continue;
      const job: Job = {
        state: { id: upload.id, name: upload.name, size: upload.file.size, loaded: 0, state: 'waiting' },
        file: upload.file,
        text: upload.text,
        reply: upload.reply,
        message: upload.message,
        xhr: null,
      };
      this._jobs.push(job);
      this._beginOrWait(job);
    }
    this._o.onChange();
  }

  /** The connection is back: waiting uploads begin. */
  resume(): void {
    for (const job of this._jobs) if (job.state.state === 'waiting') this._beginOrWait(job);
  }

  cancel(id: string): void {
    const job = this._job(id);
    if (job?.state.state !== 'uploading' && job?.state.state !== 'waiting') return;
    this._set(job, { state: 'cancelled' });
  }

  retry(id: string): void {
    const job = this._job(id);
    if (job?.state.state !== 'failed') return;
    this._beginOrWait(job);
  }

  dismiss(id: string): void {
    const job = this._job(id);
    if (!job) return;
    if (job.state.state === 'uploading' || job.state.state === 'waiting') this._set(job, { state: 'cancelled' });
    else this._remove(job);
  }

  /** The page (or the element) goes: requests stop, kept uploads stay kept for the next load. */
  dispose(): void {
    for (const job of [...this._jobs]) {
      this._abort(job);
      this._remove(job, false);
    }
  }

  private _beginOrWait(job: Job): void {
    const max = this._o.maxBytes();
    if (job.file.size > max) return this._fail(job, ClientErrorCode.fileTooLarge, { maxBytes: max });
    if (this._o.canStart?.() === false) this._set(job, { state: 'waiting', loaded: 0, error: undefined });
    else this._begin(job);
  }

  private _begin(job: Job): void {
    this._set(job, { state: 'uploading', loaded: 0, error: undefined });
    let request: UploadRequest;
    let xhr: XhrLike;
    try {
      request = this._o.request(job.file, job.state.name);
      xhr = this._o.createXhr();
    } catch (error) {
      console.warn('chat-room: upload is not available here', error);
      this._fail(job, ClientErrorCode.internal);
      return;
    }
    job.xhr = xhr;
    const current = () => job.xhr === xhr && job.state.state === 'uploading';
    xhr.upload.onprogress = (event) => {
      if (current()) this._set(job, { loaded: Math.min(event.loaded, job.state.size) });
    };
    xhr.onload = () => {
      if (current()) this._finished(job, xhr);
    };
    xhr.onerror = xhr.ontimeout = () => {
      if (!current()) return;
      // Cut off because the connection went: it goes again when the connection is back.
      if (this._o.canStart?.() === false) this._set(job, { state: 'waiting', loaded: 0 });
      else this._fail(job, ClientErrorCode.uploadNetwork);
    };
    xhr.onabort = () => {
      if (current()) this._set(job, { state: 'cancelled' });
    };
    xhr.open('POST', request.url);
    for (const [name, value] of Object.entries(request.headers)) xhr.setRequestHeader(name, value);
    xhr.send(job.file);
  }

  private _finished(job: Job, xhr: XhrLike): void {
    switch (xhr.status) {
      case 201: {
        let body: unknown;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = undefined;
        }
        const parsed = v.safeParse(FileRef, body);
        if (!parsed.success) return this._fail(job, ClientErrorCode.uploadRefused, { status: xhr.status });
        // Sent (into the outbox, stored) before the upload is over and forgotten: a close between the two resumes the
        // upload, and its message, sent again with the same id, is stored once.
        this._o.onDone(parsed.output, job.text, job.reply, job.message);
        this._set(job, { state: 'done', loaded: job.state.size });
        return;
      }
      case 413:
        return this._fail(job, ClientErrorCode.fileTooLarge, { maxBytes: this._o.maxBytes() });
      case 401:
        return this._fail(job, ErrorCode.unauthorized);
      case 403:
        return this._fail(job, ErrorCode.forbidden);
      default:
        return this._fail(job, ClientErrorCode.uploadRefused, { status: xhr.status });
    }
  }

  private _fail(job: Job, code: string, params: Record<string, string | number> = {}): void {
    const error: ChatError = { code, params: { ...params, name: job.state.name } };
    this._set(job, { state: 'failed', error });
    this._o.onError(error);
  }

  /** The only place an upload's state changes; a new object each time, since snapshots are immutable. */
  private _set(job: Job, patch: Partial<UploadState>): void {
    const leaving = job.state.state === 'uploading' && patch.state !== undefined && patch.state !== 'uploading';
    const next: UploadState = { ...job.state, ...patch };
    if (next.error === undefined) delete next.error;
    job.state = next;
    if (leaving && next.state === 'cancelled') this._abort(job);
    if (leaving) job.xhr = null;
    if (next.state === 'done' || next.state === 'cancelled') this._remove(job);
    else this._o.onChange();
  }

  private _abort(job: Job): void {
    const xhr = job.xhr;
    job.xhr = null;
    xhr?.abort();
  }

  /** `over`: done, cancelled or dismissed, so no longer kept; not when the page goes (dispose), which keeps it for the next load. */
  private _remove(job: Job, over = true): void {
    const index = this._jobs.indexOf(job);
    if (index >= 0) this._jobs.splice(index, 1);
    if (over) this._o.forget?.(job.state.id);
    this._o.onChange();
  }

  private _job(id: string): Job | undefined {
    return this._jobs.find((j) => j.state.id === id);
  }
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const rounded = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${rounded} ${units[unit]}`;
}

/** The relay's HTTP base from its WebSocket URL: ws→http, wss→https, a trailing /ws dropped. */
export function httpBaseOf(wsUrl: string): string {
  const url = new URL(wsUrl);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  const path = url.pathname.replace(/\/ws\/?$/, '').replace(/\/$/, '');
  return `${url.origin}${path}`;
}
