/**
 * Raw HTTP/1.1 over a TCP socket for the HTTP attack tests: fetch and node:http normalise
 * or refuse exactly the malformed requests these tests need to send, and hide whether a
 * connection was kept alive or closed.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  responses: RawResponse[];
  /** How the connection ended within the wait: the relay closed it, or it was still open. */
  closed: boolean;
  /** Bytes after the last complete response (a HEAD answer must leave none). */
  trailing: Buffer;
}

/**
 * Writes `request` (one or several pipelined requests) and reads responses until `count`
 * complete ones arrived and `settleMs` passed without more bytes, or the relay closed the
 * connection, or `timeoutMs` ran out. `heads[i]` says the i-th request was a HEAD (its answer
 * has headers only, whatever its Content-Length says).
 */
export async function exchange(
  port: number,
  request: string | Buffer | Array<string | Buffer>,
  options: { count?: number; heads?: boolean[]; settleMs?: number; timeoutMs?: number } = {},
): Promise<RawExchange> {
  const { count = 1, heads = [], settleMs = 150, timeoutMs = 5000 } = options;
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let buffer = Buffer.alloc(0);
  let closed = false;
  const responses: RawResponse[] = [];
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const part of Array.isArray(request) ? request : [request]) socket.write(part);
  await new Promise<void>((resolve) => {
    let settle: NodeJS.Timeout | undefined;
    const deadline = setTimeout(finish, timeoutMs);
    function finish() {
      clearTimeout(deadline);
      clearTimeout(settle);
      resolve();
    }
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        const parsed = parseResponse(buffer, heads[responses.length] ?? false);
        if (!parsed) break;
        responses.push(parsed.response);
        buffer = buffer.subarray(parsed.length);
      }
      clearTimeout(settle);
      if (responses.length >= count) settle = setTimeout(finish, settleMs);
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
  });
  socket.destroy();
  return { responses, closed, trailing: buffer };
}

function parseResponse(buffer: Buffer, head: boolean): { response: RawResponse; length: number } | null {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const bodyLength = head || status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
  if (buffer.length < end + 4 + bodyLength) return null;
  return {
    response: { status, headers, body: buffer.subarray(end + 4, end + 4 + bodyLength) },
    length: end + 4 + bodyLength,
  };
}

/**
 * Opens a connection and sends `head` (a request line and headers, or anything); the caller
 * streams the rest. `next()` resolves with the next response (`next(true)`: the answer to a
 * HEAD, headers only), or null once the connection closed without one; `pending()` are the
 * bytes received and not yet returned as a response.
 */
export async function openRequest(
  port: number,
  head: string,
): Promise<{ socket: Socket; next(isHead?: boolean): Promise<RawResponse | null>; pending(): Buffer }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  let buffer = Buffer.alloc(0);
  let closed = false;
  let wake = () => {};
  socket.on('data', (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  if (head) socket.write(head);
  return {
    socket,
    async next(isHead = false) {
      for (;;) {
        const parsed = parseResponse(buffer, isHead);
        if (parsed) {
          buffer = buffer.subarray(parsed.length);
          return parsed.response;
        }
        if (closed) return null;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    pending: () => buffer,
  };
}

/** Resolves with `promise`'s value, or with `fallback` when it takes longer than `ms`. */
export function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
