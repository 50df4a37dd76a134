/** Small answers shared by the routes. */
import type { HttpResponse } from 'uWebSockets.js';

/** A JSON answer; `extra` writes more headers (CORS) after the status line. Call it corked. */
export function json(res: HttpResponse, status: string, body: object, extra?: (res: HttpResponse) => void, closeConnection = false): void {
  res.writeStatus(status).writeHeader('Content-Type', 'application/json');
  extra?.(res);
  res.end(JSON.stringify(body), closeConnection);
}

export function notFound(res: HttpResponse): void {
  json(res, '404 Not Found', { error: 'not found' });
}
