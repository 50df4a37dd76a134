/**
 * The webhook signature: `X-Chat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
 * keyed with WEBHOOK_SECRET (the scheme Stripe uses). The timestamp is signed with the body,
 * so a captured request cannot be replayed later than the receiver's tolerance; every
 * attempt of a retried event is signed anew at the time it is sent.
 *
 * Receivers verify over the raw bytes they received (not a re-serialised parse), and compare
 * in constant time. `verifySignature` is what the demo receiver and the tests use; the README
 * shows the same steps for a receiver of one's own.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-chat-signature';
/** How far a signature's timestamp may be from the receiver's clock by default (replay window). */
export const DEFAULT_TOLERANCE_S = 300;

const hmac = (secret: string, t: number, body: string | Buffer) => createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');

/** The header value for `body` sent at `t` (unix seconds). */
export function signWebhook(secret: string, body: string | Buffer, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

export type SignatureCheck = { ok: true; t: number } | { ok: false; reason: 'malformed' | 'expired' | 'mismatch' };

/**
 * Checks a signature header against the raw body. Several `v1=` entries are accepted (any may
 * match), so a sender can sign with an old and a new secret while the secret is rotated.
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string | Buffer,
  { toleranceS = DEFAULT_TOLERANCE_S, nowS = Math.floor(Date.now() / 1000) }: { toleranceS?: number; nowS?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, reason: 'malformed' };
  let t: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value !== undefined && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) signatures.push(value);
  }
  if (t === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowS - t) > toleranceS) return { ok: false, reason: 'expired' };
  const expected = Buffer.from(hmac(secret, t, body), 'hex');
  // Every candidate is compared, so the time taken does not tell which one matched.
  let match = false;
  for (const signature of signatures) match = timingSafeEqual(Buffer.from(signature, 'hex'), expected) || match;
  return match ? { ok: true, t } : { ok: false, reason: 'mismatch' };
}
