/**
 * Transport wiring only: uWebSockets.js routes and handlers that copy what they need out
 * of the request synchronously (uWS request objects die when the handler returns) and
 * hand it to the hub, the auth and the file store. No chat rules live here.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync, type ReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';
import { CloseCode, ID_PATTERN, Limits } from '../protocol/index.js';
import { AuthError, canAccess, type Authenticator, type Identity } from './hub/handshake.js';
import { SendResult, type Hub, type Logger, type Session } from './hub.js';
import { cleanContentType, cleanFileName, isInline, UploadTooLargeError, type FileStore, type UploadWriter } from './uploads.js';
import type { Uws } from './uws.js';

export interface ServerOptions {
  uws: Uws;
  hub: Hub;
  auth: Authenticator;
  files: FileStore;
  logger: Logger;
  allowedOrigins: readonly string[] | undefined;
  maxUploadBytes: number;
  widgetBundle: string;
  demoDir: string;
}

interface SocketData {
  session?: Session;
  originRejected: boolean;
}

/**
 * uWS drops a connection whose frame exceeds maxPayloadLength without a close frame, so
 * it is set above the protocol's 64 KiB: the hub then answers `too_large` and closes with
 * 1009 itself. Only frames over this hard limit get the abrupt treatment.
 */
const HARD_FRAME_LIMIT = 16 * Limits.maxFrameBytes;
const MAX_BACKPRESSURE = 1024 * 1024;
/**
 * A refused upload's unread body up to this size is read and thrown away before answering,
 * as nginx's lingering close does: a client still sending would otherwise see a reset
 * (EPIPE) instead of the 413. Beyond it the relay answers and closes.
 */
const DISCARD_LIMIT = 8 * 1024 * 1024;
const DEMO_PAGES: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/embed.html': 'embed.html' };

export class RelayServer {
  private readonly _app: TemplatedApp;
  private _listenSocket: us_listen_socket | null = null;
  private _bundle: { raw: Buffer; gzip: Buffer; etag: string; mtimeMs: number } | null = null;

  constructor(private readonly _o: ServerOptions) {
    this._app = _o.uws.App();
    this._routes();
  }

  /**
   * Listens, retrying while the port is busy. This uWS build binds without SO_REUSEADDR,
   * so after a restart the port stays unusable while the previous process's closed
   * connections sit in TIME_WAIT (up to 60 s on Linux); retrying turns that into a short
   * wait instead of a failed restart.
   */
  async listen(host: string, port: number, retryForMs = 90_000): Promise<number> {
    const deadline = Date.now() + retryForMs;
    for (let attempt = 0; ; attempt++) {
      const socket = await new Promise<us_listen_socket | false>((resolve) => this._app.listen(host, port, resolve));
      if (socket) {
        this._listenSocket = socket;
        return this._o.uws.us_socket_local_port(socket as never);
      }
      if (port === 0 || Date.now() >= deadline) throw new Error(`cannot listen on ${host}:${port}`);
      if (attempt === 0) {
        this._o.logger.warn({ host, port }, 'port busy (in use, or closed connections of a previous run in TIME_WAIT); retrying for up to 90 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /** Stops accepting connections; open ones are closed by the hub. */
  stopListening(): void {
    if (this._listenSocket) this._o.uws.us_listen_socket_close(this._listenSocket);
    this._listenSocket = null;
  }

  private _originAllowed(origin: string): boolean {
    const allowed = this._o.allowedOrigins;
    // Non-browser clients send no Origin; cross-site protection is about browsers.
    return !allowed || origin === '' || allowed.includes(origin.replace(/\/$/, ''));
  }

  private _routes(): void {
    const { uws, hub } = this._o;
    this._app.ws<SocketData>('/ws', {
      compression: uws.DISABLED,
      maxPayloadLength: HARD_FRAME_LIMIT,
      idleTimeout: 60,
      sendPingsAutomatically: true,
      maxBackpressure: MAX_BACKPRESSURE,
      // Frames dropped for a slow client are repaired with `resync`, not by disconnecting it.
      closeOnBackpressureLimit: 0,
      upgrade: (res, req, context) => {
        const origin = req.getHeader('origin');
        res.upgrade<SocketData>(
          { originRejected: !this._originAllowed(origin) },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        const data = ws.getUserData();
        // Upgraded then closed, so that browsers (which hide a refused upgrade's status) see why.
        if (data.originRejected) return ws.end(CloseCode.originNotAllowed, 'origin not allowed');
        data.session = hub.open(adapt(ws));
      },
      message: (ws, message, isBinary) => {
        const session = ws.getUserData().session;
        if (!session) return;
        hub.message(session, isBinary ? null : Buffer.from(message).toString('utf8'));
      },
      drain: (ws) => {
        const session = ws.getUserData().session;
        if (session) hub.drained(session);
      },
      close: (ws) => {
        const data = ws.getUserData();
        if (data.session) hub.closed(data.session);
        data.session = undefined;
      },
    });

    this._app.get('/healthz', (res) => {
      res.writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
      res.end(JSON.stringify({ status: 'ok', connections: hub.sessionCount }));
    });
    this._app.get('/chat-room.js', (res, req) => this._serveBundle(res, req));
    this._app.options('/upload', (res, req) => this._preflight(res, req, 'POST, OPTIONS'));
    this._app.post('/upload', (res, req) => this._upload(res, req));
    this._app.options('/files/:id', (res, req) => this._preflight(res, req, 'GET, OPTIONS'));
    this._app.get('/files/:id', (res, req) => this._serveFile(res, req));
    this._app.get('/*', (res, req) => this._serveDemo(res, req));
    this._app.any('/*', (res) => {
      res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ error: 'not found' }));
    });
  }

  // ------------------------------------------------------------------ CORS

  private _cors(res: HttpResponse, origin: string): void {
    if (!this._o.allowedOrigins) res.writeHeader('Access-Control-Allow-Origin', '*');
    else if (origin && this._originAllowed(origin)) {
      res.writeHeader('Access-Control-Allow-Origin', origin).writeHeader('Vary', 'Origin');
    }
  }

  private _preflight(res: HttpResponse, req: HttpRequest, methods: string): void {
    const origin = req.getHeader('origin');
    if (!this._originAllowed(origin)) {
      res.writeStatus('403 Forbidden').end();
      return;
    }
    res.writeStatus('204 No Content');
    this._cors(res, origin);
    res
      .writeHeader('Access-Control-Allow-Methods', methods)
      .writeHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-File-Name, X-Chat-User')
      .writeHeader('Access-Control-Max-Age', '86400')
      .end();
  }

  // ------------------------------------------------------------------ uploads

  private _upload(res: HttpResponse, req: HttpRequest): void {
    const origin = req.getHeader('origin');
    const conv = req.getQuery('conv') ?? '';
    const authorization = req.getHeader('authorization');
    const chatUser = req.getHeader('x-chat-user');
    const type = cleanContentType(req.getHeader('content-type'));
    const name = cleanFileName(req.getHeader('x-file-name') || 'file');
    const declaredLength = req.getHeader('content-length');
    const max = this._o.maxUploadBytes;

    let done = false;
    let writer: UploadWriter | null = null;
    let pending: Buffer[] | null = [];
    let ended = false;
    let paused = false;
    const pause = () => {
      paused = true;
      res.pause();
    };
    const resume = () => {
      if (!paused) return;
      paused = false;
      res.resume();
    };
    const reply = (status: string, body: object, closeConnection = false) => {
      if (done) return;
      done = true;
      // A response on a paused socket would leave this keep-alive connection deaf to its next request.
      resume();
      res.cork(() => {
        res.writeStatus(status).writeHeader('Content-Type', 'application/json');
        this._cors(res, origin);
        res.end(JSON.stringify(body), closeConnection);
      });
    };
    let discarding: { status: string; message: string; budget: number } | null = null;
    let received = 0;
    const fail = (status: string, message: string) => {
      void writer?.abort();
      writer = null;
      if (ended) return reply(status, { error: message });
      // Refused before the body was read. A small rest is read and thrown away, so the
      // client gets a clean answer on a live connection; a large one is not worth reading:
      // answer and close (or the rest of the body would be parsed as the next request).
      const remaining = declaredLength ? Number(declaredLength) - received : 0; // chunked: unknown, try
      if (remaining <= DISCARD_LIMIT && !discarding) {
        discarding = { status, message, budget: DISCARD_LIMIT };
        pending = null;
        resume();
        return;
      }
      reply(status, { error: message }, true);
    };
    res.onAborted(() => {
      done = true;
      void writer?.abort();
    });

    const take = (chunk: Buffer) => {
      try {
        if (writer && !writer.write(chunk)) {
          pause();
          writer.onDrain(() => !done && resume());
        }
      } catch (error) {
        if (error instanceof UploadTooLargeError) fail('413 Payload Too Large', error.message);
        else throw error;
      }
    };
    const finish = () => {
      if (done || !writer) return;
      writer.commit().then(
        (file) => reply('201 Created', file),
        (error: unknown) => {
          this._o.logger.error({ err: error }, 'upload failed');
          fail('500 Internal Server Error', 'could not store the file');
        },
      );
    };

    res.onData((chunk, isLast) => {
      if (done) return;
      received += chunk.byteLength;
      if (discarding) {
        discarding.budget -= chunk.byteLength;
        if (isLast) {
          ended = true;
          reply(discarding.status, { error: discarding.message });
        } else if (discarding.budget < 0) reply(discarding.status, { error: discarding.message }, true);
        return;
      }
      // uWS reuses the chunk's memory once this callback returns: copy it.
      const copy = Buffer.from(new Uint8Array(chunk).slice());
      ended = isLast;
      if (pending) pending.push(copy);
      else take(copy);
      if (isLast && !pending) finish();
    });
    if (!this._originAllowed(origin)) return fail('403 Forbidden', 'origin not allowed');
    if (declaredLength && Number(declaredLength) > max) return fail('413 Payload Too Large', `file is larger than ${max} bytes`);
    if (!ID_PATTERN.test(conv)) return fail('400 Bad Request', 'conv query parameter missing or invalid');

    // Credentials are checked asynchronously; the body waits, paused, meanwhile.
    pause();
    void this._identify(authorization, chatUser).then(
      (identity) => {
        if (done || discarding) return;
        if (!canAccess(identity, conv)) return fail('403 Forbidden', `not allowed to upload to ${conv}`);
        writer = this._o.files.begin({ name, type, conv, uploader: identity.user.id }, max);
        const buffered = pending ?? [];
        pending = null;
        resume();
        for (const chunk of buffered) take(chunk);
        if (ended) finish();
      },
      (error: unknown) => fail('401 Unauthorized', error instanceof AuthError ? error.message : 'unauthorized'),
    );
  }

  private async _identify(authorization: string, chatUser: string): Promise<Identity> {
    return this._o.auth.fromHttpHeaders({ authorization, chatUser });
  }

  // ------------------------------------------------------------------ downloads

  private _serveFile(res: HttpResponse, req: HttpRequest): void {
    const id = req.getParameter(0) ?? '';
    const origin = req.getHeader('origin');
    let aborted = false;
    let stopStreaming = () => {};
    // uWS keeps one abort handler per response: this one also stops a running stream.
    res.onAborted(() => {
      aborted = true;
      stopStreaming();
    });
    void this._o.files.lookup(id).then(async (meta) => {
      const size = meta ? await stat(this._o.files.dataPath(id)).then((s) => s.size, () => -1) : -1;
      if (aborted) return;
      if (!meta || size < 0) {
        res.cork(() => {
          res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json');
          this._cors(res, origin);
          res.end(JSON.stringify({ error: 'no such file' }));
        });
        return;
      }
      const disposition = isInline(meta.type) ? 'inline' : 'attachment';
      res.cork(() => {
        res
          .writeStatus('200 OK')
          .writeHeader('Content-Type', meta.type)
          .writeHeader('X-Content-Type-Options', 'nosniff')
          .writeHeader('Content-Security-Policy', 'sandbox')
          .writeHeader('Content-Disposition', `${disposition}; filename*=UTF-8''${encodeURIComponent(meta.name)}`)
          .writeHeader('Cache-Control', 'private, max-age=31536000, immutable');
        this._cors(res, origin);
      });
      const stream = streamFile(res, this._o.files.dataPath(id), size, () => aborted);
      stopStreaming = () => stream.destroy();
    });
  }

  // ------------------------------------------------------------------ static

  private _loadBundle() {
    const path = this._o.widgetBundle;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      return null;
    }
    if (this._bundle?.mtimeMs !== mtimeMs) {
      return readFile(path).then((raw) => {
        const etag = `"${createHash('sha256').update(raw).digest('base64url').slice(0, 27)}"`;
        this._bundle = { raw, gzip: gzipSync(raw, { level: 9 }), etag, mtimeMs };
        return this._bundle;
      });
    }
    return this._bundle;
  }

  private _serveBundle(res: HttpResponse, req: HttpRequest): void {
    const ifNoneMatch = req.getHeader('if-none-match');
    const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'));
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void Promise.resolve(this._loadBundle()).then((bundle) => {
      if (aborted) return;
      res.cork(() => {
        if (!bundle) {
          res.writeStatus('404 Not Found').writeHeader('Content-Type', 'text/plain');
          res.end('widget bundle not built: run `npm run build:widget`');
          return;
        }
        // uWS sends the status line with the first header: the status must come first.
        const notModified = ifNoneMatch === bundle.etag;
        res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
        // Module scripts load in CORS mode from any embedding page.
        res.writeHeader('Access-Control-Allow-Origin', '*');
        res.writeHeader('Cache-Control', 'public, max-age=300, must-revalidate').writeHeader('ETag', bundle.etag);
        res.writeHeader('Vary', 'Accept-Encoding');
        if (notModified) {
          res.endWithoutBody(0);
          return;
        }
        res.writeHeader('Content-Type', 'text/javascript; charset=utf-8');
        if (gzip) res.writeHeader('Content-Encoding', 'gzip').end(bundle.gzip);
        else res.end(bundle.raw);
      });
    });
  }

  private _serveDemo(res: HttpResponse, req: HttpRequest): void {
    const page = DEMO_PAGES[req.getUrl()];
    if (!page) {
      res.writeStatus('404 Not Found').writeHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ error: 'not found' }));
      return;
    }
    let aborted = false;
    res.onAborted(() => (aborted = true));
    readFile(join(this._o.demoDir, page)).then(
      (html) => {
        if (aborted) return;
        res.cork(() => {
          res.writeHeader('Content-Type', 'text/html; charset=utf-8').writeHeader('Cache-Control', 'no-cache').end(html);
        });
      },
      () => {
        if (aborted) return;
        res.cork(() => res.writeStatus('404 Not Found').end('demo page missing'));
      },
    );
  }
}

/** Adapts a uWS socket to the hub's WebSocketLike. */
function adapt(ws: WebSocket<SocketData>) {
  let open = true;
  return {
    send(text: string): SendResult {
      if (!open) return SendResult.dropped;
      const status = ws.send(text, false);
      return status === 1 ? SendResult.sent : status === 0 ? SendResult.buffered : SendResult.dropped;
    },
    close(code: number, reason: string): void {
      if (!open) return;
      open = false;
      ws.end(code, reason);
    },
    bufferedAmount(): number {
      return open ? ws.getBufferedAmount() : 0;
    },
  };
}

/** Streams a file with uWS backpressure (tryEnd/onWritable), never holding it whole in memory. */
function streamFile(res: HttpResponse, path: string, size: number, isAborted: () => boolean): ReadStream {
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  if (size === 0) {
    res.cork(() => res.end());
    stream.destroy();
    return stream;
  }
  stream.on('error', () => {
    if (!isAborted()) res.cork(() => res.close());
  });
  stream.on('data', (data: Buffer | string) => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    if (isAborted()) return stream.destroy();
    const offset = res.getWriteOffset();
    let ok = false;
    let finished = false;
    res.cork(() => ([ok, finished] = res.tryEnd(chunk, size)));
    if (finished) return stream.destroy();
    if (ok) return;
    stream.pause();
    res.onWritable((writeOffset) => {
      const [retryOk, retryDone] = res.tryEnd(chunk.subarray(writeOffset - offset), size);
      if (retryDone) stream.destroy();
      else if (retryOk) stream.resume();
      return retryOk;
    });
  });
  return stream;
}
