/**
 * Changes to messages (protocol v1.1: edit, delete, react), as pure functions over `msg`
 * objects: the relay's `update` events are applied with them, and so are the user's own
 * changes that the relay has not confirmed yet (shown at once, "optimistic"). Applying a
 * change is idempotent (setting a text, a deletion, whether one user reacted with one emoji),
 * so a change applied optimistically and then again from the log shows the same thing.
 */
import { Limits, type FileRef, type MessageFrame, type QuotedMessage, type Reactions, type UpdateFrame } from '../../protocol/index.js';

export type Change = { type: 'edit'; text: string } | { type: 'delete' } | { type: 'react'; emoji: string; on: boolean };
export type ChangeKind = Change['type'];

/** What a change touches: a relay `msg`, or an own message as the view holds it. */
export interface Changeable {
  text?: string;
  file?: FileRef;
  edited?: number;
  deleted?: true;
  reactions?: Reactions;
}

export function changeOf(update: UpdateFrame): Change | null {
  if (update.edit) return { type: 'edit', text: update.edit.text };
  if (update.delete) return { type: 'delete' };
  if (update.react) return { type: 'react', emoji: update.react.emoji, on: update.react.on };
  return null;
}

/** `message` with `change` by user `by` at `ts`; the same object when it changes nothing. */
export function applyChange<T extends Changeable>(message: T, change: Change, by: string, ts: number): T {
  switch (change.type) {
    case 'edit': {
      // A deleted message stays deleted (the relay refuses such an edit).
      if (message.deleted || message.text === change.text) return message;
      return { ...message, text: change.text, edited: ts };
    }
    case 'delete': {
      if (message.deleted) return message;
      const { text: _text, file: _file, ...rest } = message;
      return { ...rest, deleted: true } as T;
    }
    case 'react': {
      if (message.deleted) return message;
      const reactions = react(message.reactions, change.emoji, by, change.on);
      if (reactions === message.reactions) return message;
      const { reactions: _old, ...rest } = message;
      return (reactions ? { ...rest, reactions } : rest) as T;
    }
  }
}

/**
 * The relay's `update` applied to `message`: the message in its new state with `rev` = the
 * update's seq, or null when the update is already in it (its seq is not above `rev`).
 */
export function applyUpdate(message: MessageFrame, update: UpdateFrame): MessageFrame | null {
  if (update.id !== message.id || update.seq <= message.seq || update.seq <= (message.rev ?? 0)) return null;
  const change = changeOf(update);
  const changed = change ? applyChange(message, change, update.by.id, update.ts) : message;
  return { ...changed, rev: update.seq };
}

/** `reactions` with `user` added to (`on`) or removed from `emoji`, order kept, empty emoji dropped; the same object when nothing changes. */
function react(reactions: Reactions | undefined, emoji: string, user: string, on: boolean): Reactions | undefined {
  const users = reactions?.[emoji] ?? [];
  if (users.includes(user) === on) return reactions;
  const next: Reactions = {};
  for (const [key, list] of Object.entries(reactions ?? {})) {
    if (key !== emoji) next[key] = list;
    else if (!on) {
      const left = list.filter((id) => id !== user);
      if (left.length > 0) next[key] = left;
    } else next[key] = [...list, user];
  }
  if (on && !(emoji in next)) next[emoji] = [user];
  return Object.keys(next).length > 0 ? next : undefined;
}

/** How a reply quotes `message` in its current state (as the relay does: text cut to `Limits.maxQuoteChars`). */
export function quoteOf(message: MessageFrame): QuotedMessage {
  const quote: QuotedMessage = { id: message.id, seq: message.seq, from: message.from };
  if (message.deleted) quote.deleted = true;
  else {
    if (message.text !== undefined) quote.text = cut(message.text, Limits.maxQuoteChars);
    if (message.file !== undefined) quote.file = message.file;
  }
  return quote;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return Array.from(text).slice(0, max).join('');
}
