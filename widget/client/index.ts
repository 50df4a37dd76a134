/**
 * The widget's client core: `createChatSession` (one connection, many conversations),
 * `createChatClient` (one conversation on a session of its own), the types of
 * widget/client/types.ts and the error codes. No Lit and no DOM, so it runs in Node too.
 */
import { ID_PATTERN } from '../../protocol/index.js';
import { acquireSession, createClient, createSession } from './session.js';
import type { ChatClient, ChatClientOptions, ChatSession, ChatSessionOptions } from './types.js';

export type * from './types.js';
export { ChatErrorCode, ClientErrorCode, type ChatError, type ErrorParams } from './errors.js';
/** The claims of a JWT the core reads (`sub`, `exp`, `role`), unverified: the relay verifies. */
export { tokenClaims } from './storage.js';

/** One session per (relay, user): `session.conversation(id)` for each conversation; `dispose()` when done. */
export function createChatSession(options: ChatSessionOptions): ChatSession {
  return createSession(options);
}

/** One conversation on a session of its own; `start()` connects, `dispose()` closes both. */
export function createChatClient(options: ChatClientOptions): ChatClient {
  return createClient(options);
}

/**
 * The page's shared session for (relay, user): every caller naming the same relay and user
 * gets the same session; the last `release()` disposes it. `<chat-room>` uses this.
 */
export function acquireChatSession(options: ChatSessionOptions): { session: ChatSession; release: () => void } {
  const { session, release } = acquireSession(options);
  return { session, release };
}

/** Whether `id` can name a conversation (1-128 characters of A-Z a-z 0-9 _ : -); others are refused with `bad_config`. */
export function isConversationId(id: string): boolean {
  return ID_PATTERN.test(id);
}
