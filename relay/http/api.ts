/**
 * /api/*: the server API's uWS route. Copies the request out synchronously (uWS request
 * objects die when the handler returns), reads a body bounded by MAX_API_BODY_BYTES, hands
 * both to relay/api and writes the answer back (corked, unless the client went away).
 *
 * No CORS headers and no preflight: the API is for the site's backend (server to server),
 * and a browser must not be able to use a key it should never hold.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { ErrorCode } from '../../protocol/index.js';
import { apiError, MAX_API_BODY_BYTES, type ApiAnswer, type ServerApi } from '../api/server-api.js';
import { endWith } from './reply.js';

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Writes an answer (call it corked when not in the request handler itself). */
function write(res: HttpResponse, answer: ApiAnswer, { head = false, close = false } = {}): void {
  res.writeStatus(`${answer.status} ${STATUS_TEXT[answer.status] ?? ''}`.trim());
  res.writeHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.writeHeader(name, value);
  if (answer.body === undefined) {
    res.endWithoutBody(0, close);
    return;
  }
  res.writeHeader('Content-Type', 'application/json');
  endWith(res, JSON.stringify(answer.body), { head, close });
}

/** Handles one /api/* request; `api` null = CHAT_API_KEY unset: the API does not exist (404). */
export function handleApi(res: HttpResponse, req: HttpRequest, api: ServerApi | null): void {
  const method = req.getMethod().toUpperCase();
  const head = method === 'HEAD';
  if (!api) return write(res, apiError(404, ErrorCode.notFound, 'not found'), { head });
  const path = req.getUrl();
  const query = req.getQuery() ?? '';
  const authorization = req.getHeader('authorization');
  const declared = req.getHeader('content-length');
  const chunked = req.getHeader('transfer-encoding') !== '';
  if (declared !== '' && !(Number(declared) <= MAX_API_BODY_BYTES)) {
    // Not read at all: answered and the connection closed (its rest would be parsed as a request).
    return write(res, apiError(413, ErrorCode.tooLarge, `the body is larger than ${MAX_API_BODY_BYTES} bytes`), { head, close: true });
  }

  let gone = false;
  res.onAborted(() => (gone = true));
  const run = (body: Buffer) =>
    void api.handle({ method, path, query, authorization, body }).then(
      (answer) => {
        if (!gone) res.cork(() => write(res, answer, { head }));
      },
      () => {
        if (!gone) res.cork(() => write(res, apiError(500, ErrorCode.internal, 'internal error'), { head }));
      },
    );

  // A request without a body (no length, not chunked, or length 0) is handled at once.
  if (!chunked && (declared === '' || declared === '0')) return run(Buffer.alloc(0));
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  res.onData((chunk, isLast) => {
    if (refused || gone) return;
    size += chunk.byteLength;
    if (size > MAX_API_BODY_BYTES) {
      // A chunked body that grew past the bound: answer now, close, read no more.
      refused = true;
      res.cork(() => write(res, apiError(413, ErrorCode.tooLarge, `the body is larger than ${MAX_API_BODY_BYTES} bytes`), { close: true }));
      return;
    }
    // uWS reuses the chunk's memory once this callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
    if (isLast) run(Buffer.concat(chunks, size));
  });
}
