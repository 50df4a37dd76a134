/**
 * Every sentence the widget shows about an error, in one place: the client core reports codes
 * and parameters (widget/client/errors.ts and the relay's codes), and the view words them here.
 * To translate the widget, this is the file to replace.
 */
import type { ChatError, ErrorParams } from './client/types.js';
import { humanSize } from './format.js';

type Words = (params: ErrorParams) => string;

const num = (value: string | number | undefined): number => (typeof value === 'number' ? value : Number(value ?? 0));
/** "big.iso: " before an upload's error; nothing when the error is not about a file. */
const file = (params: ErrorParams): string => (params.name !== undefined ? `${params.name}: ` : '');

const ERRORS: Readonly<Record<string, Words>> = {
  // The client core's codes (ClientErrorCode).
  text_too_long: (p) => `message is longer than ${num(p.max)} characters`,
  file_too_large: (p) => `${file(p)}file is larger than ${humanSize(num(p.maxBytes))}`,
  upload_network: (p) => `${file(p)}network error: the file could not be uploaded`,
  upload_refused: (p) => `${file(p)}upload failed (${num(p.status) ? `HTTP ${num(p.status)}` : 'no answer'})`,
  token_failed: () => 'could not get a sign-in token',
  storage: () => 'messages cannot be saved on this device: they are sent, but will not survive a reload',
  bad_config: (p) => `the chat is not set up correctly${p.reason !== undefined ? `: ${p.reason}` : ''}`,
  // The relay's codes (ErrorCode).
  bad_frame: () => 'the relay did not understand the client',
  unsupported_version: () => 'this version of the chat is no longer supported by the relay',
  unauthenticated: () => 'not signed in',
  unauthorized: (p) => `${file(p)}not signed in: the relay refused the credentials`,
  forbidden: (p) => `${file(p)}not allowed here`,
  not_joined: () => 'not in this conversation',
  too_large: () => 'too large for the relay',
  rate_limited: () => 'too many messages: slow down',
  too_many: () => 'too many connections or conversations open',
  conflict: () => 'conflicts with what the relay has',
  unavailable: () => 'the relay is unavailable: try again later',
  internal: (p) => `${file(p)}something went wrong`,
};

/** The words for an error (a code the widget does not know still reads as something). */
export function errorText(error: ChatError): string {
  const words = ERRORS[error.code];
  return words ? words(error.params ?? {}) : `something went wrong (${error.code})`;
}

/** Fixed labels of failed things. */
export const Labels = {
  notSent: 'Not sent',
  uploadFailed: 'Upload failed',
} as const;
