/**
 * Refusals: the states in which the chat cannot work until the page or the site changes
 * something (a token that expired or was refused, a conversation the user may not see, an
 * origin the relay does not allow, a conversation id that is not one, no token at all).
 * Each gets its own words, a disabled composer, and no retry loop. Pure functions: the
 * element decides when to ask.
 */
import { tokenClaims, type ChatError } from './client/index.js';
import type { StringKey } from './i18n/index.js';

export interface Refusal {
  /** The code reported in `chat-room-error` (the relay's or the client's). */
  readonly code: string;
  /** Why, for the page and the words: `expired`, `unauthorized`, `conversation`, `removed`, `origin`, `token`, `version`, `too_many`, `config`. */
  readonly reason: string;
  /** The words shown. */
  readonly key: StringKey;
  /** A reload can fix it (a new token from the site, a new bundle). */
  readonly reload: boolean;
}

/** Conversation ids as the protocol allows them (protocol/schema.ts ID_PATTERN): checked before a join the relay would refuse. */
const CONVERSATION_ID = /^[A-Za-z0-9_:-]{1,128}$/;

export function isConversationId(id: string): boolean {
  return CONVERSATION_ID.test(id);
}

/** What the element's attributes alone rule out, before any client exists. */
export function configRefusal(options: {
  conversation: string;
  token: string;
  user: string;
  hasGetToken: boolean;
  hasSession: boolean;
  hasFactory: boolean;
}): Refusal | null {
  if (!isConversationId(options.conversation)) {
    return { code: 'bad_config', reason: 'conversation', key: 'refusal.badConversation', reload: false };
  }
  if (!options.hasFactory && !options.hasSession && !options.hasGetToken && !options.token && !options.user) {
    return { code: 'bad_config', reason: 'token', key: 'refusal.noToken', reload: false };
  }
  return null;
}

/**
 * Whether an error the client reported (not about one message) means the conversation is
 * refused for good, and which refusal. `sessionClosed`: the connection was closed by the
 * relay (a session refusal), which tells the origin's `forbidden` from a conversation's.
 */
export function errorRefusal(error: ChatError, context: { sessionClosed: boolean; tokenExpired: boolean }): Refusal | null {
  const reason = error.params?.['reason'];
  switch (error.code) {
    case 'unauthorized':
    case 'unauthenticated':
      if (reason === 'expired' || (reason === undefined && context.tokenExpired)) {
        return { code: error.code, reason: 'expired', key: 'refusal.expired', reload: true };
      }
      return { code: error.code, reason: 'unauthorized', key: 'refusal.unauthorized', reload: true };
    case 'forbidden':
      if (reason === 'origin' || (reason === undefined && context.sessionClosed)) {
        return { code: error.code, reason: 'origin', key: 'refusal.origin', reload: false };
      }
      if (reason === 'banned' || reason === 'removed') return { code: error.code, reason: 'removed', key: 'refusal.banned', reload: false };
      return { code: error.code, reason: 'conversation', key: 'refusal.conversation', reload: false };
    case 'unsupported_version':
      return { code: error.code, reason: 'version', key: 'refusal.version', reload: true };
    case 'too_many':
      return { code: error.code, reason: 'too_many', key: 'refusal.tooMany', reload: true };
    case 'bad_config':
      return {
        code: error.code,
        reason: typeof reason === 'string' ? reason : 'config',
        key: reason === 'conversation' ? 'refusal.badConversation' : reason === 'token' ? 'refusal.noToken' : 'refusal.badConfig',
        reload: false,
      };
    default:
      // A join the relay refused for another reason (the core says which conversation it was about).
      return reason === 'conversation' ? { code: error.code, reason: 'conversation', key: 'refusal.conversation', reload: false } : null;
  }
}

/** The `exp` of a JWT is past (read, not verified: only to choose the words). */
export function tokenExpired(token: string, now: number = Date.now()): boolean {
  const exp = tokenClaims(token).exp;
  return exp !== undefined && exp * 1000 <= now;
}
