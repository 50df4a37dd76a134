/**
 * The widget bundle's entry: importing it registers `<chat-room>` and its parts.
 * `dist/chat-room.js` is built from this file. `elements.ts` is the same without registering.
 */
import { defineChatRoomElements } from './elements.js';

defineChatRoomElements();

export { ChatRoom } from './chat-room.js';
export { defineChatRoomElements } from './elements.js';
export type { ChatClientFactory, ChatRoomErrorDetail, ChatRoomMessageDetail, ChatRoomStatusDetail } from './chat-room.js';
export type {
  ChatClient,
  ChatClientOptions,
  ChatMessage,
  ChatSession,
  ChatSessionOptions,
  ChatSessionSnapshot,
  ChatSnapshot,
  ConnectionState,
  MessageStatus,
  UploadState,
} from './client/index.js';
export { acquireChatSession, createChatSession, ChatErrorCode } from './client/index.js';
