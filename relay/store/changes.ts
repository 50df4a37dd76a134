/**
 * The rule of PROTOCOL.md "Changing messages", as one pure function over a message's stored
 * state. SQLite runs it inside its write transaction; PostgreSQL runs the same rule in its
 * `chat_write` function (postgres.ts), inside the transaction that holds the conversation's
 * lock. The conformance suite holds both to the same answers.
 */
import { Limits } from '../../protocol/index.js';
import type { ReactionPairs } from './rows.js';
import { Authority, type ChangeInput } from './types.js';

export interface MessageState {
  sender: string;
  text: string | null;
  deleted: boolean;
  reactions: ReactionPairs | null;
}

export type Decision =
  | { kind: 'unchanged' }
  | { kind: 'forbidden'; reason: 'not_author' | 'deleted' }
  | { kind: 'too_many_reactions' }
  /** Apply the change; for a reaction, the new reactions (null when none are left). */
  | { kind: 'apply'; reactions?: ReactionPairs | null };

const UNCHANGED: Decision = { kind: 'unchanged' };

export function decideChange(state: MessageState, input: ChangeInput): Decision {
  const { change, by, authority } = input;
  const author = state.sender === by.id;
  switch (change.kind) {
    case 'edit':
      if (!author && authority !== Authority.server) return { kind: 'forbidden', reason: 'not_author' };
      if (state.deleted) return { kind: 'forbidden', reason: 'deleted' };
      return state.text === change.text ? UNCHANGED : { kind: 'apply' };
    case 'delete':
      if (!author && authority === Authority.member) return { kind: 'forbidden', reason: 'not_author' };
      return state.deleted ? UNCHANGED : { kind: 'apply' };
    case 'react': {
      if (state.deleted) return { kind: 'forbidden', reason: 'deleted' };
      const pairs = state.reactions ?? [];
      const at = pairs.findIndex(([emoji]) => emoji === change.emoji);
      const users = at >= 0 ? pairs[at]![1] : [];
      const has = users.includes(by.id);
      if (has === change.on) return UNCHANGED;
      const next: ReactionPairs = pairs.map(([emoji, list]) => [emoji, list]);
      if (change.on) {
        if (at >= 0) next[at] = [change.emoji, [...users, by.id]];
        else if (pairs.length >= Limits.maxReactionsPerMessage) return { kind: 'too_many_reactions' };
        else next.push([change.emoji, [by.id]]);
      } else {
        const left = users.filter((u) => u !== by.id);
        if (left.length === 0) next.splice(at, 1);
        else next[at] = [change.emoji, left];
      }
      return { kind: 'apply', reactions: next.length > 0 ? next : null };
    }
  }
}
