import { ContextProvider } from '@lit/context';
import { css, html, LitElement, nothing, type PropertyValues } from 'lit';
import { property, query, state } from 'lit/decorators.js';
import { acquireChatSession } from './client/index.js';
import { clientContext } from './context.js';
import { errorText } from './messages.js';
import type { ChatComposer } from './chat-composer.js';
import type {
  ChatClient,
  ChatClientEvent,
  ChatClientOptions,
  ChatError,
  ChatMessage,
  ChatSession,
  ChatSessionOptions,
  ConnectionState,
} from './client/index.js';

export interface ChatRoomMessageDetail {
  message: ChatMessage;
}
export interface ChatRoomStatusDetail {
  connection: ConnectionState;
}
export interface ChatRoomErrorDetail {
  /** A code of `ChatErrorCode` (the client's and the relay's). */
  code: string;
  /** The English words for it (widget/messages.ts). */
  message: string;
  messageId?: string;
}

export type ChatClientFactory = (options: ChatClientOptions) => ChatClient;

/** The element's events cross the shadow boundary so that the embedding page hears them. */
const EVENT_INIT = { bubbles: true, composed: true } as const;

/** Properties whose change may mean another conversation (or identity). */
const CLIENT_KEYS = ['relay', 'conversation', 'token', 'user', 'name', 'session', 'getToken', 'clientFactory'] as const;

/**
 * An embeddable real-time chat for one conversation.
 *
 * @summary `<chat-room relay="wss://…/ws" conversation="support-42" token="…"></chat-room>`
 *
 * @event chat-room-message - A message from somebody else arrived. `detail: { message }`.
 * @event chat-room-status - The connection changed state. `detail: { connection }` (`connecting`, `open`, `reconnecting`, `offline`, `closed`, `idle`).
 * @event chat-room-error - Something failed (a message was rejected, the token was refused…). `detail: { code, message, messageId? }`.
 *
 * @cssproperty [--chat-room-accent=#0b63ce] - Buttons, focus rings, the unread divider, read ticks (dark: #70b3ff).
 * @cssproperty [--chat-room-on-accent=#ffffff] - Text on accent-coloured buttons (dark: #0b1b2e).
 * @cssproperty [--chat-room-bg=#ffffff] - Background (dark: #16181c).
 * @cssproperty [--chat-room-fg=#1f2328] - Text colour (dark: #e6e8eb).
 * @cssproperty [--chat-room-muted=#59636e] - Secondary text: times, ticks, typing line (dark: #a0a8b3).
 * @cssproperty [--chat-room-bubble-own=#dcebff] - Background of the user's own messages (dark: #1f3a5f).
 * @cssproperty [--chat-room-bubble-other=#eef0f2] - Background of other people's messages (dark: #262a30).
 * @cssproperty [--chat-room-surface=#ffffff] - Background of the text box and buttons (dark: #1d2025).
 * @cssproperty [--chat-room-border=#8c959f] - Borders of the widget, the text box and buttons (dark: #4a515b).
 * @cssproperty [--chat-room-danger=#b3261e] - Failed messages and upload errors (dark: #ff8a80).
 * @cssproperty [--chat-room-radius=12px] - Corner radius of the widget and the bubbles.
 * @cssproperty [--chat-room-font=system-ui, sans-serif] - Font family.
 * @cssproperty [--chat-room-font-size=15px] - Base font size.
 *
 * @csspart banner - The connection banner (offline, reconnecting, back online).
 * @csspart list - The scrolling message log.
 * @csspart message - A message row.
 * @csspart bubble - A message bubble.
 * @csspart sender - The sender's name.
 * @csspart text - A message's text.
 * @csspart meta - A message's time and status line.
 * @csspart status - The ticks of an own message.
 * @csspart thumbnail - An image attachment's thumbnail.
 * @csspart file-link - A non-image attachment's download link.
 * @csspart retry-button - The retry button of a failed message.
 * @csspart divider - The unread messages divider.
 * @csspart new-messages - The "new messages" pill.
 * @csspart load-older - The "load older messages" button.
 * @csspart typing - The typing line.
 * @csspart uploads - The list of running uploads.
 * @csspart upload - One running upload.
 * @csspart progress - An upload's progress bar.
 * @csspart composer - The form with the text box and buttons.
 * @csspart input - The text box.
 * @csspart send-button - The send button.
 * @csspart attach-button - The attach button.
 * @csspart drop-zone - The overlay shown while files are dragged over the widget.
 *
 * @tagname chat-room
 */
export class ChatRoom extends LitElement {
  static override styles = css`
    :host {
      --_accent: var(--chat-room-accent, #0b63ce);
      --_on-accent: var(--chat-room-on-accent, #ffffff);
      --_bg: var(--chat-room-bg, #ffffff);
      --_fg: var(--chat-room-fg, #1f2328);
      --_muted: var(--chat-room-muted, #59636e);
      --_bubble-own: var(--chat-room-bubble-own, #dcebff);
      --_bubble-other: var(--chat-room-bubble-other, #eef0f2);
      --_surface: var(--chat-room-surface, #ffffff);
      --_border: var(--chat-room-border, #8c959f);
      --_danger: var(--chat-room-danger, #b3261e);
      --_link: var(--chat-room-link, var(--_accent));
      --_radius: var(--chat-room-radius, 12px);
      --_warn-bg: #fff4ce;
      --_warn-fg: #4d3900;
      --_ok-bg: #dff6dd;
      --_ok-fg: #0f5c1a;

      display: flex;
      flex-direction: column;
      position: relative;
      box-sizing: border-box;
      height: 28rem;
      min-width: 16rem;
      overflow: hidden;
      color: var(--_fg);
      background: var(--_bg);
      font-family: var(--chat-room-font, system-ui, sans-serif);
      font-size: var(--chat-room-font-size, 15px);
      line-height: 1.4;
      border: 1px solid var(--_border);
      border-radius: var(--_radius);
      color-scheme: light;
    }
    @media (prefers-color-scheme: dark) {
      :host {
        --_accent: var(--chat-room-accent, #70b3ff);
        --_on-accent: var(--chat-room-on-accent, #0b1b2e);
        --_bg: var(--chat-room-bg, #16181c);
        --_fg: var(--chat-room-fg, #e6e8eb);
        --_muted: var(--chat-room-muted, #a0a8b3);
        --_bubble-own: var(--chat-room-bubble-own, #1f3a5f);
        --_bubble-other: var(--chat-room-bubble-other, #262a30);
        --_surface: var(--chat-room-surface, #1d2025);
        --_border: var(--chat-room-border, #4a515b);
        --_danger: var(--chat-room-danger, #ff8a80);
        --_warn-bg: #3d3200;
        --_warn-fg: #ffe08a;
        --_ok-bg: #10331a;
        --_ok-fg: #a6e3b0;
        color-scheme: dark;
      }
    }
    :host([hidden]) {
      display: none;
    }
    chat-room-message-list {
      flex: 1;
      min-height: 0;
    }
    .hint {
      margin: auto;
      padding: 1em;
      color: var(--_muted);
      text-align: center;
    }
    .drop {
      position: absolute;
      inset: 0.4em;
      display: flex;
      align-items: center;
      justify-content: center;
      border: 2px dashed var(--_accent);
      border-radius: var(--_radius);
      background: color-mix(in srgb, var(--_bg) 85%, transparent);
      color: var(--_fg);
      font-weight: 600;
      pointer-events: none;
    }
  `;

  /** WebSocket URL of the relay (`wss://host/ws`); several separated by commas are tried in turn. */
  @property() relay = '';
  /** Conversation id (1–128 characters of `A-Z a-z 0-9 _ : -`). */
  @property() conversation = '';
  /**
   * JWT issued by your backend (signed with the relay's `CHAT_JWT_SECRET`). A new token for the
   * same user renews the open connection. Prefer the property (or `getToken`) to the attribute:
   * attributes show up in DOM dumps.
   */
  @property() token = '';
  /** Asked for a fresh JWT on connect, after the relay refused one, and before `exp` (property only). */
  @property({ attribute: false }) getToken: (() => Promise<string>) | undefined;
  /**
   * The session to use (property only). Without it, every `<chat-room>` of the page that names
   * the same relay and user shares one session (one connection), made and disposed by the elements.
   */
  @property({ attribute: false }) session: ChatSession | undefined;
  /** Open mode only (relay without a secret): the user id. */
  @property() user = '';
  /** Open mode only: the display name. */
  @property() name = '';
  /**
   * Makes the client; replace it before the element connects to drive the view with
   * another implementation of the client contract (tests do).
   */
  @property({ attribute: false }) clientFactory: ChatClientFactory | undefined;

  @state() private _dragging = false;
  @query('chat-room-composer') private _composer!: ChatComposer | null;

  private readonly _provider = new ContextProvider(this, { context: clientContext });
  private _client: ChatClient | undefined;
  /** The shared session this element acquired (never one it was given): released with the client. */
  private _releaseSession: (() => void) | undefined;
  private _sessionUsed: ChatSession | undefined;
  private _offEvents: (() => void) | undefined;
  private _dragDepth = 0;

  /** The client of the current conversation, if `relay` and `conversation` are set. */
  get client(): ChatClient | undefined {
    return this._client;
  }

  constructor() {
    super();
    this.addEventListener('dragenter', this._onDragEnter);
    this.addEventListener('dragover', this._onDragOver);
    this.addEventListener('dragleave', this._onDragLeave);
    this.addEventListener('drop', this._onDrop);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this._syncClient();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this._disposeClient();
  }

  /** Moves keyboard focus to the text box. */
  override focus(options?: FocusOptions): void {
    this._composer?.focus(options);
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (CLIENT_KEYS.some((key) => changed.has(key))) this._syncClient();
  }

  override render() {
    if (!this._client) {
      return html`<p class="hint">Set the <code>relay</code> and <code>conversation</code> attributes to start chatting.</p>`;
    }
    return html`
      <chat-room-connection exportparts="banner"></chat-room-connection>
      <chat-room-message-list
        exportparts="list, message, bubble, sender, text, meta, status, thumbnail, file-link, retry-button, divider, new-messages, load-older"
      ></chat-room-message-list>
      <chat-room-typing exportparts="typing"></chat-room-typing>
      <chat-room-uploads exportparts="uploads, upload, progress"></chat-room-uploads>
      <chat-room-composer exportparts="composer, input, send-button, attach-button"></chat-room-composer>
      ${this._dragging ? html`<div part="drop-zone" class="drop" aria-hidden="true">Drop files to send them</div>` : nothing}
    `;
  }

  /** Creates, replaces or drops the client so that it matches the attributes. */
  private _syncClient(): void {
    if (!this.isConnected) return;
    const sessionOptions: ChatSessionOptions = { relay: this.relay };
    if (this.token) sessionOptions.token = this.token;
    if (this.getToken) {
      const getToken = this.getToken;
      sessionOptions.getToken = () => getToken();
    }
    if (this.user) sessionOptions.user = this.user;
    if (this.name) sessionOptions.name = this.name;
    const factory = this.clientFactory;
    // A client factory (tests) gets everything; a session is keyed by relay and user, so a new token for the same user only renews it.
    const identity = factory
      ? [factory, this.relay, this.conversation, this.token, this.user, this.name]
      : [this.session ?? null, this.relay, this.conversation, this.user, this.name, this.getToken ?? null, this.session ? '' : tokenSubject(this.token)];
    const key = identity;
    if (this._client && sameKey(key, this._identity)) {
      if (!factory && this.token) this._sessionUsed?.setToken(this.token);
      return;
    }
    this._disposeClient();
    if (!this.relay || !this.conversation) return;

    let client: ChatClient;
    try {
      if (factory) client = factory({ ...sessionOptions, conversation: this.conversation });
      else {
        let session = this.session;
        if (!session) {
          const acquired = acquireChatSession(sessionOptions);
          session = acquired.session;
          this._releaseSession = acquired.release;
        }
        this._sessionUsed = session;
        if (this.token) session.setToken(this.token);
        client = session.conversation(this.conversation);
      }
    } catch (error) {
      this._releaseSession?.();
      this._releaseSession = undefined;
      this._emitError({ code: 'bad_config', params: { reason: error instanceof Error ? error.message : String(error) } });
      return;
    }
    this._client = client;
    this._identity = key;
    this._offEvents = client.on((event) => this._redispatch(event));
    this._provider.setValue(client);
    this.requestUpdate();
    client.start().catch((error: unknown) => {
      if (this._client === client) this._emitError({ code: 'internal' });
      console.error('chat-room: the client failed to start', error);
    });
  }

  private _identity: unknown[] = [];

  private _disposeClient(): void {
    const client = this._client;
    if (!client) return;
    this._offEvents?.();
    this._offEvents = undefined;
    this._client = undefined;
    this._identity = [];
    this._provider.setValue(undefined);
    client.dispose();
    // Only a session this element acquired; one given through `.session` belongs to the page.
    this._releaseSession?.();
    this._releaseSession = undefined;
    this._sessionUsed = undefined;
    this.requestUpdate();
  }

  private _redispatch(event: ChatClientEvent): void {
    switch (event.type) {
      case 'message':
        this.dispatchEvent(
          new CustomEvent<ChatRoomMessageDetail>('chat-room-message', { detail: { message: event.message }, ...EVENT_INIT }),
        );
        break;
      case 'status':
        this.dispatchEvent(
          new CustomEvent<ChatRoomStatusDetail>('chat-room-status', { detail: { connection: event.connection }, ...EVENT_INIT }),
        );
        break;
      case 'error':
        this._emitError(event, event.messageId);
        break;
    }
  }

  /** `message` is the English text from messages.ts, so listeners of the public event keep getting words. */
  private _emitError(error: ChatError, messageId?: string): void {
    const detail: ChatRoomErrorDetail = { code: error.code, message: errorText(error) };
    if (messageId !== undefined) detail.messageId = messageId;
    this.dispatchEvent(new CustomEvent<ChatRoomErrorDetail>('chat-room-error', { detail, ...EVENT_INIT }));
  }

  private readonly _onDragEnter = (event: DragEvent): void => {
    if (!this._client || !hasFiles(event)) return;
    event.preventDefault();
    this._dragDepth++;
    this._dragging = true;
  };

  private readonly _onDragOver = (event: DragEvent): void => {
    if (!this._client || !hasFiles(event)) return;
    // Without preventDefault on dragover the browser refuses the drop.
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  };

  private readonly _onDragLeave = (): void => {
    // dragleave fires for every child crossed: count to know when the pointer really left.
    this._dragDepth = Math.max(0, this._dragDepth - 1);
    if (this._dragDepth === 0) this._dragging = false;
  };

  private readonly _onDrop = (event: DragEvent): void => {
    this._dragDepth = 0;
    this._dragging = false;
    if (!this._client || !hasFiles(event)) return;
    event.preventDefault();
    const files = event.dataTransfer?.files;
    if (files) for (const file of Array.from(files)) this._client.upload(file);
  };
}

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** The `sub` of a JWT (not verified: only to tell one user from another), or the token itself when unreadable. */
function tokenSubject(token: string): string {
  try {
    const payload = token.split('.')[1] ?? '';
    const sub = (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : token;
  } catch {
    return token;
  }
}

function hasFiles(event: DragEvent): boolean {
  return event.dataTransfer?.types.includes('Files') ?? false;
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room': ChatRoom;
  }
  interface HTMLElementEventMap {
    'chat-room-message': CustomEvent<ChatRoomMessageDetail>;
    'chat-room-status': CustomEvent<ChatRoomStatusDetail>;
    'chat-room-error': CustomEvent<ChatRoomErrorDetail>;
  }
}
