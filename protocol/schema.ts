/**
 * The ONE schema of wire protocol v1 (see protocol/README.md). Each frame is a valibot
 * schema; the TypeScript types are inferred from it and `decode*` validates with it, so
 * types and validation cannot drift apart. valibot was chosen over TypeBox and zod because
 * it is tree-shakable (the widget bundle carries only the server-frame schemas it uses),
 * needs no `eval` (embedding pages may forbid it by CSP) and is fast enough for the relay.
 */
import * as v from 'valibot';
import { Limits } from './codes.js';

/** Message a text-length violation carries, so decode() can answer `too_large`, not `bad_frame`. */
export const TEXT_TOO_LONG = `text is longer than ${Limits.maxTextChars} characters`;

export function codePointLength(text: string): number {
  // A string's UTF-16 length is an upper bound of its code points: skip the count when short.
  if (text.length <= Limits.maxTextChars) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** Conversation, user and message ids; also checked where ids arrive outside a frame (tokens, HTTP). */
export const ID_PATTERN = /^[A-Za-z0-9_:-]{1,128}$/;

export const Id = v.pipe(v.string(), v.regex(ID_PATTERN, 'must be 1-128 characters of A-Z a-z 0-9 _ : -'));
const Ref = v.optional(
  v.union([
    v.pipe(v.string(), v.maxLength(Limits.maxRefLength)),
    v.pipe(v.number(), v.check((n) => Number.isFinite(n), 'must be finite')),
  ]),
);
const Seq = v.pipe(v.number(), v.integer(), v.minValue(0));
/**
 * NUL and unpaired UTF-16 surrogates cannot be stored (PostgreSQL rejects both) nor encoded
 * as valid UTF-8: refused here as a bad frame rather than failing deep in a store.
 */
const STORABLE = /^(?:[^\u0000\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;
const storable = v.regex<string, string>(STORABLE, 'must not contain NUL or unpaired surrogates');
const Name = v.pipe(v.string(), v.maxLength(Limits.maxNameLength), storable);
const Text = v.pipe(v.string(), v.check((t) => codePointLength(t) <= Limits.maxTextChars, TEXT_TOO_LONG), storable);

/** A file previously uploaded through POST /upload; only relay-issued URLs are accepted. */
export const FileRef = v.object({
  url: v.pipe(v.string(), v.regex(/^\/files\/[A-Za-z0-9_-]{1,64}$/, 'must be a /files/<id> URL from /upload')),
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(Limits.maxFileNameLength), storable),
  size: Seq,
  type: v.pipe(v.string(), v.maxLength(255)),
});

export const User = v.object({ id: Id, name: Name });

// ---------------------------------------------------------------- client -> relay

export const HelloFrame = v.object({
  type: v.literal('hello'),
  v: v.number(),
  token: v.optional(v.pipe(v.string(), v.maxLength(8192))),
  user: v.optional(Id),
  name: v.optional(Name),
  ref: Ref,
});

export const JoinFrame = v.object({
  type: v.literal('join'),
  conv: Id,
  after: v.optional(Seq),
  epoch: v.optional(v.pipe(v.string(), v.maxLength(128))),
  /** Addition to v1: with no cache, replay only the newest `tail` messages (older ones via history). */
  tail: v.optional(v.pipe(Seq, v.maxValue(Limits.maxHistoryLimit))),
  ref: Ref,
});

export const LeaveFrame = v.object({ type: v.literal('leave'), conv: Id, ref: Ref });

export const SendFrame = v.pipe(
  v.object({
    type: v.literal('send'),
    conv: Id,
    id: Id,
    text: v.optional(Text),
    file: v.optional(FileRef),
    ref: Ref,
  }),
  v.check((f) => (f.text !== undefined && f.text.trim() !== '') || f.file !== undefined, 'send needs text or file'),
);

export const HistoryFrame = v.pipe(
  v.object({
    type: v.literal('history'),
    conv: Id,
    before: v.optional(v.pipe(Seq, v.minValue(1))),
    after: v.optional(Seq),
    limit: v.optional(v.pipe(Seq, v.minValue(1), v.maxValue(Limits.maxHistoryLimit))),
    ref: Ref,
  }),
  v.check((f) => f.before === undefined || f.after === undefined, 'history takes before or after, not both'),
);

export const TypingFrame = v.object({ type: v.literal('typing'), conv: Id, active: v.boolean(), ref: Ref });

export const ReceiptFrame = v.pipe(
  v.object({
    type: v.literal('receipt'),
    conv: Id,
    delivered: v.optional(Seq),
    read: v.optional(Seq),
    ref: Ref,
  }),
  v.check((f) => f.delivered !== undefined || f.read !== undefined, 'receipt needs delivered or read'),
);

/** Addition to v1: application-level heartbeat, so a client can notice a silently dead socket. */
export const PingFrame = v.object({ type: v.literal('ping'), ref: Ref });

export const ClientFrame = v.variant('type', [
  HelloFrame,
  JoinFrame,
  LeaveFrame,
  SendFrame,
  HistoryFrame,
  TypingFrame,
  ReceiptFrame,
  PingFrame,
]);

// ---------------------------------------------------------------- relay -> client

const OutRef = v.optional(v.union([v.string(), v.number()]));

export const MessageFrame = v.object({
  type: v.literal('msg'),
  conv: Id,
  seq: v.pipe(Seq, v.minValue(1)),
  id: Id,
  from: User,
  text: v.optional(v.string()),
  file: v.optional(FileRef),
  ts: v.number(),
});

export const WelcomeFrame = v.object({
  type: v.literal('welcome'),
  v: v.number(),
  user: User,
  /** Addition to v1: the relay's limits, so a client can refuse an oversized file before uploading. */
  limits: v.optional(
    v.object({ maxTextChars: v.number(), maxFrameBytes: v.number(), maxUploadBytes: v.number() }),
  ),
  /** Addition to v1: when the token expires (ms since the epoch), so a client can renew it with another `hello` in time. */
  expires: v.optional(v.number()),
  ref: OutRef,
});

export const Member = v.object({ id: Id, name: v.string(), delivered: Seq, read: Seq });

export const JoinedFrame = v.object({
  type: v.literal('joined'),
  conv: Id,
  epoch: v.string(),
  head: Seq,
  members: v.array(Member),
  typing: v.array(Id),
  reset: v.optional(v.boolean()),
  ref: OutRef,
});

export const AckFrame = v.object({
  type: v.literal('ack'),
  conv: Id,
  id: Id,
  seq: v.pipe(Seq, v.minValue(1)),
  ts: v.number(),
  ref: OutRef,
});

export const HistoryReplyFrame = v.object({
  type: v.literal('history'),
  conv: Id,
  messages: v.array(MessageFrame),
  more: v.boolean(),
  ref: OutRef,
});

export const TypingEventFrame = v.object({
  type: v.literal('typing'),
  conv: Id,
  user: Id,
  active: v.boolean(),
});

export const ReceiptEventFrame = v.object({
  type: v.literal('receipt'),
  conv: Id,
  user: Id,
  delivered: Seq,
  read: Seq,
});

/** Addition to v1: someone joined a conversation for the first time (receipt cursors start at 0). */
export const MemberEventFrame = v.object({ type: v.literal('member'), conv: Id, member: Member });

export const ResyncFrame = v.object({ type: v.literal('resync'), conv: Id });

export const PongFrame = v.object({ type: v.literal('pong'), ref: OutRef });

export const ErrorFrame = v.object({
  type: v.literal('error'),
  code: v.string(),
  message: v.string(),
  /** Additions to v1: the conversation and message id a failed `send` was about. */
  conv: v.optional(v.string()),
  id: v.optional(v.string()),
  ref: OutRef,
});

export const ServerFrame = v.variant('type', [
  WelcomeFrame,
  JoinedFrame,
  MessageFrame,
  AckFrame,
  HistoryReplyFrame,
  TypingEventFrame,
  ReceiptEventFrame,
  MemberEventFrame,
  ResyncFrame,
  PongFrame,
  ErrorFrame,
]);

export type ClientFrame = v.InferOutput<typeof ClientFrame>;
export type HelloFrame = v.InferOutput<typeof HelloFrame>;
export type JoinFrame = v.InferOutput<typeof JoinFrame>;
export type LeaveFrame = v.InferOutput<typeof LeaveFrame>;
export type SendFrame = v.InferOutput<typeof SendFrame>;
export type HistoryFrame = v.InferOutput<typeof HistoryFrame>;
export type TypingFrame = v.InferOutput<typeof TypingFrame>;
export type ReceiptFrame = v.InferOutput<typeof ReceiptFrame>;
export type PingFrame = v.InferOutput<typeof PingFrame>;

export type ServerFrame = v.InferOutput<typeof ServerFrame>;
export type MessageFrame = v.InferOutput<typeof MessageFrame>;
export type WelcomeFrame = v.InferOutput<typeof WelcomeFrame>;
export type JoinedFrame = v.InferOutput<typeof JoinedFrame>;
export type AckFrame = v.InferOutput<typeof AckFrame>;
export type HistoryReplyFrame = v.InferOutput<typeof HistoryReplyFrame>;
export type TypingEventFrame = v.InferOutput<typeof TypingEventFrame>;
export type ReceiptEventFrame = v.InferOutput<typeof ReceiptEventFrame>;
export type MemberEventFrame = v.InferOutput<typeof MemberEventFrame>;
export type ResyncFrame = v.InferOutput<typeof ResyncFrame>;
export type PongFrame = v.InferOutput<typeof PongFrame>;
export type ErrorFrame = v.InferOutput<typeof ErrorFrame>;
export type FileRef = v.InferOutput<typeof FileRef>;
export type User = v.InferOutput<typeof User>;
export type Member = v.InferOutput<typeof Member>;
