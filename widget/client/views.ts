/**
 * The message views of a snapshot (`ChatMessage`): a message's state (confirmed by the relay,
 * or as written for an own message not acked yet) with the user's own changes that the relay
 * has not confirmed yet applied on top, its status, reactions with "mine", the quoted message
 * and the flags of what is still pending. Views are immutable and reused while nothing they
 * are made of changed, so a view (Lit, React) can skip unchanged messages by identity.
 */
import type { FileRef, MessageFrame, QuotedMessage, Reactions, User } from '../../protocol/index.js';
import { applyChange, quoteOf, type Change, type ChangeKind } from './changes.js';
import type { ChatError } from './errors.js';
import { errorOf, type MessageEntry } from './outbox.js';
import type { DerivedStatus, ReceiptView } from './status.js';
import type { Acked } from './timeline.js';
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

/** What a snapshot's messages are made of. */
export interface ViewSources {
  selfId: string;
  /** The sender of own messages not confirmed yet. */
  from: User;
  receipts: ReceiptView;
  /** The messages held, in their current state, ascending. */
  confirmed: readonly MessageFrame[];
  /** Own messages acked but not in the run yet, ascending by seq. */
  acked: readonly Acked<MessageEntry>[];
  /** Own messages not acked yet (sending or failed), in the order written. */
  unsent: readonly MessageEntry[];
  /** Own changes to show, per message. */
  changes: ReadonlyMap<string, ShownChange[]>;
  changeError: (id: string) => ChangeError | undefined;
  /** A held message by id (for quotes in their current state). */
  held: (id: string) => MessageFrame | undefined;
}

/**
 * The message list of a snapshot: confirmed messages, then acked own messages on their way,
 * then own messages still sending or failed. Views, quotes and own messages' states are made
 * once and reused while their inputs stay the same objects.
 */
export class MessageViews {
  private readonly _memo = new ViewMemo();
  private readonly _quotes = new WeakMap<MessageFrame, QuotedMessage>();
  private readonly _ownStates = new WeakMap<MessageEntry, { key: string; state: MessageState }>();

  build(sources: ViewSources): ChatMessage[] {
    const { selfId, receipts } = sources;
    const messages: ChatMessage[] = [];
    const keep = (input: ViewInput): void => {
      const id = input.state.id;
      const changes = sources.changes.get(id);
      if (changes) input.changes = changes;
      const changeError = sources.changeError(id);
      if (changeError) input.changeError = changeError;
      const quoted = input.replyTo ?? input.state.reply?.id;
      const quote = quoted !== undefined ? this._quoteOf(sources.held(quoted)) : undefined;
      if (quote) input.quote = quote;
      messages.push(this._memo.view(input, selfId));
    };
    for (const frame of sources.confirmed) {
      const own = frame.from.id === selfId;
      keep({ state: frame, own, changes: [], ...(own ? { status: receipts.statusOf({ seq: frame.seq }) } : {}) });
    }
    for (const { entry, seq, ts } of sources.acked) {
      keep({ state: this._ownState(entry, sources.from, seq, ts), own: true, changes: [], status: receipts.statusOf({ seq }), ...replyOf(entry) });
    }
    for (const entry of sources.unsent) {
      const error = errorOf(entry);
      const input: ViewInput = {
        state: this._ownState(entry, sources.from),
        own: true,
        changes: [],
        status: receipts.statusOf({ failed: error !== undefined }),
        ...replyOf(entry),
      };
      if (error) input.error = error;
      keep(input);
    }
    this._memo.done();
    return messages;
  }

  /** The quote of a held message in its current state (made once per state). */
  private _quoteOf(message: MessageFrame | undefined): QuotedMessage | undefined {
    if (!message) return undefined;
    let quote = this._quotes.get(message);
    if (!quote) this._quotes.set(message, (quote = quoteOf(message)));
    return quote;
  }

  /** An own message not in the run yet, as a message state (made once per entry, seq, ts and sender). */
  private _ownState(entry: MessageEntry, from: User, seq?: number, ts?: number): MessageState {
    const key = `${seq ?? ''}|${ts ?? ''}|${from.id}|${from.name}`;
    const cached = this._ownStates.get(entry);
    if (cached?.key === key) return cached.state;
    const state: MessageState = { id: entry.id, conv: entry.conv, from, ts: ts ?? entry.ts };
    if (seq !== undefined) state.seq = seq;
    if (entry.text !== undefined) state.text = entry.text;
    if (entry.file !== undefined) state.file = entry.file;
    this._ownStates.set(entry, { key, state });
    return state;
  }
}

function replyOf(entry: MessageEntry): { replyTo?: string } {
  return entry.reply !== undefined ? { replyTo: entry.reply } : {};
}
