/**
 * What the site's backend may do through the server API (relay/api wires HTTP to it). The hub
 * implements it with the same rules, store calls and fan-out as the WebSocket frames, so a
 * message posted through the API reaches every relay of a cluster exactly like a `send`.
 * Every result carries a protocol error code on refusal; HTTP status mapping is relay/api's:
 * `bad_frame` → 400, `not_found` → 404, `conflict` → 409, `unavailable` → 503, `internal` → 500.
 */
import { ErrorCode, ID_PATTERN, type ApiPostMessage, type FileRef, type LogEvent, type Member, type User } from '../../protocol/index.js';
import { Authority, StoreUnavailableError, type AppendInput, type AppendResult, type Change, type ChangeInput, type ChangeResult, type Store } from '../store/types.js';
import type { Clock, FileCatalog, Logger } from './ports.js';

export type CommandResult<T> = ({ ok: true } & T) | { ok: false; code: ErrorCode; message: string };

/** Who an `update` made through the server API names, unless the caller says otherwise. */
export const SERVER_USER: User = { id: 'server', name: 'Server' };

export interface ServerCommands {
  /** Stores and fans out a message from any user id; a repeat of the same id is `created: false` with the same seq/ts. */
  post(conv: string, message: ApiPostMessage): Promise<CommandResult<{ created: boolean; id: string; seq: number; ts: number }>>;
  /** History pages, the same objects as the `history` frame (`after` → the log, `before`/none → messages). */
  history(conv: string, page: { before?: number; after?: number; limit: number }): Promise<CommandResult<{ messages: LogEvent[]; more: boolean }>>;
  /**
   * Edit or delete any message (moderation); `seq` of the update, or the current rev when nothing changed.
   * `by` is who the `update` frame names (default SERVER_USER).
   */
  change(conv: string, id: string, change: Extract<Change, { kind: 'edit' | 'delete' }>, by?: User): Promise<CommandResult<{ seq: number }>>;
  /** Members with online, seen, since and banned. */
  members(conv: string): Promise<CommandResult<{ members: Member[] }>>;
  /** Bans on every relay at once (connected sessions of the user are removed from the conversation). */
  ban(conv: string, user: string, until?: number): Promise<CommandResult<object>>;
  unban(conv: string, user: string): Promise<CommandResult<{ existed: boolean }>>;
}

/** The hub's own code paths the commands go through (the same ones as the frames). */
export interface ServerCommandPorts {
  store: Store;
  files: FileCatalog;
  clock: Clock;
  log: Logger;
  /** Stores a message; a stored one is published on the bus (every relay fans it out). */
  append(input: AppendInput): Promise<AppendResult>;
  /** Applies a change; a stored one is published on the bus. */
  change(input: ChangeInput): Promise<ChangeResult>;
  /** Stores a ban and removes the user's sessions from the conversation on every relay. */
  ban(conv: string, user: string, until: number | undefined): Promise<void>;
  /** Members as the store has them, with `online` from the cluster's presence. */
  members(conv: string): Promise<Member[]>;
}

export class HubServerCommands implements ServerCommands {
  constructor(private readonly _p: ServerCommandPorts) {}

  async post(conv: string, message: ApiPostMessage): Promise<CommandResult<{ created: boolean; id: string; seq: number; ts: number }>> {
    const bad = badIds({ conv, id: message.id, user: message.from.id, reply: message.reply });
    if (bad) return bad;
    return this._guard(async () => {
      let file: FileRef | undefined;
      if (message.file) {
        const stored = await this._p.files.describe(message.file.url);
        if (!stored || stored.conv !== conv) return refuse(ErrorCode.badFrame, `${message.file.url} is not a file uploaded to ${conv}`);
        file = { url: message.file.url, name: stored.name, size: stored.size, type: stored.type };
      }
      const result = await this._p.append({
        conv,
        id: message.id,
        from: message.from,
        text: message.text,
        file,
        ts: this._p.clock.now(),
        reply: message.reply,
      });
      switch (result.kind) {
        case 'stored':
          return { ok: true, created: true, id: message.id, seq: result.message.seq, ts: result.message.ts };
        case 'duplicate':
          return { ok: true, created: false, id: message.id, seq: result.seq, ts: result.ts };
        case 'conflict':
          return refuse(ErrorCode.conflict, `message id ${message.id} is taken by another sender`);
        case 'reply_not_found':
          return refuse(ErrorCode.badFrame, `reply: no message ${message.reply} in ${conv}`);
      }
    });
  }

  async history(conv: string, page: { before?: number; after?: number; limit: number }): Promise<CommandResult<{ messages: LogEvent[]; more: boolean }>> {
    const bad = badIds({ conv });
    if (bad) return bad;
    if (page.before !== undefined && page.after !== undefined) return refuse(ErrorCode.badFrame, 'history takes before or after, not both');
    return this._guard(async () => {
      const result =
        page.after !== undefined
          ? await this._p.store.range(conv, page.after, page.limit)
          : await this._p.store.before(conv, page.before ?? Number.MAX_SAFE_INTEGER, page.limit);
      return { ok: true, messages: result.messages, more: result.more };
    });
  }

  async change(conv: string, id: string, change: Extract<Change, { kind: 'edit' | 'delete' }>, by: User = SERVER_USER): Promise<CommandResult<{ seq: number }>> {
    const bad = badIds({ conv, id, user: by.id });
    if (bad) return bad;
    return this._guard(async () => {
      const result = await this._p.change({ conv, id, by, authority: Authority.server, change, ts: this._p.clock.now() });
      switch (result.kind) {
        case 'stored':
          return { ok: true, seq: result.update.seq };
        case 'unchanged':
          return { ok: true, seq: result.seq };
        case 'not_found':
          return refuse(ErrorCode.notFound, `no message ${id} in ${conv}`);
        case 'forbidden':
          // The server may change any message; only an edit of a deleted one is refused.
          return refuse(ErrorCode.forbidden, result.reason === 'deleted' ? `message ${id} is deleted` : `message ${id} may not be changed`);
        case 'too_many_reactions':
          return refuse(ErrorCode.badFrame, 'too many reactions');
      }
    });
  }

  async members(conv: string): Promise<CommandResult<{ members: Member[] }>> {
    const bad = badIds({ conv });
    if (bad) return bad;
    return this._guard(async () => ({ ok: true, members: await this._p.members(conv) }));
  }

  async ban(conv: string, user: string, until?: number): Promise<CommandResult<object>> {
    const bad = badIds({ conv, user });
    if (bad) return bad;
    if (until !== undefined && (!Number.isSafeInteger(until) || until < 0)) return refuse(ErrorCode.badFrame, 'until must be a time in ms since the epoch');
    return this._guard(async () => {
      await this._p.ban(conv, user, until);
      return { ok: true };
    });
  }

  async unban(conv: string, user: string): Promise<CommandResult<{ existed: boolean }>> {
    const bad = badIds({ conv, user });
    if (bad) return bad;
    return this._guard(async () => ({ ok: true, existed: await this._p.store.unban(conv, user) }));
  }

  /** Store failures become `unavailable` (retry) or `internal`, as for the frames. */
  private async _guard<T>(run: () => Promise<CommandResult<T>>): Promise<CommandResult<T>> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof StoreUnavailableError) return refuse(ErrorCode.unavailable, 'storage is unavailable; retry shortly');
      this._p.log.error({ err: error }, 'server API command failed');
      return refuse(ErrorCode.internal, 'internal error');
    }
  }
}

function refuse(code: ErrorCode, message: string): { ok: false; code: ErrorCode; message: string } {
  return { ok: false, code, message };
}

/** Ids that arrive in URLs are checked here too, whatever the HTTP layer did. */
function badIds(ids: Record<string, string | undefined>): { ok: false; code: ErrorCode; message: string } | null {
  for (const [name, value] of Object.entries(ids)) {
    if (value !== undefined && !ID_PATTERN.test(value)) return refuse(ErrorCode.badFrame, `${name} must be 1-128 characters of A-Z a-z 0-9 _ : -`);
  }
  return null;
}
