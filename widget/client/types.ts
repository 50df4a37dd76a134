/**
 * The client core's public surface: what the Lit view (and any other UI) may use. The core
 * itself (connection, outbox, ordering buffer, history cache, statuses, typing, uploads)
 * lives beside this file and has no Lit and no DOM beyond WebSocket, timers, fetch/XHR
 * and the `online`/`offline` events.
 *
 * This file is the contract between widget/client/ and the view in widget/: change it
 * only together with both sides.
 */
import type { FileRef, Member, QuotedMessage, User } from '../../protocol/index.js';
import type { ChatError, ErrorParams } from './errors.js';

export type { ChatError, ErrorParams, FileRef, Member, QuotedMessage, User };

/** The kinds of change to a message (protocol v1.1). */
export type ChangeKind = 'edit' | 'delete' | 'react';

/** An emoji reaction on a message: who reacted with it, in the order they did. */
export interface Reaction {
  emoji: string;
  /** User ids, in the order they reacted. */
  users: readonly string[];
  /** The user is among them. */
  mine: boolean;
  /** The user's own change to this reaction is not confirmed by the relay yet. */
  pending?: true;
}

/** Why the relay refused the user's last change to a message (it was rolled back). */
export interface ChangeError extends ChatError {
  readonly change: ChangeKind;
}

export interface SendOptions {
  file?: FileRef;
  /** The id of the message this one answers (quoted above it). */
  reply?: string;
}

/** How a moderator's ban ended: done, or refused (`forbidden`: not a moderator) or unanswered (`no_answer`). */
export type BanResult = { ok: true } | { ok: false; error: ChatError };

/** One state machine: `connecting → open → closed → reconnecting → connecting …`; `offline` while the browser says so. */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'offline' | 'closed';

export type MessageStatus = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

export interface ChatMessage {
  /** Client-made id (UUID) for own messages; the relay's id for others. */
  id: string;
  conv: string;
  /** Assigned by the relay; undefined while an own message is not yet acked. */
  seq?: number;
  from: User;
  text?: string;
  file?: FileRef;
  ts: number;
  own: boolean;
  /** Own messages only. */
  status?: MessageStatus;
  /** Own messages: display names of the other members whose `read` cursor covers this message. */
  readBy?: string[];
  /** Why a `failed` message failed: a code and its parameters (the view words it). */
  error?: ChatError;
  /** When the text was last edited (ms). */
  edited?: number;
  /** The message was deleted: `text` and `file` are gone (show a tombstone). */
  deleted?: true;
  /** Emoji reactions in the order they were first given; absent when none. */
  reactions?: readonly Reaction[];
  /** The message this one answers, as quoted (its current state when this device holds it). */
  reply?: QuotedMessage;
  /** The id of the message this one answers (set even while the quote itself is not known). */
  replyTo?: string;
  /** The user's own changes to this message that show already but the relay has not confirmed yet. */
  pending?: readonly ChangeKind[];
  /** The relay refused the user's last change to this message; the change was rolled back. */
  changeError?: ChangeError;
}

export interface UploadState {
  /** Local id of this upload. */
  id: string;
  name: string;
  size: number;
  loaded: number;
  /** `waiting`: started (or cut off) while the connection was down; it begins when the connection is back (lost on reload). */
  state: 'waiting' | 'uploading' | 'failed' | 'done' | 'cancelled';
  /** Why it `failed`: a code and its parameters (e.g. `file_too_large` with `maxBytes`). */
  error?: ChatError;
}

/** Everything a view renders, as one immutable snapshot; a new object after each change. */
export interface ChatSnapshot {
  connection: ConnectionState;
  /** The signed-in user once `welcome` arrived (or from the cache before that). */
  self: User | null;
  conversation: string;
  /**
   * Confirmed messages, gap-free ascending by seq, followed by own messages that are not
   * acked yet (`sending`/`failed`) in the order they were written. Never has duplicates.
   */
  messages: readonly ChatMessage[];
  /** Older messages exist on the relay that are not in `messages`. */
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Other users typing now (never self). */
  typing: readonly User[];
  members: readonly Member[];
  /** The first seq that the user had not read when the conversation was opened (unread divider). */
  firstUnreadSeq: number | null;
  uploads: readonly UploadState[];
  /** The relay's limits from `welcome` (defaults until then). */
  limits: { maxTextChars: number; maxUploadBytes: number };
  /**
   * Why this conversation cannot work until something changes, or null. Nothing is retried
   * meanwhile (the outbox keeps its entries). `params.reason` says what is refused:
   * - `conversation`: the join was refused (`forbidden`: the token does not allow it or the user
   *   is banned; `too_many`, `bad_frame`, …); asked once more when the token changes;
   * - `removed`: removed after joining (`forbidden`: banned, or a renewed token no longer allows it);
   *   asked once more when the token changes;
   * - `origin` (`forbidden`): the relay does not allow this page's origin;
   * - `expired` / `invalid` (`unauthorized`): the relay refused the token (expired, or not valid);
   *   a new token (`setToken`, the `token` attribute) connects again;
   * - `bad_config` with `reason: 'conversation'`: the conversation id is not a valid id (1-128 of A-Z a-z 0-9 _ : -).
   */
  refusal: ChatError | null;
  /** Messages from others after the user's read cursor (as the session's `unread[conversation]`). */
  unread: number;
  /**
   * The user is a moderator (`welcome.role`; before the first welcome, the token's `role` claim):
   * deleting others' messages and `ban` may be offered. The relay checks for itself.
   */
  moderator: boolean;
}

export interface ChatSessionOptions {
  /** One WebSocket URL, or several separated by commas: on connection loss the next is tried. */
  relay: string;
  /** JWT; or, in open mode, `user` (and optionally `name`). */
  token?: string;
  /**
   * Asked for a fresh JWT on every connect, on a reconnect after the relay refused the token,
   * and before the token's `exp` (renewed on the open connection, no reconnect).
   */
  getToken?: () => Promise<string>;
  user?: string;
  name?: string;
  /** Storage for the outbox and the history cache; IndexedDB by default. Tests may pass an in-memory one. */
  storage?: KeyValueStorage;
  /** Injected for tests; default: globalThis.WebSocket. */
  WebSocket?: typeof WebSocket;
}

/** One conversation on a session of its own (`createChatClient`). */
export interface ChatClientOptions extends ChatSessionOptions {
  conversation: string;
}

/** The session as a whole: its connection, the user, and unread counts of its open conversations. */
export interface ChatSessionSnapshot {
  connection: ConnectionState;
  self: User | null;
  /** Messages from others after the user's read cursor, per open conversation. */
  unread: Readonly<Record<string, number>>;
  totalUnread: number;
  /** `solo`: this tab's own socket; `leader`: this tab's socket, shared with other tabs; `follower`: another tab's. */
  role: 'solo' | 'leader' | 'follower';
}

export type ChatSessionEvent =
  | { type: 'status'; connection: ConnectionState }
  | { type: 'error'; code: string; params?: ErrorParams };

/** One connection (shared by the tabs of this origin), one identity, many conversations. */
export interface ChatSession {
  readonly snapshot: ChatSessionSnapshot;
  subscribe(listener: (snapshot: ChatSessionSnapshot) => void): () => void;
  on(listener: (event: ChatSessionEvent) => void): () => void;
  /** A view of conversation `id` on this session's connection: `start()` it, `dispose()` it when done. */
  conversation(id: string): ChatClient;
  /** Connects (the first `conversation()` does too). */
  start(): Promise<void>;
  /** A fresh token for the same user: renews the open connection (no reconnect). */
  setToken(token: string): void;
  /** Closes the connection and every conversation of the session. */
  dispose(): void;
}

/** The key-value storage the core uses (localforage's shape; the default is localforage itself). */
export interface KeyValueStorage {
  getItem<T>(key: string): Promise<T | null>;
  setItem<T>(key: string, value: T): Promise<T>;
  removeItem(key: string): Promise<void>;
  /**
   * Every key held. With it the outbox stores one key per message, so tabs sharing the storage
   * never overwrite each other's entries; without it the outbox is one array under one key.
   */
  keys?(): Promise<string[]>;
}

export type ChatClientEvent =
  | { type: 'message'; message: ChatMessage }
  | { type: 'status'; connection: ConnectionState }
  | { type: 'error'; code: string; params?: ErrorParams; messageId?: string };

export interface ChatClient {
  readonly snapshot: ChatSnapshot;
  /** Called after every snapshot change; returns the unsubscribe function. */
  subscribe(listener: (snapshot: ChatSnapshot) => void): () => void;
  /** Notable events for the element to re-dispatch as DOM events (new message from others, connection change, errors). */
  on(listener: (event: ChatClientEvent) => void): () => void;

  /** Loads the cached history and outbox, then connects. */
  start(): Promise<void>;
  /** Closes the socket and timers for good (the element was removed or the conversation changed). */
  dispose(): void;

  /** Optimistic send: the returned message is in the snapshot at once with status `sending`. */
  send(text: string, file?: FileRef, options?: SendOptions): ChatMessage;
  send(text: string, options: SendOptions): ChatMessage;
  /** Resends a `failed` own message with the same id. */
  retry(messageId: string): void;
  /** Drops a `failed` own message from the outbox. */
  discard(messageId: string): void;

  /** Fetches the page before the oldest loaded message. */
  loadOlder(): Promise<void>;

  /** Called on every keystroke in the composer: sends `typing active:true` at most every 2 s, `false` after 3 s idle. */
  typed(): void;
  /** The composer lost focus or its text was sent: `typing active:false` now if it was active. */
  stoppedTyping(): void;

  /** The user has seen everything up to `seq` (on screen, page visible): `read` receipt, debounced. */
  markRead(seq: number): void;

  /** Uploads a file (XHR, with progress) and, when done, sends it as a message with optional text (answering `options.reply`). */
  upload(file: Blob & { name?: string }, text?: string, options?: { reply?: string }): UploadState;
  cancelUpload(uploadId: string): void;
  retryUpload(uploadId: string): void;
  dismissUpload(uploadId: string): void;

  /** Absolute URL of a file from a message (file URLs are relative to the relay's HTTP origin). */
  fileUrl(file: FileRef): string;

  /**
   * Changes the text of an own message. Optimistic: the snapshot shows it at once (`pending`
   * holds `edit` until the relay confirms); queued in the outbox (persisted, resent until
   * acked, after the message itself is acked). A refusal rolls it back and sets `changeError`.
   */
  edit(messageId: string, text: string): void;
  /** Deletes a message (own; a moderator: any). Optimistic and queued like `edit`. */
  delete(messageId: string): void;
  /** Puts (`on`) or takes back an emoji reaction. Optimistic and queued like `edit`. */
  react(messageId: string, emoji: string, on: boolean): void;
  /** Clears `changeError` of a message. */
  dismissChangeError(messageId: string): void;
  /** Moderators: bans `userId` from the conversation, until `until` (ms) or for good. Not queued: needs the connection. */
  ban(userId: string, until?: number): Promise<BanResult>;
}
