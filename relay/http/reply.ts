/** Small answers shared by the routes, for GET and HEAD alike. */
import type { HttpResponse } from 'uWebSockets.js';

export interface ReplyOptions {
  /** A HEAD request: the same status and headers, Content-Length included, and no body. */
  head?: boolean;
  /** More headers (CORS), written after the status line and Content-Type. */
  headers?: (res: HttpResponse) => void;
  /** Close the connection after the answer. */
  close?: boolean;
}

/** A JSON answer. Call it corked when not in the request handler itself. */
export function json(res: HttpResponse, status: string, body: object, options: ReplyOptions = {}): void {
  res.writeStatus(status).writeHeader('Content-Type', 'application/json');
  options.headers?.(res);
  endWith(res, JSON.stringify(body), options);
}

/** Ends the response with `body`, or, for HEAD, with the Content-Length `body` would have and no body. */
export function endWith(res: HttpResponse, body: string | Uint8Array, { head = false, close = false }: ReplyOptions = {}): void {
  if (!head) {
    res.end(body, close);
  } else if (close) {
    // This uWS build (20.30) cannot report a length and close: endWithoutBody(n) with n > 0
    // leaves the response unfinished. A HEAD answer that closes the connection says 0.
    res.endWithoutBody(0, true);
  } else {
    res.writeHeader('Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
    res.endWithoutBody();
  }
}

export function notFound(res: HttpResponse, head = false): void {
  json(res, '404 Not Found', { error: 'not found' }, { head });
}
