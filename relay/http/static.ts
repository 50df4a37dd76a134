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
import { notFound } from './reply.js';

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

  serve(res: HttpResponse, req: HttpRequest): void {
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
          res.endWithoutBody(0);
          return;
        }
        res.writeHeader('Content-Type', 'text/javascript; charset=utf-8');
        if (gzip) res.writeHeader('Content-Encoding', 'gzip').end(bundle.gzip);
        else res.end(bundle.raw);
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

export function serveDemo(res: HttpResponse, req: HttpRequest, demoDir: string): void {
  const page = DEMO_PAGES[req.getUrl()];
  if (!page) return notFound(res);
  let aborted = false;
  res.onAborted(() => (aborted = true));
  readFile(join(demoDir, page)).then(
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
