/**
 * The message views of a snapshot (`ChatMessage`): a message's state (confirmed by the relay,
 * or as written for an own message not acked yet) with the user's own changes that the relay
 * has not confirmed yet applied on top, its status, reactions with "mine", the quoted message
 * and the flags of what is still pending. Views are immutable and reused while nothing they
 * are made of changed, so a view (Lit, React) can skip unchanged messages by identity.
 */
import type { FileRef, QuotedMessage, Reactions, User } from '../../protocol/index.js';
import { applyChange, type Change, type ChangeKind } from './changes.js';
import type { ChatError } from './errors.js';
import type { DerivedStatus } from './status.js';
import type { ChangeError, ChatMessage, Reaction } from './types.js';

/** A message as held: the relay's `msg` in its current state, or an own message as written (no seq yet). */
export interface MessageState {
  id: string;
  conv: string;
  seq?: number;
  from: User;
  ts: number;
  text?: string;
  file?: FileRef;
  edited?: number;
  deleted?: true;
  reactions?: Reactions;
  reply?: QuotedMessage;
}

/** An own change shown before the log has it: `confirmed` once acked (no longer pending, its update still on its way). */
export interface ShownChange {
  /** Names the change (its outbox entry): views are reused while the same changes apply. */
  key: string;
  change: Change;
  ts: number;
  confirmed: boolean;
}

export interface ViewInput {
  state: MessageState;
  own: boolean;
  /** Own messages: the status from the receipts (or `sending`/`failed`). */
  status?: DerivedStatus;
  error?: ChatError;
  changes: readonly ShownChange[];
  changeError?: ChangeError;
  /** The id of the message this one answers, when it is known only by id (an own message not sent yet). */
  replyTo?: string;
  /** The quoted message's current state when it is held (it may have been edited or deleted since). */
  quote?: QuotedMessage;
}

export function messageView(input: ViewInput, selfId: string): ChatMessage {
  let state = input.state;
  const pending = new Set<ChangeKind>();
  const pendingEmoji = new Set<string>();
  for (const shown of input.changes) {
    state = applyChange(state, shown.change, selfId, shown.ts);
    if (shown.confirmed) continue;
    pending.add(shown.change.type);
    if (shown.change.type === 'react') pendingEmoji.add(shown.change.emoji);
  }
  const view: ChatMessage = { id: state.id, conv: state.conv, from: state.from, ts: state.ts, own: input.own };
  if (state.seq !== undefined) view.seq = state.seq;
  if (state.text !== undefined) view.text = state.text;
  if (state.file !== undefined) view.file = state.file;
  if (input.status) {
    view.status = input.status.status;
    view.readBy = input.status.readBy;
  }
  if (input.error !== undefined) view.error = input.error;
  if (state.edited !== undefined) view.edited = state.edited;
  if (state.deleted) view.deleted = true;
  const reactions = reactionsOf(state.reactions, selfId, pendingEmoji);
  if (reactions) view.reactions = reactions;
  const replyTo = state.reply?.id ?? input.replyTo;
  if (replyTo !== undefined) view.replyTo = replyTo;
  const quote = input.quote ?? state.reply;
  if (quote) view.reply = quote;
  if (pending.size > 0) view.pending = Object.freeze([...pending]);
  if (input.changeError) view.changeError = input.changeError;
  return Object.freeze(view);
}

function reactionsOf(reactions: Reactions | undefined, selfId: string, pending: ReadonlySet<string>): readonly Reaction[] | undefined {
  if (!reactions) return undefined;
  const list = Object.entries(reactions)
    .filter(([, users]) => users.length > 0)
    .map(([emoji, users]): Reaction => {
      const reaction: Reaction = { emoji, users: Object.freeze([...users]), mine: users.includes(selfId) };
      if (pending.has(emoji)) reaction.pending = true;
      return Object.freeze(reaction);
    });
  return list.length > 0 ? Object.freeze(list) : undefined;
}

/** What a view is made of, compared by identity to decide whether the previous view still holds. */
export function viewDeps(input: ViewInput): readonly unknown[] {
  return [
    input.state,
    input.own,
    input.status?.status,
    input.status?.readBy.join('\u0000'),
    input.error,
    input.changes.map((c) => `${c.key}:${c.confirmed ? 1 : 0}`).join(','),
    input.changeError,
    input.replyTo,
    input.quote,
  ];
}

/** Views of the previous snapshot, reused when their inputs are the same. */
export class ViewMemo {
  private _previous = new Map<string, { deps: readonly unknown[]; view: ChatMessage }>();
  private _next = new Map<string, { deps: readonly unknown[]; view: ChatMessage }>();

  view(input: ViewInput, selfId: string): ChatMessage {
    const deps = [...viewDeps(input), selfId];
    const previous = this._previous.get(input.state.id);
    const view = previous && sameDeps(previous.deps, deps) ? previous.view : messageView(input, selfId);
    this._next.set(input.state.id, { deps, view });
    return view;
  }

  /** The snapshot is built: its views are the ones to reuse next time. */
  done(): void {
    this._previous = this._next;
    this._next = new Map();
  }
}

function sameDeps(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}
