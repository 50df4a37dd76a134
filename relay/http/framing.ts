/**
 * Requests whose body is framed two ways (RFC 9112 section 6.3): two Content-Length
 * headers, or Content-Length with Transfer-Encoding. uWS frames the body by the first
 * Content-Length it sees; a proxy in front of the relay may pick another, and the bytes they
 * disagree about become a request the proxy never saw (request smuggling). Such a request
 * is refused with 400 and its connection closed, since where its body ends is unknown, and
 * nothing after it on that connection is served.
 * (This uWS build already drops Content-Length + Transfer-Encoding before any route runs;
 * the check stays for a build that does not.)
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { Cors } from './cors.js';
import { json } from './reply.js';

/** Why the request's framing is ambiguous, or null when it is not. Reads the headers synchronously. */
export function ambiguousFraming(req: HttpRequest): string | null {
  let lengths = 0;
  let encodings = 0;
  // getHeader returns the first of repeated headers: only forEach sees them all.
  req.forEach((key) => {
    if (key === 'content-length') lengths++;
    else if (key === 'transfer-encoding') encodings++;
  });
  if (lengths > 1) return 'more than one Content-Length header';
  if (lengths > 0 && encodings > 0) return 'both Content-Length and Transfer-Encoding';
  return null;
}

/**
 * Refuses a request whose framing is ambiguous: 400, and the connection closed. True when
 * it did (the route must then do nothing more).
 *
 * The answer waits for the next turn of the event loop. uWS parses everything it read from
 * the socket before that: if the bytes after the body it framed already hold another request
 * (the smuggled one), uWS finds this response still pending and closes the connection
 * without running it (it does not pipeline behind an asynchronous answer); answered at
 * once, that request would run and the connection would stay open. So a smuggling attempt
 * gets a closed connection and nothing else, and a lone ambiguous request its 400.
 */
export function refuseAmbiguousFraming(res: HttpResponse, req: HttpRequest, cors?: Cors): boolean {
  const problem = ambiguousFraming(req);
  if (!problem) return false;
  // The request object dies when the handler returns: read what the answer needs now.
  const head = req.getMethod() === 'head';
  const origin = req.getHeader('origin');
  let aborted = false;
  res.onAborted(() => (aborted = true));
  setImmediate(() => {
    if (aborted) return;
    res.cork(() =>
      json(res, '400 Bad Request', { error: `ambiguous request framing: ${problem}` }, { head, close: true, headers: (r) => cors?.writeHeaders(r, origin) }),
    );
  });
  return true;
}
