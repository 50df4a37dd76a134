/**
 * The widget bundle at /chat-room.js (any page may embed it), the chunks it loads on demand
 * at /chat-room/<name> (content-hashed names, so cached for good), and the demo pages. All
 * are read from disk off the event loop; a bundle file is kept in memory, gzipped once, and
 * reloaded when its file changes (a rebuild while the relay runs).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { endWith, notFound } from './reply.js';

const DEMO_PAGES: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/embed.html': 'embed.html' };

interface LoadedBundle {
  raw: Buffer;
  gzip: Buffer;
  etag: string;
  mtimeMs: number;
}

/** The entry is revalidated every few minutes: its name stays, its content changes with each release. */
const ENTRY_CACHE = 'public, max-age=300, must-revalidate';
/** A chunk's name carries a hash of its content: it never changes under that name. */
const CHUNK_CACHE = 'public, max-age=31536000, immutable';
/** Chunk file names the relay serves (nothing with a slash, so nothing outside the chunk folder). */
const CHUNK_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.js(\.map)?$/;
/** Chunks kept in memory at once (a build has a handful; a flood of names cannot grow this). */
const MAX_CACHED_CHUNKS = 64;

export class WidgetBundle {
  private _loaded: LoadedBundle | null = null;
  private readonly _chunks = new Map<string, WidgetBundle>();

  constructor(
    private readonly _path: string,
    private readonly _cacheControl = ENTRY_CACHE,
  ) {}

  /** GET and HEAD of /chat-room/<name>: a chunk of the widget from the folder beside the entry; 404 for any other name. */
  serveChunk(res: HttpResponse, req: HttpRequest, head = false): void {
    const name = req.getParameter(0) ?? '';
    if (!CHUNK_NAME.test(name)) return notFound(res, head);
    let chunk = this._chunks.get(name);
    if (!chunk) {
      if (this._chunks.size >= MAX_CACHED_CHUNKS) this._chunks.delete(this._chunks.keys().next().value!);
      chunk = new WidgetBundle(join(dirname(this._path), 'chat-room', name), CHUNK_CACHE);
      this._chunks.set(name, chunk);
    }
    chunk.serve(res, req, head);
  }

  /** GET and HEAD (`head`: the same headers, no body). */
  serve(res: HttpResponse, req: HttpRequest, head = false): void {
    const ifNoneMatch = req.getHeader('if-none-match');
    const gzip = /\bgzip\b/.test(req.getHeader('accept-encoding'));
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void Promise.resolve(this._load()).then((bundle) => {
      if (aborted) return;
      res.cork(() => {
        if (!bundle) {
          res.writeStatus('404 Not Found').writeHeader('Content-Type', 'text/plain');
          endWith(res, this._cacheControl === ENTRY_CACHE ? 'widget bundle not built: run `npm run build:widget`' : 'not found', { head });
          return;
        }
        // uWS sends the status line with the first header: the status must come first.
        const notModified = ifNoneMatch === bundle.etag;
        res.writeStatus(notModified ? '304 Not Modified' : '200 OK');
        // Module scripts load in CORS mode from any embedding page.
        res.writeHeader('Access-Control-Allow-Origin', '*');
        res.writeHeader('Cache-Control', this._cacheControl).writeHeader('ETag', bundle.etag);
        res.writeHeader('Vary', 'Accept-Encoding');
        if (notModified) {
          res.endWithoutBody();
          return;
        }
        res.writeHeader('Content-Type', this._path.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8');
        if (gzip) res.writeHeader('Content-Encoding', 'gzip');
        endWith(res, gzip ? bundle.gzip : bundle.raw, { head });
      });
    });
  }

  private _load(): LoadedBundle | Promise<LoadedBundle> | null {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this._path).mtimeMs;
    } catch {
      return null;
    }
    if (this._loaded?.mtimeMs !== mtimeMs) {
      return readFile(this._path).then((raw) => {
        const etag = `"${createHash('sha256').update(raw).digest('base64url').slice(0, 27)}"`;
        this._loaded = { raw, gzip: gzipSync(raw, { level: 9 }), etag, mtimeMs };
        return this._loaded;
      });
    }
    return this._loaded;
  }
}

/** GET and HEAD (`head`: the same headers, no body). */
export function serveDemo(res: HttpResponse, req: HttpRequest, demoDir: string, head = false): void {
  const page = DEMO_PAGES[req.getUrl()];
  if (!page) return notFound(res, head);
  let aborted = false;
  res.onAborted(() => (aborted = true));
  readFile(join(demoDir, page)).then(
    (html) => {
      if (aborted) return;
      res.cork(() => {
        res.writeHeader('Content-Type', 'text/html; charset=utf-8').writeHeader('Cache-Control', 'no-cache');
        endWith(res, html, { head });
      });
    },
    () => {
      if (aborted) return;
      res.cork(() => endWith(res.writeStatus('404 Not Found'), 'demo page missing', { head }));
    },
  );
}
