/**
 * `<ChatRoom>` for React, made by @lit/react from the element: properties are set as
 * properties (so `session`, `getToken` and other objects pass through), and the element's
 * events are React props (`onMessage`, `onStatus`, `onError`). React is the app's own copy
 * (a peer dependency); this module registers `<chat-room>` like the main entry.
 *
 *   import { ChatRoom } from '@chat-room/element/react';
 *   <ChatRoom relay="wss://chat.example.com/ws" conversation="support-42" token={token}
 *             onMessage={(e) => console.log(e.detail.message)} />
 */
import { createComponent, type EventName } from '@lit/react';
import * as React from 'react';
import { ChatRoom as ChatRoomElement, type ChatRoomErrorDetail, type ChatRoomMessageDetail, type ChatRoomStatusDetail } from './chat-room.js';
import { defineChatRoomElements } from './elements.js';

defineChatRoomElements();

export const ChatRoom = createComponent({
  tagName: 'chat-room',
  elementClass: ChatRoomElement,
  react: React,
  events: {
    onMessage: 'chat-room-message' as EventName<CustomEvent<ChatRoomMessageDetail>>,
    onStatus: 'chat-room-status' as EventName<CustomEvent<ChatRoomStatusDetail>>,
    onError: 'chat-room-error' as EventName<CustomEvent<ChatRoomErrorDetail>>,
  },
  displayName: 'ChatRoom',
});

export type { ChatRoomErrorDetail, ChatRoomMessageDetail, ChatRoomStatusDetail };
