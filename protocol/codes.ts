/**
 * Every constant both sides of the wire agree on: limits, error codes, close codes.
 * The relay, the widget and the load harness import these; nobody restates a number.
 */

export const PROTOCOL_VERSION = 1;

export const Limits = {
  /** Largest WebSocket frame a client may send, in bytes (UTF-8). */
  maxFrameBytes: 64 * 1024,
  /** Largest message text, in characters (Unicode code points). */
  maxTextChars: 4000,
  maxRefLength: 64,
  /** Longest token, in characters, wherever one arrives (hello, Authorization header). */
  maxTokenChars: 8192,
  maxNameLength: 100,
  maxHistoryLimit: 200,
  defaultHistoryLimit: 50,
  maxFileNameLength: 255,
  /** v1.1: a reply quotes at most this many characters of the message it answers. */
  maxQuoteChars: 200,
  /** v1.1: most distinct emoji reactions on one message. */
  maxReactionsPerMessage: 20,
  /** v1.1: a user whose last connection to a conversation went away is announced offline only after this grace. */
  presenceGraceMs: 5000,
  /** v1.1: the longest a dead relay's users may still show as online on the other relays. */
  presenceStaleMs: 30_000,
  /** A client must renew `typing active:true` within this window or the relay clears it. */
  typingExpiryMs: 6000,
  /** A client sends `typing active:true` at most this often while the user types. */
  typingRenewMs: 2000,
  /** A connection that sends no `hello` within this time is closed with 4408. */
  helloTimeoutMs: 10_000,
} as const;

export const ErrorCode = {
  badFrame: 'bad_frame',
  unsupportedVersion: 'unsupported_version',
  unauthenticated: 'unauthenticated',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notJoined: 'not_joined',
  tooLarge: 'too_large',
  rateLimited: 'rate_limited',
  /** A cap was reached (connections per address or user, conversations joined per connection): not worth retrying as is. */
  tooMany: 'too_many',
  conflict: 'conflict',
  /** v1.1: the message an edit, delete, react or reply names does not exist in the conversation. */
  notFound: 'not_found',
  unavailable: 'unavailable',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  frameTooLarge: 1009,
  unauthorized: 4401,
  originNotAllowed: 4403,
  helloTimeout: 4408,
  /** The client did not read what the relay sent it (its queue stayed over the bound): reconnect and `join after`. */
  tooSlow: 4409,
  tooManyBadFrames: 4429,
  /** Over a connection cap (per address or per user): reconnect later, after closing other connections. */
  tooManyConnections: 4430,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Errors after which a client should retry the same frame later rather than give up on it. */
export const RETRYABLE_ERRORS: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.rateLimited,
  ErrorCode.unavailable,
  ErrorCode.internal,
]);
