/**
 * A shared secret presented as `Authorization: Bearer <secret>` (CHAT_API_KEY, METRICS_TOKEN).
 *
 * Compared in constant time: both sides are hashed first, so timingSafeEqual always compares
 * two 32-byte digests and neither the secret's length nor the position of the first wrong
 * byte shows in the answer's timing. The secret itself is never logged nor echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export class BearerSecret {
  private readonly _digest: Buffer;

  constructor(secret: string) {
    this._digest = digest(secret);
  }

  /** Whether an Authorization header carries this secret. */
  matches(authorization: string): boolean {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    // Hashed even when absent, so a missing header costs the same as a wrong one.
    const presented = digest(match?.[1] ?? '');
    return timingSafeEqual(presented, this._digest) && match !== null;
  }

  /** Never print the secret by accident (logs of the options object, util.inspect). */
  toJSON(): string {
    return '[secret]';
  }
}
