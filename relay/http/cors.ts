/**
 * Origins: ALLOWED_ORIGINS unset lets any page embed the widget (tokens, not cookies, carry
 * identity); set, it is the allow-list for CORS and for the WebSocket upgrade alike.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-File-Name, X-Chat-User';

export class Cors {
  constructor(private readonly _allowed: readonly string[] | undefined) {}

  allows(origin: string): boolean {
    // Non-browser clients send no Origin; cross-site protection is about browsers.
    return !this._allowed || origin === '' || this._allowed.includes(origin.replace(/\/$/, ''));
  }

  /** The CORS headers of an answer to a request from `origin`. */
  writeHeaders(res: HttpResponse, origin: string): void {
    if (!this._allowed) res.writeHeader('Access-Control-Allow-Origin', '*');
    else if (origin && this.allows(origin)) {
      res.writeHeader('Access-Control-Allow-Origin', origin).writeHeader('Vary', 'Origin');
    }
  }

  /** Answers an OPTIONS preflight for a route that takes `methods`. */
  preflight(res: HttpResponse, req: HttpRequest, methods: string): void {
    const origin = req.getHeader('origin');
    if (!this.allows(origin)) {
      res.writeStatus('403 Forbidden').end();
      return;
    }
    res.writeStatus('204 No Content');
    this.writeHeaders(res, origin);
    res
      .writeHeader('Access-Control-Allow-Methods', methods)
      .writeHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS)
      .writeHeader('Access-Control-Max-Age', '86400')
      .end();
  }
}
