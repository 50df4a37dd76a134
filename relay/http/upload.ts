/**
 * POST /upload: one state machine per request.
 *
 *   authenticating ──> receiving ──> committing ──> done
 *         │                │              │
 *         └──> discarding <┘              │
 *                  │                      │
 *                  └──────────> done <────┘
 *
 * - authenticating: credentials are checked asynchronously; the socket is paused and the
 *   few chunks already read wait in memory.
 * - receiving: the body streams into the file store; the socket is paused while the disk
 *   lags behind (`waitingForDisk`).
 * - discarding: the upload was refused before its body ended. A small rest is read and
 *   thrown away before answering, as nginx's lingering close does: a client still sending
 *   would otherwise see a reset (EPIPE) instead of the answer. A large rest is not worth
 *   reading: answer and close (or the rest would be parsed as the next request).
 * - committing: the body is complete; the file store moves it into place.
 * - done: answered, or the client went away.
 *
 * A write error (disk full, no file descriptor left) in receiving or committing is answered
 * at once (507 for a full disk, 500 otherwise) after the file store removed the partial
 * file; a body still arriving is then read and dropped (see _onWriteError).
 *
 * `_setState` is the only place the state changes; it also pauses and resumes the socket to
 * match the new state and throws away a partial file the new state no longer holds.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ID_PATTERN } from '../../protocol/index.js';
import { cleanContentType, cleanFileName } from '../files/policy.js';
import { isOutOfSpace, UploadTooLargeError, type FileStore, type UploadWriter } from '../files/store.js';
import { AuthError, canAccess, type Authenticator, type Identity, type Logger } from '../hub/index.js';
import type { Cors } from './cors.js';
import { json } from './reply.js';

/** The most of a refused upload's body that is read and thrown away to answer on a live connection. */
const DISCARD_LIMIT = 8 * 1024 * 1024;

export interface UploadOptions {
  files: FileStore;
  auth: Authenticator;
  cors: Cors;
  logger: Logger;
  maxUploadBytes: number;
  /** Told the size of every file stored (metrics). */
  onStored?: (bytes: number) => void;
  /**
   * Why `identity` may not upload to `conv` (the token's conversations, a ban), or null; the
   * token's conversations alone when absent.
   */
  refusal?: (identity: Identity, conv: string) => Promise<{ code: string; message: string } | null>;
}

interface Answer {
  status: string;
  body: object;
}

type UploadState =
  | { name: 'authenticating'; pending: Buffer[] }
  | { name: 'receiving'; writer: UploadWriter; waitingForDisk: boolean }
  /** `answer` null: already answered (after a write error); the rest of the body is only read. */
  | { name: 'discarding'; answer: Answer | null; budget: number }
  | { name: 'committing'; writer: UploadWriter }
  /** `socket: 'gone'`: the client went away, and `res` may no longer be touched. */
  | { name: 'done'; socket: 'open' | 'gone' };

export function handleUpload(res: HttpResponse, req: HttpRequest, options: UploadOptions): void {
  new UploadRequest(res, req, options);
}

class UploadRequest {
  private _state: UploadState = { name: 'authenticating', pending: [] };
  /** Facts about the body as it arrives (whatever the state): bytes so far, and whether it ended. */
  private _received = 0;
  private _bodyComplete = false;
  private readonly _origin: string;
  private readonly _declaredLength: number | null;

  constructor(
    private readonly _res: HttpResponse,
    req: HttpRequest,
    private readonly _o: UploadOptions,
  ) {
    // Everything is copied out of the request now: it is dead once this handler returns.
    this._origin = req.getHeader('origin');
    const conv = req.getQuery('conv') ?? '';
    const authorization = req.getHeader('authorization');
    const chatUser = req.getHeader('x-chat-user');
    const type = cleanContentType(req.getHeader('content-type'));
    const name = cleanFileName(req.getHeader('x-file-name') || 'file');
    const declared = req.getHeader('content-length');
    this._declaredLength = declared ? Number(declared) : null;

    _res.onAborted(() => this._setState({ name: 'done', socket: 'gone' }));
    _res.onData((chunk, isLast) => this._onData(chunk, isLast));
    // The state starts as authenticating, with the socket paused to match.
    _res.pause();

    this._begin(conv, { authorization, chatUser }, { name, type });
  }

  private _begin(conv: string, credentials: { authorization: string; chatUser: string }, file: { name: string; type: string }): void {
    const max = this._o.maxUploadBytes;
    if (!this._o.cors.allows(this._origin)) return this._refuse('403 Forbidden', 'origin not allowed');
    if (this._declaredLength !== null && this._declaredLength > max) return this._refuse('413 Payload Too Large', `file is larger than ${max} bytes`);
    if (!ID_PATTERN.test(conv)) return this._refuse('400 Bad Request', 'conv query parameter missing or invalid');
    void this._o.auth.fromHttpHeaders(credentials).then(
      (identity) => this._checkAccess(identity, conv, file),
      (error: unknown) => {
        if (this._state.name === 'authenticating') this._refuse('401 Unauthorized', error instanceof AuthError ? error.message : 'unauthorized');
      },
    );
  }

  // ------------------------------------------------------------------ events

  private _onData(chunk: ArrayBuffer, isLast: boolean): void {
    this._received += chunk.byteLength;
    this._bodyComplete = isLast;
    const state = this._state;
    switch (state.name) {
      case 'authenticating':
        // uWS reuses the chunk's memory once this callback returns: copy it.
        state.pending.push(Buffer.from(new Uint8Array(chunk).slice()));
        return;
      case 'receiving':
        this._write(Buffer.from(new Uint8Array(chunk).slice()));
        return;
      case 'discarding':
        state.budget -= chunk.byteLength;
        if (isLast) this._finishDiscarding(state.answer, false);
        else if (state.budget < 0) this._finishDiscarding(state.answer, true);
        return;
      case 'committing':
      case 'done':
        return;
    }
  }

  /** Still authenticating (the socket paused) while a ban is looked up. */
  private _checkAccess(identity: Identity, conv: string, file: { name: string; type: string }): void {
    const check = this._o.refusal
      ? this._o.refusal(identity, conv)
      : Promise.resolve(canAccess(identity, conv) ? null : { code: 'forbidden', message: `not allowed to upload to ${conv}` });
    check.then(
      (refusal) => {
        if (this._state.name !== 'authenticating') return;
        if (!refusal) return this._onIdentity(identity, conv, file);
        const status = refusal.code === 'unavailable' ? '503 Service Unavailable' : refusal.code === 'internal' ? '500 Internal Server Error' : '403 Forbidden';
        this._refuse(status, refusal.message);
      },
      () => {
        if (this._state.name === 'authenticating') this._refuse('500 Internal Server Error', 'internal error');
      },
    );
  }

  private _onIdentity(identity: Identity, conv: string, file: { name: string; type: string }): void {
    const state = this._state;
    if (state.name !== 'authenticating') return;
    const writer = this._o.files.begin({ ...file, conv, uploader: identity.user.id }, this._o.maxUploadBytes, (error) =>
      this._onWriteError(writer, error),
    );
    this._setState({ name: 'receiving', writer, waitingForDisk: false });
    // The chunks read before the pause; the last of them may have been the end of the body.
    for (const chunk of state.pending) this._write(chunk, false);
    if (this._bodyComplete) this._write(Buffer.alloc(0), true);
  }

  /** Hands a chunk to the file store (in receiving; a no-op once refused or failed). */
  private _write(chunk: Buffer, isLast = this._bodyComplete): void {
    const state = this._state;
    if (state.name !== 'receiving') return;
    let flowing: boolean;
    try {
      flowing = state.writer.write(chunk);
    } catch (error) {
      if (error instanceof UploadTooLargeError) return this._refuse('413 Payload Too Large', error.message);
      throw error;
    }
    if (isLast) return this._commit(state.writer);
    if (!flowing && !state.waitingForDisk) {
      this._setState({ ...state, waitingForDisk: true });
      state.writer.onDrain(() => this._onDrain(state.writer));
    }
  }

  private _onDrain(writer: UploadWriter): void {
    const state = this._state;
    if (state.name === 'receiving' && state.writer === writer && state.waitingForDisk) this._setState({ ...state, waitingForDisk: false });
  }

  private _commit(writer: UploadWriter): void {
    this._setState({ name: 'committing', writer });
    writer.commit().then(
      (file) => {
        this._o.onStored?.(file.size);
        this._answer({ status: '201 Created', body: file });
      },
      (error: unknown) => this._onWriteError(writer, error),
    );
  }

  /** The file store could not write (it has already removed the partial file): answer now. */
  private _onWriteError(writer: UploadWriter, error: unknown): void {
    const state = this._state;
    if (writerOf(state) !== writer) return;
    const full = isOutOfSpace(error);
    this._o.logger.error({ err: error, file: writer.id, received: this._received }, `upload failed: ${full ? 'out of disk space' : 'could not write the file'}`);
    const answer = full
      ? { status: '507 Insufficient Storage', body: { error: 'the relay is out of storage space' } }
      : { status: '500 Internal Server Error', body: { error: 'could not store the file' } };
    if (state.name === 'committing' || this._bodyComplete) return this._answer(answer);
    // Answered at once. The rest of a body of known length (at most the upload limit: a larger
    // one was refused before) is then read and dropped: closing on a client still sending
    // would reset the connection, and it might never see the answer. A chunked body's rest is
    // unknown: the answer closes the connection.
    if (this._declaredLength === null) return this._answer(answer, true);
    this._answer(answer, false, { name: 'discarding', answer: null, budget: this._declaredLength - this._received });
  }

  private _finishDiscarding(answer: Answer | null, overBudget: boolean): void {
    if (answer) return this._answer(answer, overBudget);
    // Answered already; the budget was the declared rest, which uWS never exceeds.
    this._setState({ name: 'done', socket: 'open' });
  }

  /** Refuses the upload: at once when its body is in, else after discarding a small rest (see the top). */
  private _refuse(status: string, message: string): void {
    const answer = { status, body: { error: message } };
    if (this._bodyComplete) return this._answer(answer);
    const remaining = this._declaredLength !== null ? this._declaredLength - this._received : 0; // chunked: unknown, try
    if (remaining <= DISCARD_LIMIT) this._setState({ name: 'discarding', answer, budget: DISCARD_LIMIT });
    else this._answer(answer, true);
  }

  /** Answers, and moves to `then` (done unless the rest of the body is still to be read). */
  private _answer({ status, body }: Answer, closeConnection = false, then: UploadState = { name: 'done', socket: 'open' }): void {
    if (this._state.name === 'done') return;
    this._setState(then);
    this._res.cork(() => json(this._res, status, body, { headers: (res) => this._o.cors.writeHeaders(res, this._origin), close: closeConnection }));
  }

  // ------------------------------------------------------------------ the one state change

  private _setState(next: UploadState): void {
    const previous = this._state;
    if (previous.name === 'done') return;
    this._state = next;
    const oldWriter = writerOf(previous);
    if (oldWriter && oldWriter !== writerOf(next)) void oldWriter.abort();
    if (next.name === 'done' && next.socket === 'gone') return;
    // A response on a paused socket would leave this keep-alive connection deaf to its next request.
    const wasPaused = socketPaused(previous);
    const paused = socketPaused(next);
    if (paused && !wasPaused) this._res.pause();
    else if (!paused && wasPaused) this._res.resume();
  }
}

function writerOf(state: UploadState): UploadWriter | null {
  return state.name === 'receiving' || state.name === 'committing' ? state.writer : null;
}

function socketPaused(state: UploadState): boolean {
  return state.name === 'authenticating' || (state.name === 'receiving' && state.waitingForDisk);
}
