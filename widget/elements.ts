/**
 * The class-only entry (`@chat-room/element/elements`): the element classes and a function
 * that registers them, without registering anything on import — for apps that register
 * elements themselves or extend a class first. The default entry (index.ts) registers.
 */
import { ChatComposer } from './chat-composer.js';
import { ChatConnection } from './chat-connection.js';
import { ChatMembers } from './chat-members.js';
import { ChatMessageList } from './chat-message-list.js';
import { ChatMessageElement } from './chat-message.js';
import { ChatRoom } from './chat-room.js';
import { ChatTyping } from './chat-typing.js';
import { ChatUploads } from './chat-uploads.js';
import { define } from './define.js';

export { ChatComposer, ChatConnection, ChatMembers, ChatMessageElement, ChatMessageList, ChatRoom, ChatTyping, ChatUploads };

/**
 * Registers `<chat-room>` and its inner elements (all prefixed `chat-room-`, so they never
 * collide with a page's own tags). Safe to call twice, or after another copy registered them.
 */
export function defineChatRoomElements(): void {
  define('chat-room-connection', ChatConnection);
  define('chat-room-members', ChatMembers);
  define('chat-room-message', ChatMessageElement);
  define('chat-room-message-list', ChatMessageList);
  define('chat-room-typing', ChatTyping);
  define('chat-room-uploads', ChatUploads);
  define('chat-room-composer', ChatComposer);
  define('chat-room', ChatRoom);
}
