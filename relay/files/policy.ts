/**
 * What the relay makes of what a client says about its file: the type it is served as, the
 * name it is shown and downloaded under, and whether a browser may render it in place.
 */
import { Limits } from '../../protocol/index.js';

const MIME_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
/** Served inline; everything else (SVG included: it can carry script) is a download. */
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);

export function cleanContentType(raw: string): string {
  const type = raw.split(';')[0]!.trim().toLowerCase();
  return MIME_PATTERN.test(type) ? type : 'application/octet-stream';
}

/** The name from X-File-Name (URI-encoded), reduced to something safe to show and to send back. */
export function cleanFileName(raw: string): string {
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    // Not valid URI encoding: keep it as sent.
  }
  name = name.replace(/[\u0000-\u001f\u007f/\\]/g, '_').trim();
  if (name === '' || name === '.' || name === '..') name = 'file';
  return Array.from(name).slice(0, Limits.maxFileNameLength).join('');
}

export function isInline(type: string): boolean {
  return INLINE_TYPES.has(type);
}
