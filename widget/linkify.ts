/**
 * Links in message text: http(s) URLs, `www.` addresses and e-mail addresses become links;
 * nothing else does (no `javascript:`, `data:`, `file:` …), and the text is never read as
 * HTML: `linkify` returns plain pieces, `linkified` renders them as text nodes and anchors.
 */
import { html, type TemplateResult } from 'lit';

export interface LinkPiece {
  /** What the link says: the text exactly as written. */
  text: string;
  /** Where it goes: an absolute http(s) or mailto URL. */
  href: string;
}
export type Piece = string | LinkPiece;

/**
 * A candidate: a scheme URL, a www. address, or an e-mail address, starting after a
 * non-word character (so `foo.www.example.com` and `xhttp://` do not start one).
 */
const CANDIDATE =
  /(^|[^\p{L}\p{N}_@.\/:-])((?:https?:\/\/|www\.)[^\s<>"]+|[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,})/giu;
/** Closing brackets at the end belong to the URL only when it opened them too ("(see https://x.org/a_(b))"). */
const PAIRS: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{' };
/** Punctuation that ends a sentence rather than a URL. */
const TRAILING = /[.,;:!?'"*_~…]$/u;

function trim(candidate: string): string {
  let url = candidate;
  for (;;) {
    const last = url.at(-1);
    if (last === undefined) return url;
    if (TRAILING.test(last)) {
      url = url.slice(0, -1);
      continue;
    }
    const open = PAIRS[last];
    if (open) {
      const opened = url.split(open).length - 1;
      const closed = url.split(last).length - 1;
      if (closed > opened) {
        url = url.slice(0, -1);
        continue;
      }
    }
    return url;
  }
}

/** The link a candidate stands for, or null when it is not a safe http(s)/mailto link. */
function hrefOf(text: string): string | null {
  let raw: string;
  if (/^https?:\/\//i.test(text)) raw = text;
  else if (/^www\./i.test(text)) raw = `https://${text}`;
  else raw = `mailto:${text}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol === 'mailto:') return url.href;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  // "https://" alone, or a host without a dot other than localhost, is not worth a link.
  if (!url.hostname || (!url.hostname.includes('.') && url.hostname !== 'localhost')) return null;
  return url.href;
}

/** Splits text into plain strings and links, in order; joining every piece's text gives the text back. */
export function linkify(text: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  CANDIDATE.lastIndex = 0;
  for (let match = CANDIDATE.exec(text); match; match = CANDIDATE.exec(text)) {
    const start = match.index + match[1]!.length;
    const candidate = trim(match[2]!);
    const href = candidate ? hrefOf(candidate) : null;
    if (!href) continue;
    if (start > last) pieces.push(text.slice(last, start));
    pieces.push({ text: candidate, href });
    last = start + candidate.length;
    CANDIDATE.lastIndex = last;
  }
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

/** Message text as text nodes and links (new tab, no referrer, no SEO credit); never HTML from the text. */
export function linkified(text: string): Array<string | TemplateResult> {
  return linkify(text).map((piece) =>
    typeof piece === 'string'
      ? piece
      : html`<a part="link" href=${piece.href} target="_blank" rel="noopener noreferrer nofollow">${piece.text}</a>`,
  );
}
