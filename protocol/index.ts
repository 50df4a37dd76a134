/**
 * The wire protocol v1: one schema (schema.ts), the shared constants (codes.ts) and the
 * decoders everybody uses. No other place in the project validates frames by hand.
 */
import * as v from 'valibot';
import { ErrorCode, Limits, PROTOCOL_VERSION } from './codes.js';
import { ClientFrame, ServerFrame, TEXT_TOO_LONG } from './schema.js';

export * from './codes.js';
export * from './schema.js';

export type Decoded<T> =
  | { ok: true; frame: T }
  | { ok: false; code: ErrorCode; message: string; ref?: string | number };

const CLIENT_TYPES = new Set([
  'hello', 'join', 'leave', 'send', 'history', 'typing', 'receipt', 'ping',
  'edit', 'delete', 'react', 'ban',
]);

/** The `ref` of a frame that failed validation, if it is usable, so the error can still be matched. */
function salvageRef(input: unknown): string | number | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const ref = (input as { ref?: unknown }).ref;
  if (typeof ref === 'string' && ref.length <= Limits.maxRefLength) return ref;
  if (typeof ref === 'number' && Number.isFinite(ref)) return ref;
  return undefined;
}

function describe(issue: v.BaseIssue<unknown>): string {
  const path = issue.path?.map((p) => String(p.key)).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Validates one already-parsed client frame. */
export function decodeClientFrame(input: unknown): Decoded<ClientFrame> {
  const result = v.safeParse(ClientFrame, input);
  if (result.success) {
    if (result.output.type === 'hello' && result.output.v !== PROTOCOL_VERSION) {
      return {
        ok: false,
        code: ErrorCode.unsupportedVersion,
        message: `protocol version ${String(result.output.v)} is not supported; this relay speaks v${PROTOCOL_VERSION}`,
        ref: result.output.ref,
      };
    }
    return { ok: true, frame: result.output };
  }
  const ref = salvageRef(input);
  const type = typeof input === 'object' && input !== null ? (input as { type?: unknown }).type : undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, code: ErrorCode.badFrame, message: 'a frame must be a JSON object', ref };
  }
  if (typeof type !== 'string' || !CLIENT_TYPES.has(type)) {
    return { ok: false, code: ErrorCode.badFrame, message: `unknown frame type ${JSON.stringify(type) ?? 'undefined'}`, ref };
  }
  const issue = result.issues[0];
  if (result.issues.some((i) => i.message === TEXT_TOO_LONG)) {
    return { ok: false, code: ErrorCode.tooLarge, message: TEXT_TOO_LONG, ref };
  }
  return { ok: false, code: ErrorCode.badFrame, message: `${type}: ${describe(issue)}`, ref };
}

/** Parses and validates one text frame as it came off the socket. */
export function parseClientFrame(text: string): Decoded<ClientFrame> {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return { ok: false, code: ErrorCode.badFrame, message: 'a frame must be valid JSON' };
  }
  return decodeClientFrame(input);
}

/** Validates a relay frame; clients use it so a buggy or hostile relay cannot corrupt their state. */
export function decodeServerFrame(input: unknown): Decoded<ServerFrame> {
  const result = v.safeParse(ServerFrame, input);
  if (result.success) return { ok: true, frame: result.output };
  return { ok: false, code: ErrorCode.badFrame, message: describe(result.issues[0]) };
}
