import { ContextProvider } from '@lit/context';
import { css, html, LitElement, nothing, type PropertyValues } from 'lit';
import { property, query, state } from 'lit/decorators.js';
import { acquireChatSession } from './client/index.js';
import { clientContext } from './context.js';
import { catalogueLanguage, english, loadCatalogue, loadedCatalogue, Locale, localeContext, type StringOverrides } from './i18n/index.js';
import { configRefusal, errorRefusal, jwtPayload, tokenExpired, type Refusal } from './refusal.js';
import { buttons, palette } from './styles.js';
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
  /** The words for it, in the element's language (widget/i18n/). */
  message: string;
  /** The message it is about, when it is about one. */
  messageId?: string;
  /** The error's parameters (e.g. `maxBytes` of `file_too_large`). */
  params?: Readonly<Record<string, string | number>>;
  /**
   * Set when the chat cannot work until the page changes something (the composer is disabled and
   * nothing is retried): `expired`, `unauthorized`, `conversation`, `origin`, `token`, `version`,
   * `too_many`, `banned`, `config`.
   */
  refusal?: string;
}

export type ChatRoomTheme = 'light' | 'dark' | 'auto';

export type ChatClientFactory = (options: ChatClientOptions) => ChatClient;

/** The element's events cross the shadow boundary so that the embedding page hears them. */
const EVENT_INIT = { bubbles: true, composed: true } as const;

/** Rooms that follow the page's `<html lang>` (no `lang` of their own), told when it changes. */
const pageLangFollowers = new Set<ChatRoom>();
let pageLangObserver: MutationObserver | undefined;

function followPageLang(room: ChatRoom, follow: boolean): void {
  if (follow) pageLangFollowers.add(room);
  else pageLangFollowers.delete(room);
  if (pageLangFollowers.size > 0 && !pageLangObserver) {
    pageLangObserver = new MutationObserver(() => {
      for (const follower of pageLangFollowers) follower.requestUpdate();
    });
    pageLangObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
  } else if (pageLangFollowers.size === 0 && pageLangObserver) {
    pageLangObserver.disconnect();
    pageLangObserver = undefined;
  }
}

/** Properties whose change may mean another conversation (or identity). */
const CLIENT_KEYS = ['relay', 'conversation', 'token', 'user', 'name', 'session', 'getToken', 'clientFactory'] as const;

/**
 * An embeddable real-time chat for one conversation.
 *
 * @summary `<chat-room relay="wss://…/ws" conversation="support-42" token="…"></chat-room>`
 *
 * @event chat-room-message - A message from somebody else arrived. `detail: { message }`.
 * @event chat-room-status - The connection changed state. `detail: { connection }` (`connecting`, `open`, `reconnecting`, `offline`, `closed`, `idle`).
 * @event chat-room-error - Something failed (a message was rejected, the token was refused…). `detail: { code, message, messageId?, params?, refusal? }`; `refusal` is set when the chat cannot work until the page changes something.
 *
 * @cssproperty [--chat-room-accent=#0b63ce] - Buttons, focus rings, the unread divider, read ticks (dark: #70b3ff). Pair: --chat-room-on-accent.
 * @cssproperty [--chat-room-on-accent=#ffffff] - Text on accent-coloured buttons (dark: #0b1b2e).
 * @cssproperty [--chat-room-bg=#ffffff] - Background (dark: #16181c). Pair: --chat-room-fg.
 * @cssproperty [--chat-room-fg=#1f2328] - Text colour (dark: #e6e8eb).
 * @cssproperty [--chat-room-muted=#59636e] - Secondary text on --chat-room-bg: times, ticks, typing line (dark: #a0a8b3).
 * @cssproperty [--chat-room-bubble-own=#dcebff] - Background of the user's own messages (dark: #1f3a5f). Pair: --chat-room-bubble-own-fg.
 * @cssproperty [--chat-room-bubble-own-fg=#1f2328] - Text of the user's own messages (dark: #e6e8eb).
 * @cssproperty [--chat-room-bubble-other=#eef0f2] - Background of other people's messages (dark: #262a30). Pair: --chat-room-bubble-other-fg.
 * @cssproperty [--chat-room-bubble-other-fg=#1f2328] - Text of other people's messages (dark: #e6e8eb).
 * @cssproperty [--chat-room-surface=#ffffff] - Background of the text box and buttons (dark: #1d2025). Pair: --chat-room-surface-fg.
 * @cssproperty [--chat-room-surface-fg=#1f2328] - Text of the text box and buttons (dark: #e6e8eb).
 * @cssproperty [--chat-room-border=#8c959f] - Borders of the widget, the text box and buttons (dark: #4a515b).
 * @cssproperty [--chat-room-danger=#b3261e] - Failed messages and upload errors, on --chat-room-bg (dark: #ff8a80).
 * @cssproperty [--chat-room-warning-bg=#fff4ce] - Background of the connection banner and refusals (dark: #3d3200). Pair: --chat-room-warning-fg.
 * @cssproperty [--chat-room-warning-fg=#4d3900] - Text of the connection banner and refusals (dark: #ffe08a).
 * @cssproperty [--chat-room-ok-bg=#dff6dd] - Background of "Back online" (dark: #10331a). Pair: --chat-room-ok-fg.
 * @cssproperty [--chat-room-ok-fg=#0f5c1a] - Text of "Back online" (dark: #a6e3b0).
 * @cssproperty [--chat-room-link=var(--chat-room-accent)] - Links in messages.
 * @cssproperty [--chat-room-radius=12px] - Corner radius of the widget and the bubbles.
 * @cssproperty [--chat-room-font=system-ui, sans-serif] - Font family.
 * @cssproperty [--chat-room-font-size=15px] - Base font size.
 *
 * @csspart banner - The connection banner (offline, reconnecting, back online).
 * @csspart refusal - Why the chat cannot work (session expired, no access…), with a Reload button when a reload can help.
 * @csspart reload-button - The Reload button of a refusal.
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
 * @csspart day - A day separator ("Today", "Yesterday", a date).
 * @csspart new-messages - The "N new messages" pill.
 * @csspart to-bottom - The scroll-to-the-newest-message button.
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
  static override styles = [
    palette,
    buttons,
    css`
      :host {
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
      }
      :host([hidden]) {
        display: none;
      }
      .root {
        display: contents;
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
      .refusal {
        display: flex;
        align-items: center;
        flex-wrap: wrap;
        gap: 0.5em 0.75em;
        padding: 0.6em 0.9em;
        background: var(--_warn-bg);
        color: var(--_warn-fg);
        font-size: 0.9em;
      }
      .refusal.alone {
        margin: auto;
        border-radius: calc(var(--_radius) / 2);
        max-width: 24em;
        justify-content: center;
        text-align: center;
      }
      .refusal p {
        margin: 0;
        flex: 1 1 12em;
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
    `,
  ];

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
   * The language of the widget's words, dates and numbers (`en`, `de`, `es`, `fr`, `ar`, `he`,
   * or a tag such as `de-AT` or `en-GB`). Default: the closest `lang` of the page (`<html lang>`),
   * followed when it changes.
   */
  @property({ reflect: true }) override lang = '';
  /** Replaces any of the widget's words (keys of widget/i18n/en.ts), e.g. `{ 'composer.placeholder': 'Ask us anything…' }` (property only). */
  @property({ attribute: false }) strings: StringOverrides | undefined;
  /** `light` (default: the page decides), `dark`, or `auto` (follows the system's colour scheme). */
  @property({ reflect: true }) theme: ChatRoomTheme = 'light';
  /**
   * Makes the client; replace it before the element connects to drive the view with
   * another implementation of the client contract (tests do).
   */
  @property({ attribute: false }) clientFactory: ChatClientFactory | undefined;

  @state() private _dragging = false;
  @state() private _refusal: Refusal | null = null;
  @query('chat-room-composer') private _composer!: ChatComposer | null;

  private readonly _provider = new ContextProvider(this, { context: clientContext });
  private readonly _localeProvider = new ContextProvider(this, { context: localeContext, initialValue: english });
  private _locale: Locale = english;
  /** The catalogue of the element's language is loading: render nothing rather than English first. */
  private _localePending = false;
  private _client: ChatClient | undefined;
  /** The shared session this element acquired (never one it was given): released with the client. */
  private _releaseSession: (() => void) | undefined;
  private _sessionUsed: ChatSession | undefined;
  private _offEvents: (() => void) | undefined;
  private _dragDepth = 0;
  private _identity: unknown[] = [];

  /** The client of the current conversation, if `relay` and `conversation` are set. */
  get client(): ChatClient | undefined {
    return this._client;
  }

  /** The words, dates and numbers of the element's language. */
  get locale(): Locale {
    return this._locale;
  }

  /** Why the chat cannot work right now (`expired`, `conversation`, `origin`…), or null. */
  get refusal(): string | null {
    return this._refusal?.reason ?? null;
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
    followPageLang(this, !this.lang);
    this._syncLocale();
    this._syncClient();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    followPageLang(this, false);
    this._disposeClient();
  }

  /** Moves keyboard focus to the text box. */
  override focus(options?: FocusOptions): void {
    this._composer?.focus(options);
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('lang') && this.isConnected) followPageLang(this, !this.lang);
    // Every update: the page's `<html lang>` may have changed (the observer asks for one).
    this._syncLocale();
    if (CLIENT_KEYS.some((key) => changed.has(key))) this._syncClient(changed.has('token'));
  }

  override render() {
    if (this._localePending) return nothing;
    const locale = this._locale;
    return html`<div class="root" dir=${locale.dir} lang=${locale.tag}>${this._renderContent()}</div>`;
  }

  private _renderContent() {
    const locale = this._locale;
    const refusal = this._refusal;
    if (!this._client) {
      if (refusal) return this._renderRefusal(refusal, true);
      return html`<p class="hint">${locale.t('room.missing')}</p>`;
    }
    return html`
      ${refusal ? this._renderRefusal(refusal, false) : html`<chat-room-connection exportparts="banner"></chat-room-connection>`}
      <chat-room-message-list
        exportparts="list, message, bubble, sender, text, meta, status, thumbnail, file-link, retry-button, divider, day, new-messages, to-bottom, load-older"
      ></chat-room-message-list>
      <chat-room-typing exportparts="typing"></chat-room-typing>
      <chat-room-uploads exportparts="uploads, upload, progress"></chat-room-uploads>
      <chat-room-composer
        exportparts="composer, input, send-button, attach-button"
        ?disabled=${refusal !== null}
      ></chat-room-composer>
      ${this._dragging ? html`<div part="drop-zone" class="drop" aria-hidden="true">${locale.t('room.drop')}</div>` : nothing}
    `;
  }

  private _renderRefusal(refusal: Refusal, alone: boolean) {
    const locale = this._locale;
    return html`<div part="refusal" class="refusal ${alone ? 'alone' : ''}" role="alert" data-refusal=${refusal.reason}>
      <p>${locale.t(refusal.key, { conversation: this.conversation })}</p>
      ${refusal.reload
        ? html`<button part="reload-button" type="button" @click=${() => location.reload()}>${locale.t('room.reload')}</button>`
        : nothing}
    </div>`;
  }

  // ------------------------------------------------------------------ language

  /** The language tag in force: the element's `lang`, else the closest one of the page, else the browser's. */
  private _langTag(): string {
    return (
      this.lang ||
      this.parentElement?.closest('[lang]')?.getAttribute('lang') ||
      document.documentElement.lang ||
      navigator.language ||
      'en'
    );
  }

  private _syncLocale(): void {
    const tag = this._langTag();
    const language = catalogueLanguage(tag);
    const catalogue = loadedCatalogue(language);
    if (!catalogue) {
      // Render nothing until the words arrive (a small chunk from the same origin), then update.
      this._localePending = this._locale === english && language !== 'en';
      void loadCatalogue(language).then(() => {
        this._localePending = false;
        this.requestUpdate();
      });
      return;
    }
    this._localePending = false;
    const current = this._locale;
    if (current.tag === tag && current.language === language && this._localeStrings === this.strings) return;
    this._localeStrings = this.strings;
    this._locale = new Locale(tag, catalogue, this.strings);
    this._localeProvider.setValue(this._locale);
  }

  private _localeStrings: StringOverrides | undefined;

  // ------------------------------------------------------------------ client

  /** Creates, replaces or drops the client so that it matches the attributes. */
  private _syncClient(tokenChanged = false): void {
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
    const key = factory
      ? [factory, this.relay, this.conversation, this.token, this.user, this.name]
      : [this.session ?? null, this.relay, this.conversation, this.user, this.name, this.getToken ?? null, this.session ? '' : tokenSubject(this.token)];
    // A refused session does not come back by itself: a new token starts over.
    const restart = tokenChanged && this._refusal !== null;
    if (this._client && sameKey(key, this._identity) && !restart) {
      if (!factory && this.token) this._sessionUsed?.setToken(this.token);
      return;
    }
    this._disposeClient();
    this._refusal = null;
    if (!this.relay || !this.conversation) return;

    const refused = configRefusal({
      conversation: this.conversation,
      token: this.token,
      user: this.user,
      hasGetToken: this.getToken !== undefined,
      hasSession: this.session !== undefined,
      hasFactory: factory !== undefined,
    });
    if (refused) {
      this._refuse(refused, { code: refused.code, params: { reason: refused.reason } });
      return;
    }

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
      console.error('chat-room: the client could not be made', error);
      this._refuse({ code: 'bad_config', reason: 'config', key: 'refusal.badConfig', reload: false }, { code: 'bad_config' });
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
      case 'error': {
        const error: ChatError = event.params ? { code: event.code, params: event.params } : { code: event.code };
        const refusal =
          event.messageId === undefined
            ? errorRefusal(error, {
                sessionClosed: this._client?.snapshot.connection === 'closed',
                tokenExpired: tokenExpired(this.token),
              })
            : null;
        if (refusal) this._refuse(refusal, error);
        else this._emitError(error, event.messageId);
        break;
      }
    }
  }

  /** The chat cannot work until the page changes something: say so, disable the composer, tell the page. */
  private _refuse(refusal: Refusal, error: ChatError): void {
    this._refusal = refusal;
    this._emitError(error, undefined, refusal.reason);
  }

  private _emitError(error: ChatError, messageId?: string, refusal?: string): void {
    const detail: ChatRoomErrorDetail = { code: error.code, message: this._locale.error(error) };
    if (messageId !== undefined) detail.messageId = messageId;
    if (error.params) detail.params = error.params;
    if (refusal !== undefined) {
      detail.refusal = refusal;
      if (this._refusal) detail.message = this._locale.t(this._refusal.key, { conversation: this.conversation });
    }
    this.dispatchEvent(new CustomEvent<ChatRoomErrorDetail>('chat-room-error', { detail, ...EVENT_INIT }));
  }

  // ------------------------------------------------------------------ files dropped on the widget

  private readonly _onDragEnter = (event: DragEvent): void => {
    if (!this._client || this._refusal || !hasFiles(event)) return;
    event.preventDefault();
    this._dragDepth++;
    this._dragging = true;
  };

  private readonly _onDragOver = (event: DragEvent): void => {
    if (!this._client || this._refusal || !hasFiles(event)) return;
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
    if (!this._client || this._refusal || !hasFiles(event)) return;
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
  const sub = jwtPayload(token)?.['sub'];
  return typeof sub === 'string' ? sub : token;
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
