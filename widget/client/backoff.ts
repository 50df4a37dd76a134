/**
 * Reconnect and resend delays: exponential with full jitter, so that thousands of widgets
 * that lost the same relay do not come back in lockstep and knock it over again.
 */
export const BackoffDefaults = { minMs: 500, maxMs: 20_000 } as const;

export interface BackoffOptions {
  minMs?: number;
  maxMs?: number;
  /** A number in [0, 1); injectable so tests can pin the jitter. */
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0 = first retry): uniformly random between `minMs`
 * and a ceiling that doubles per attempt up to `maxMs`. Never below `minMs`, so a relay
 * that refuses connections instantly is not hammered in a tight loop.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const minMs = options.minMs ?? BackoffDefaults.minMs;
  const maxMs = Math.max(minMs, options.maxMs ?? BackoffDefaults.maxMs);
  const random = options.random ?? Math.random;
  // Capping the exponent keeps 2 ** n finite however long a client has been failing.
  const exponent = Math.min(Math.max(0, Math.floor(attempt)) + 1, 40);
  const ceiling = Math.min(maxMs, minMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(minMs + r * (ceiling - minMs));
}
