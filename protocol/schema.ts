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
/** Seqs and counts: integers a JavaScript number and PostgreSQL's bigint both hold exactly (1e300 is refused at the door). */
const Seq = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
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
    /** v1.1: the id of an earlier message of the same conversation that this one answers. */
    reply: v.optional(Id),
    ref: Ref,
  }),
  v.check((f) => (f.text !== undefined && f.text.trim() !== '') || f.file !== undefined, 'send needs text or file'),
);

/**
 * v1.1: an emoji reaction is 1-16 characters (code points) none of which is a letter, a digit or
 * white space: every emoji sequence (flags, skin tones, ZWJ families) fits, words do not.
 */
export const EMOJI_PATTERN = /^[^\p{L}\p{N}\p{White_Space}]{1,16}$/u;
export const Emoji = v.pipe(
  v.string(),
  v.regex(EMOJI_PATTERN, 'must be 1-16 characters that are not letters, digits or spaces'),
  // Joiners and variation selectors belong inside emoji, but alone (a zero-width space) they are an invisible reaction.
  v.regex(/[^\p{Cf}\p{Cc}\p{M}\p{Z}]/u, 'must contain a visible character'),
  storable,
);
/** Text of an edit: the limits of `send`, and not blank (deleting is a separate frame). */
const EditText = v.pipe(Text, v.check((t) => t.trim() !== '', 'must not be blank'));
/** A moment in ms since the epoch (bans' `until`, presence's `seen`). */
const Timestamp = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));

/** v1.1: the author changes the text of their message. */
export const EditFrame = v.object({ type: v.literal('edit'), conv: Id, id: Id, text: EditText, ref: Ref });
/** v1.1: the author or a moderator deletes a message (it stays as a tombstone). */
export const DeleteFrame = v.object({ type: v.literal('delete'), conv: Id, id: Id, ref: Ref });
/** v1.1: any member puts (`on:true`) or takes back (`on:false`) an emoji reaction. */
export const ReactFrame = v.object({ type: v.literal('react'), conv: Id, id: Id, emoji: Emoji, on: v.boolean(), ref: Ref });
/** v1.1: a moderator bans a user from a conversation, until `until` (ms) or for good. */
export const BanFrame = v.object({ type: v.literal('ban'), conv: Id, user: Id, until: v.optional(Timestamp), ref: Ref });

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
  EditFrame,
  DeleteFrame,
  ReactFrame,
  BanFrame,
]);

// ---------------------------------------------------------------- relay -> client

const OutRef = v.optional(v.union([v.string(), v.number()]));

/** v1.1: the message a reply quotes, in its current state (text cut to `Limits.maxQuoteChars`). */
export const QuotedMessage = v.object({
  id: Id,
  seq: v.pipe(Seq, v.minValue(1)),
  from: User,
  text: v.optional(v.string()),
  file: v.optional(FileRef),
  deleted: v.optional(v.literal(true)),
});

/** v1.1: emoji -> ids of the users who reacted with it, in the order they reacted. */
export const Reactions = v.record(v.string(), v.array(Id));

/** A message in its current state (v1.1 fields: edited, deleted, reactions, reply, rev). */
export const MessageFrame = v.object({
  type: v.literal('msg'),
  conv: Id,
  seq: v.pipe(Seq, v.minValue(1)),
  id: Id,
  from: User,
  text: v.optional(v.string()),
  file: v.optional(FileRef),
  ts: v.number(),
  /** When the text was last edited (ms). */
  edited: v.optional(v.number()),
  /** The message was deleted: `text` and `file` are gone. */
  deleted: v.optional(v.literal(true)),
  reactions: v.optional(Reactions),
  reply: v.optional(QuotedMessage),
  /** The seq of the last `update` applied to this message; an update with seq <= rev is already in. */
  rev: v.optional(v.pipe(Seq, v.minValue(1))),
});

/** v1.1: a change to an earlier message; shares the conversation's seq with `msg`. Exactly one of edit/delete/react. */
export const UpdateFrame = v.pipe(
  v.object({
    type: v.literal('update'),
    conv: Id,
    seq: v.pipe(Seq, v.minValue(1)),
    /** The message that changed. */
    id: Id,
    by: User,
    ts: v.number(),
    edit: v.optional(v.object({ text: v.string() })),
    delete: v.optional(v.literal(true)),
    react: v.optional(v.object({ emoji: v.string(), on: v.boolean() })),
  }),
  v.check(
    (f) => Number(f.edit !== undefined) + Number(f.delete !== undefined) + Number(f.react !== undefined) === 1,
    'update carries exactly one of edit, delete, react',
  ),
);

/** One entry of a conversation's log: a new message or a change to one. */
export const LogEvent = v.variant('type', [MessageFrame, UpdateFrame]);

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
  /** v1.1: `moderator` when the token's `role` claim says so (may delete any message and ban). */
  role: v.optional(v.literal('moderator')),
  ref: OutRef,
});

export const Member = v.object({
  id: Id,
  name: v.string(),
  delivered: Seq,
  read: Seq,
  /** v1.1: the conversation's head when the member first joined; only messages with seq > since count them for receipts. */
  since: v.optional(Seq),
  /** v1.1: the user has a connection joined to the conversation on some relay. */
  online: v.optional(v.boolean()),
  /** v1.1: the last moment the user was online (ms); absent if never seen. */
  seen: v.optional(v.number()),
  /** v1.1: banned from the conversation (shown to moderators and the server API). */
  banned: v.optional(v.boolean()),
});

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
  /** The message id; for a `ban`, `ban:<user>` (so up to 4 characters longer than an id). */
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(132)),
  /** The message's seq, the update's seq, or for a `ban` the head (0 in an empty conversation). */
  seq: Seq,
  ts: v.number(),
  ref: OutRef,
});

export const HistoryReplyFrame = v.object({
  type: v.literal('history'),
  conv: Id,
  /** `before` pages hold `msg` objects only; `after` replies hold the log (`msg` and `update`), ascending by seq. */
  messages: v.array(LogEvent),
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

/** v1.1: a user's first connection to the conversation appeared, or (after a grace period) the last one went away. */
export const PresenceFrame = v.object({
  type: v.literal('presence'),
  conv: Id,
  user: Id,
  online: v.boolean(),
  seen: v.optional(v.number()),
});

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
  UpdateFrame,
  AckFrame,
  HistoryReplyFrame,
  TypingEventFrame,
  ReceiptEventFrame,
  MemberEventFrame,
  ResyncFrame,
  PresenceFrame,
  PongFrame,
  ErrorFrame,
]);

// ---------------------------------------------------------------- server API (HTTP, JSON; v1.1)

/** POST /api/v1/conversations/<conv>/messages: a message from any user id (a bot, an agent, the system). */
export const ApiPostMessage = v.pipe(
  v.object({
    id: Id,
    from: User,
    text: v.optional(Text),
    file: v.optional(FileRef),
    reply: v.optional(Id),
  }),
  v.check((f) => (f.text !== undefined && f.text.trim() !== '') || f.file !== undefined, 'a message needs text or file'),
);
/** PATCH /api/v1/conversations/<conv>/messages/<id>. */
export const ApiEditMessage = v.object({ text: EditText });
/** PUT /api/v1/conversations/<conv>/bans/<user>; no `until` bans for good. */
export const ApiBan = v.object({ until: v.optional(Timestamp) });

// ---------------------------------------------------------------- webhooks (v1.1)

export const WebhookEventType = {
  messageCreated: 'message.created',
  messageUpdated: 'message.updated',
  messageDeleted: 'message.deleted',
  memberJoined: 'member.joined',
} as const;
export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType];

/** The body a relay POSTs to WEBHOOK_URL. `data` is the message in its new state, or the member. */
export const WebhookEvent = v.object({
  id: v.string(),
  type: v.picklist(Object.values(WebhookEventType)),
  conv: Id,
  ts: v.number(),
  data: v.union([MessageFrame, Member]),
});

export type ClientFrame = v.InferOutput<typeof ClientFrame>;
export type HelloFrame = v.InferOutput<typeof HelloFrame>;
export type JoinFrame = v.InferOutput<typeof JoinFrame>;
export type LeaveFrame = v.InferOutput<typeof LeaveFrame>;
export type SendFrame = v.InferOutput<typeof SendFrame>;
export type HistoryFrame = v.InferOutput<typeof HistoryFrame>;
export type TypingFrame = v.InferOutput<typeof TypingFrame>;
export type ReceiptFrame = v.InferOutput<typeof ReceiptFrame>;
export type PingFrame = v.InferOutput<typeof PingFrame>;
export type EditFrame = v.InferOutput<typeof EditFrame>;
export type DeleteFrame = v.InferOutput<typeof DeleteFrame>;
export type ReactFrame = v.InferOutput<typeof ReactFrame>;
export type BanFrame = v.InferOutput<typeof BanFrame>;

export type ServerFrame = v.InferOutput<typeof ServerFrame>;
export type MessageFrame = v.InferOutput<typeof MessageFrame>;
export type UpdateFrame = v.InferOutput<typeof UpdateFrame>;
export type LogEvent = v.InferOutput<typeof LogEvent>;
export type QuotedMessage = v.InferOutput<typeof QuotedMessage>;
export type Reactions = v.InferOutput<typeof Reactions>;
export type PresenceFrame = v.InferOutput<typeof PresenceFrame>;
export type ApiPostMessage = v.InferOutput<typeof ApiPostMessage>;
export type ApiEditMessage = v.InferOutput<typeof ApiEditMessage>;
export type ApiBan = v.InferOutput<typeof ApiBan>;
export type WebhookEvent = v.InferOutput<typeof WebhookEvent>;
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
