/**
 * Every error the client core reports, as a code. The core never writes English: events and
 * failed messages carry a code and its parameters, and the view turns them into words
 * (widget/messages.ts). Codes from the relay (protocol `ErrorCode`) pass through unchanged.
 */
import { ErrorCode } from '../../protocol/index.js';

export const ClientErrorCode = {
  /** The message is longer than `params.max` characters. */
  textTooLong: 'text_too_long',
  /** The file is larger than `params.max` bytes. */
  fileTooLarge: 'file_too_large',
  /** An upload failed on the network. */
  uploadNetwork: 'upload_network',
  /** An upload was refused by the relay with HTTP `params.status` (0: no answer, or not a file reference). */
  uploadRefused: 'upload_refused',
  /** `getToken()` failed (its error is the `cause`). */
  tokenFailed: 'token_failed',
  /** Storage (IndexedDB) failed: messages are still sent but will not survive a reload. */
  storage: 'storage',
  /** The options are unusable (`params.reason` names which). */
  badConfig: 'bad_config',
  /** Too many messages and changes wait in the outbox (`params.max`): sending more is refused until some are out. */
  outboxFull: 'outbox_full',
  /** A request got no answer (the connection was lost, or the relay did not reply in time). */
  noAnswer: 'no_answer',
  /** The client failed unexpectedly. */
  internal: 'internal',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Codes of both sides: what `error` events and failed messages carry. */
export const ChatErrorCode = { ...ErrorCode, ...ClientErrorCode } as const;
export type ChatErrorCode = (typeof ChatErrorCode)[keyof typeof ChatErrorCode];

/** Parameters of an error, for the view's wording. */
export type ErrorParams = Readonly<Record<string, string | number>>;

/** An error as the core reports it: a code (`ChatErrorCode`, or a relay code it does not know) and its parameters. */
export interface ChatError {
  readonly code: string;
  readonly params?: ErrorParams;
}
