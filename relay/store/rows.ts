/**
 * Rows to frames, for both stores: the ONE place that decides how a stored message looks on
 * the wire (current state, quote, reactions), so SQLite, PostgreSQL, history, write results and
 * webhook bodies cannot drift apart. Numbers may arrive as strings (PostgreSQL bigint), flags as
 * 0/1 (SQLite).
 */
import { Limits, type FileRef, type Member, type QuotedMessage, type Reactions, type UpdateFrame, type User } from '../../protocol/index.js';
import type { AppendInput, Change, StoredMessage } from './types.js';

/**
 * Reactions as stored: [emoji, user ids] pairs, in the order each emoji was first put on. A list,
 * not an object, because PostgreSQL's jsonb does not keep object key order.
 */
export type ReactionPairs = Array<[string, string[]]>;

type Num = string | number;
type Flag = boolean | number | null | undefined;

/** A message as both stores read it: its row, plus the quoted message's columns (q_*) from a join. */
export interface MessageRow {
  conv: string;
  seq: Num;
  id: string;
  sender: string;
  sender_name: string;
  text: string | null;
  file: FileRef | null;
  ts: Num;
  edited?: Num | null;
  deleted?: Flag;
  reactions?: ReactionPairs | null;
  reply_seq?: Num | null;
  rev?: Num | null;
  q_id?: string | null;
  q_sender?: string | null;
  q_sender_name?: string | null;
  q_text?: string | null;
  q_file?: FileRef | null;
  q_deleted?: Flag;
}

/** Quoted message columns on their own (what an append with `reply` looks up). */
export type QuoteRow = Required<Pick<MessageRow, 'q_id' | 'q_sender' | 'q_sender_name' | 'q_text' | 'q_file' | 'q_deleted'>> & {
  reply_seq: Num;
};

/** An `update` event as both stores keep it. */
export interface UpdateRow {
  conv: string;
  seq: Num;
  /** The message that changed. */
  id: string;
  by_id: string;
  by_name: string;
  ts: Num;
  kind: string;
  text: string | null;
  emoji: string | null;
  on_: Flag;
}

export interface MemberRow {
  user: string;
  name: string;
  delivered: Num;
  read: Num;
  since?: Num | null;
  seen?: Num | null;
  banned?: Flag;
}

/** At most `Limits.maxQuoteChars` characters (code points, as the protocol counts text). */
export function cutQuote(text: string): string {
  if (text.length <= Limits.maxQuoteChars) return text;
  let out = '';
  let n = 0;
  for (const ch of text) {
    if (n++ === Limits.maxQuoteChars) break;
    out += ch;
  }
  return out;
}

export function quoteFromRow(row: Pick<MessageRow, 'q_id' | 'q_sender' | 'q_sender_name' | 'q_text' | 'q_file' | 'q_deleted'>, seq: Num): QuotedMessage | undefined {
  if (row.q_id == null) return undefined;
  const quote: QuotedMessage = { id: row.q_id, seq: Number(seq), from: { id: row.q_sender!, name: row.q_sender_name! } };
  if (row.q_deleted) {
    quote.deleted = true;
    return quote;
  }
  if (row.q_text != null) quote.text = cutQuote(row.q_text);
  if (row.q_file != null) quote.file = row.q_file;
  return quote;
}

export function reactionsFromPairs(pairs: ReactionPairs | null | undefined): Reactions | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const reactions: Reactions = {};
  for (const [emoji, users] of pairs) reactions[emoji] = users;
  return reactions;
}

/** The `msg` frame of a stored row, in its current state; absent fields stay absent (not null) on the wire. */
export function messageFromRow(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    type: 'msg',
    conv: row.conv,
    seq: Number(row.seq),
    id: row.id,
    from: { id: row.sender, name: row.sender_name },
    ts: Number(row.ts),
  };
  if (row.text !== null) message.text = row.text;
  if (row.file !== null) message.file = row.file;
  if (row.edited != null) message.edited = Number(row.edited);
  if (row.deleted) message.deleted = true;
  const reactions = reactionsFromPairs(row.reactions);
  if (reactions) message.reactions = reactions;
  if (row.reply_seq != null) {
    const quote = quoteFromRow(row, row.reply_seq);
    if (quote) message.reply = quote;
  }
  if (row.rev != null) message.rev = Number(row.rev);
  return message;
}

/** The `msg` frame of an input that was just stored under `seq` at `ts` (the append hot path: no row round trip). */
export function messageFromInput(input: AppendInput, seq: number, ts: number, reply?: QuotedMessage): StoredMessage {
  const message: StoredMessage = { type: 'msg', conv: input.conv, seq, id: input.id, from: { id: input.from.id, name: input.from.name }, ts };
  if (input.text !== undefined) message.text = input.text;
  if (input.file !== undefined) message.file = input.file;
  if (reply) message.reply = reply;
  return message;
}

/** The `update` frame of a change stored under `seq`. */
export function updateFrame(conv: string, seq: number, id: string, by: User, ts: number, change: Change): UpdateFrame {
  const update: UpdateFrame = { type: 'update', conv, seq, id, by: { id: by.id, name: by.name }, ts };
  if (change.kind === 'edit') update.edit = { text: change.text };
  else if (change.kind === 'delete') update.delete = true;
  else update.react = { emoji: change.emoji, on: change.on };
  return update;
}

/** The change an update row records. */
export function changeFromRow(row: UpdateRow): Change {
  if (row.kind === 'edit') return { kind: 'edit', text: row.text ?? '' };
  if (row.kind === 'delete') return { kind: 'delete' };
  return { kind: 'react', emoji: row.emoji ?? '', on: Boolean(row.on_) };
}

export function updateFromRow(row: UpdateRow): UpdateFrame {
  return updateFrame(row.conv, Number(row.seq), row.id, { id: row.by_id, name: row.by_name }, Number(row.ts), changeFromRow(row));
}

export function memberFromRow(row: MemberRow): Member {
  const member: Member = {
    id: row.user,
    name: row.name,
    delivered: Number(row.delivered),
    read: Number(row.read),
    since: Number(row.since ?? 0),
  };
  if (row.seen != null) member.seen = Number(row.seen);
  if (row.banned) member.banned = true;
  return member;
}

/** Webhook event ids: `/` is not in the id alphabet, so log and member ids of any conversation never collide. */
export const webhookLogId = (epoch: string, conv: string, seq: number) => `${epoch.slice(0, 8)}/${conv}/${seq}`;
export const webhookMemberId = (epoch: string, conv: string, user: string) => `${epoch.slice(0, 8)}/${conv}/member/${user}`;
