/**
 * An in-memory ChatClient for view tests: the snapshot is whatever the test sets, and
 * every call the view makes is recorded. It implements the contract in client/types.ts
 * only, so the view tests do not depend on the client core or a relay.
 */
import type {
  BanResult,
  ChatClient,
  ChatClientEvent,
  ChatClientOptions,
  ChatMessage,
  ChatSnapshot,
  FileRef,
  SendOptions,
  UploadState,
  User,
} from '../client/types.js';

export type Call = { method: string; args: unknown[] };

export function emptySnapshot(overrides: Partial<ChatSnapshot> = {}): ChatSnapshot {
  return {
    connection: 'open',
    self: { id: 'alice', name: 'Alice' },
    conversation: 'c1',
    messages: [],
    hasOlder: false,
    loadingOlder: false,
    typing: [],
    members: [],
    firstUnreadSeq: null,
    uploads: [],
    limits: { maxTextChars: 4000, maxUploadBytes: 25 * 1024 * 1024 },
    refusal: null,
    unread: 0,
    moderator: false,
    ...overrides,
  };
}

const ALICE: User = { id: 'alice', name: 'Alice' };
const BOB: User = { id: 'bob', name: 'Bob' };

/** A confirmed message from Bob (others) or Alice (own, with a status). */
export function message(seq: number, overrides: Partial<ChatMessage> = {}): ChatMessage {
  const own = overrides.own ?? false;
  return {
    id: `m${seq}`,
    conv: 'c1',
    seq,
    from: own ? ALICE : BOB,
    text: `message ${seq}`,
    ts: Date.UTC(2025, 0, 1, 12, 0, seq % 60),
    own,
    ...(own ? { status: 'sent' as const } : {}),
    ...overrides,
  };
}

export class FakeClient implements ChatClient {
  snapshot: ChatSnapshot;
  readonly calls: Call[] = [];
  started = false;
  disposed = false;
  private readonly _listeners = new Set<(snapshot: ChatSnapshot) => void>();
  private readonly _eventListeners = new Set<(event: ChatClientEvent) => void>();
  private _nextId = 1;

  constructor(
    readonly options: ChatClientOptions = { relay: 'ws://relay.test/ws', conversation: 'c1' },
    snapshot: Partial<ChatSnapshot> = {},
  ) {
    this.snapshot = emptySnapshot({ conversation: options.conversation, ...snapshot });
  }

  /** Publishes a new snapshot, as the core does after each change. */
  set(changes: Partial<ChatSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...changes };
    for (const listener of this._listeners) listener(this.snapshot);
  }

  emit(event: ChatClientEvent): void {
    for (const listener of this._eventListeners) listener(event);
  }

  callsTo(method: string): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  subscribe(listener: (snapshot: ChatSnapshot) => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  on(listener: (event: ChatClientEvent) => void): () => void {
    this._eventListeners.add(listener);
    return () => this._eventListeners.delete(listener);
  }

  get listenerCount(): number {
    return this._listeners.size + this._eventListeners.size;
  }

  async start(): Promise<void> {
    this.started = true;
  }

  dispose(): void {
    this.disposed = true;
  }

  /** Recorded as (text, file) or, with options, (text, file, options): the options' file counts as the file. */
  send(text: string, fileOrOptions?: FileRef | SendOptions, options?: SendOptions): ChatMessage {
    let file: FileRef | undefined;
    if (fileOrOptions && 'url' in fileOrOptions) file = fileOrOptions;
    else if (fileOrOptions) {
      options = fileOrOptions;
      file = fileOrOptions.file;
    }
    if (options?.reply !== undefined) this._record('send', text, file, { reply: options.reply });
    else this._record('send', text, file);
    const sent: ChatMessage = {
      id: `local-${this._nextId++}`,
      conv: this.snapshot.conversation,
      from: this.snapshot.self ?? ALICE,
      ts: Date.now(),
      own: true,
      status: 'sending',
      text,
      ...(file ? { file } : {}),
    };
    this.set({ messages: [...this.snapshot.messages, sent] });
    return sent;
  }

  retry(messageId: string): void {
    this._record('retry', messageId);
  }

  discard(messageId: string): void {
    this._record('discard', messageId);
  }

  async loadOlder(): Promise<void> {
    this._record('loadOlder');
  }

  typed(): void {
    this._record('typed');
  }

  stoppedTyping(): void {
    this._record('stoppedTyping');
  }

  markRead(seq: number): void {
    this._record('markRead', seq);
  }

  upload(file: Blob & { name?: string }, text?: string, options?: { reply?: string }): UploadState {
    if (options) this._record('upload', file, text, options);
    else this._record('upload', file, text);
    const state: UploadState = { id: `u${this._nextId++}`, name: file.name ?? 'file', size: file.size, loaded: 0, state: 'uploading' };
    this.set({ uploads: [...this.snapshot.uploads, state] });
    return state;
  }

  cancelUpload(uploadId: string): void {
    this._record('cancelUpload', uploadId);
  }

  retryUpload(uploadId: string): void {
    this._record('retryUpload', uploadId);
  }

  dismissUpload(uploadId: string): void {
    this._record('dismissUpload', uploadId);
  }

  fileUrl(file: FileRef): string {
    return `http://relay.test${file.url}`;
  }

  edit(messageId: string, text: string): void {
    this._record('edit', messageId, text);
  }

  delete(messageId: string): void {
    this._record('delete', messageId);
  }

  react(messageId: string, emoji: string, on: boolean): void {
    this._record('react', messageId, emoji, on);
  }

  dismissChangeError(messageId: string): void {
    this._record('dismissChangeError', messageId);
  }

  async ban(userId: string, until?: number): Promise<BanResult> {
    this._record('ban', userId, until);
    return { ok: true };
  }

  /** Replaces one message of the snapshot (by id), as the core does after a change. */
  change(id: string, changes: Partial<ChatMessage>): void {
    this.set({ messages: this.snapshot.messages.map((m) => (m.id === id ? { ...m, ...changes } : m)) });
  }

  private _record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }
}
