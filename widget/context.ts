import { createContext } from '@lit/context';
import type { ChatClient } from './client/types.js';

/**
 * The client that `<chat-room>` created for its current relay/conversation. Parts consume
 * it with `subscribe: true` because the element replaces the client when an attribute
 * such as `conversation` changes.
 */
export const clientContext = createContext<ChatClient | undefined>(Symbol('chat-room-client'));
