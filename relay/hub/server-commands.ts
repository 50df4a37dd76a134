/**
 * What the site's backend may do through the server API (relay/api wires HTTP to it). The hub
 * implements it with the same rules, store calls and fan-out as the WebSocket frames, so a
 * message posted through the API reaches every relay of a cluster exactly like a `send`.
 * Every result carries a protocol error code on refusal; HTTP status mapping is relay/api's.
 */
import type { ApiPostMessage, ErrorCode, LogEvent, Member } from '../../protocol/index.js';
import type { Change } from '../store/types.js';

export type CommandResult<T> = ({ ok: true } & T) | { ok: false; code: ErrorCode; message: string };

export interface ServerCommands {
  /** Stores and fans out a message from any user id; a repeat of the same id is `created: false` with the same seq/ts. */
  post(conv: string, message: ApiPostMessage): Promise<CommandResult<{ created: boolean; id: string; seq: number; ts: number }>>;
  /** History pages, the same objects as the `history` frame (`after` → the log, `before`/none → messages). */
  history(conv: string, page: { before?: number; after?: number; limit: number }): Promise<CommandResult<{ messages: LogEvent[]; more: boolean }>>;
  /** Edit or delete any message (moderation); `seq` of the update, or the current rev when nothing changed. */
  change(conv: string, id: string, change: Extract<Change, { kind: 'edit' | 'delete' }>): Promise<CommandResult<{ seq: number }>>;
  /** Members with online, seen, since and banned. */
  members(conv: string): Promise<CommandResult<{ members: Member[] }>>;
  /** Bans on every relay at once (connected sessions of the user are removed from the conversation). */
  ban(conv: string, user: string, until?: number): Promise<CommandResult<object>>;
  unban(conv: string, user: string): Promise<CommandResult<{ existed: boolean }>>;
}
