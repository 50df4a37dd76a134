/**
 * The widget bundle at /chat-room.js (any page may embed it) and the demo pages. Both are
 * read from disk off the event loop; the bundle is kept in memory, gzipped once, and reloaded
 * when its file changes (a rebuild while the relay runs).
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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

export class WidgetBundle {
  private _loaded: LoadedBundle | null = null;

  constructor(private readonly _path: string) {}

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
          res.endWithoutBody();
          return;
        }
        res.writeHeader('Content-Type', 'text/javascript; charset=utf-8');
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
