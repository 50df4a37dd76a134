/**
 * GET /files/<id>: the bytes exactly as uploaded, streamed with uWS backpressure, under
 * headers that keep a hostile file harmless on the relay's origin: the stored type with
 * nosniff, a sandbox CSP, and `attachment` for anything but plain images.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { isInline } from '../files/policy.js';
import type { FileStore } from '../files/store.js';
import type { Cors } from './cors.js';
import { json } from './reply.js';

/** GET and HEAD (`head`: the same headers, no body). */
export function serveFile(res: HttpResponse, req: HttpRequest, files: FileStore, cors: Cors, head = false): void {
  const id = req.getParameter(0) ?? '';
  const origin = req.getHeader('origin');
  let aborted = false;
  let stopStreaming = () => {};
  // uWS keeps one abort handler per response: this one also stops a running stream.
  res.onAborted(() => {
    aborted = true;
    stopStreaming();
  });
  // lookup checks that the bytes are there, at the recorded size.
  void files.lookup(id).then((meta) => {
    if (aborted) return;
    if (!meta) {
      res.cork(() => json(res, '404 Not Found', { error: 'no such file' }, { head, headers: (r) => cors.writeHeaders(r, origin) }));
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
      cors.writeHeaders(res, origin);
      if (head) {
        res.writeHeader('Content-Length', String(meta.size));
        res.endWithoutBody();
      }
    });
    if (head) return;
    const stream = streamFile(res, files.dataPath(id), meta.size, () => aborted);
    stopStreaming = () => stream.destroy();
  });
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
