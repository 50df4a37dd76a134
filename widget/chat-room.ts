import { ContextProvider } from '@lit/context';
import { css, html, LitElement, nothing, svg, unsafeCSS, type PropertyValues } from 'lit';
import { property, query, state } from 'lit/decorators.js';
import { acquireChatSession, tokenClaims } from './client/index.js';
import { clientContext } from './context.js';
import { catalogueLanguage, english, loadCatalogue, loadedCatalogue, Locale, localeContext, type StringOverrides } from './i18n/index.js';
import { badgeText, CHAT_ICON, CLOSE_ICON, LAUNCHER_CSS, unreadKey } from './launcher-style.js';
import { askPermissionOnGesture, chime, notifyMessage, setTitleBadge, unlockAudioOnGesture } from './notify.js';
import { configRefusal, errorRefusal, tokenExpired, type Refusal } from './refusal.js';
import { buttons, palette, srOnly } from './styles.js';
import type { ChatComposer } from './chat-composer.js';
import type {
  ChatClient,
  ChatClientEvent,
  ChatClientOptions,
  ChatError,
  ChatMessage,
  ChatSession,
  ChatSessionOptions,
  ChatSnapshot,
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
   * `too_many`, `removed`, `config`.
   */
  refusal?: string;
}

export interface ChatRoomUnreadDetail {
  /** Messages from others the user has not seen (also the messages that arrived while the page was closed). */
  unread: number;
}
export interface ChatRoomToggleDetail {
  /** The launcher's panel is open. */
  open: boolean;
}

export type ChatRoomTheme = 'light' | 'dark' | 'auto';

/** Below this width the launcher's panel takes the whole screen. */
const FULL_SCREEN_BELOW = 480;

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
 * @event chat-room-unread - The unread count changed, and once right after the conversation loaded (messages that arrived while the page was closed). `detail: { unread }`.
 * @event chat-room-toggle - The launcher's panel opened or closed. `detail: { open }`.
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
 * @cssproperty [--chat-room-launcher-bg=var(--chat-room-accent)] - The launcher button. Pair: --chat-room-launcher-fg.
 * @cssproperty [--chat-room-launcher-fg=var(--chat-room-on-accent)] - The icon on the launcher button.
 * @cssproperty [--chat-room-badge-bg=#c5221f] - The unread badge on the launcher. Pair: --chat-room-badge-fg.
 * @cssproperty [--chat-room-badge-fg=#ffffff] - The number on the unread badge.
 * @cssproperty [--chat-room-launcher-size=56px] - Diameter of the launcher button.
 * @cssproperty [--chat-room-launcher-inset-block=20px] - Distance of the launcher from the bottom of the window.
 * @cssproperty [--chat-room-launcher-inset-inline=20px] - Distance of the launcher from the side of the window (`side`: end or start).
 * @cssproperty [--chat-room-panel-width=24rem] - Width of the launcher's panel (at most the window's width).
 * @cssproperty [--chat-room-panel-height=38rem] - Height of the launcher's panel (at most the window's height).
 * @cssproperty [--chat-room-z-index=2147483000] - Stacking of the launcher above the page.
 * @cssproperty [--chat-room-radius=12px] - Corner radius of the widget and the bubbles.
 * @cssproperty [--chat-room-font=system-ui, sans-serif] - Font family.
 * @cssproperty [--chat-room-font-size=15px] - Base font size.
 *
 * @csspart launcher - The floating launcher button (`launcher` mode).
 * @csspart badge - The unread count on the launcher button.
 * @csspart panel - The launcher's panel (a dialog).
 * @csspart header - The header: title, who is online, close button (launcher mode, or inline with `heading`).
 * @csspart title - The title in the header.
 * @csspart online - "3 online" in the header.
 * @csspart close-button - The header's close button (launcher mode).
 * @csspart members - The members line (who is in the conversation, online dots).
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
 * @csspart link - A link in a message's text.
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
    srOnly,
    unsafeCSS(LAUNCHER_CSS),
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
      .panel {
        position: absolute;
        inset-block-end: calc(var(--chat-room-launcher-size, 56px) + 12px);
        inset-inline-end: 0;
        pointer-events: auto;
        box-sizing: border-box;
        display: flex;
        flex-direction: column;
        width: min(var(--chat-room-panel-width, 24rem), calc(100vw - 2 * var(--chat-room-launcher-inset-inline, 20px)));
        height: min(var(--chat-room-panel-height, 38rem), calc(100dvh - var(--chat-room-launcher-size, 56px) - 3 * var(--chat-room-launcher-inset-block, 20px)));
        overflow: hidden;
        color: var(--_fg);
        background: var(--_bg);
        line-height: 1.4;
        border: 1px solid var(--_border);
        border-radius: var(--_radius);
        box-shadow: 0 8px 30px rgb(0 0 0 / 0.25);
      }
      :host([side='start']) .panel {
        inset-inline-end: auto;
        inset-inline-start: 0;
      }
      .panel[hidden] {
        display: none;
      }
      @media (max-width: ${FULL_SCREEN_BELOW - 1}px) {
        /* Phones: the open panel is the whole (visual) viewport, so the composer stays above the keyboard. */
        :host([launcher][open]) .panel {
          position: fixed;
          inset: var(--_vv-top, 0px) 0 auto 0;
          width: 100vw;
          height: var(--_vv-height, 100dvh);
          border: none;
          border-radius: 0;
        }
        :host([launcher][open]) .launcher {
          display: none;
        }
      }
      .header {
        display: flex;
        align-items: center;
        gap: 0.5em;
        padding-block: 0.6em;
        padding-inline: 0.9em 0.5em;
        border-block-end: 1px solid color-mix(in srgb, var(--_border) 50%, transparent);
      }
      .titles {
        flex: 1;
        min-width: 0;
      }
      .title {
        margin: 0;
        font-size: 1.05em;
        font-weight: 650;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .online {
        font-size: 0.8em;
        color: var(--_muted);
      }
      .close {
        display: grid;
        place-items: center;
        width: 2.2em;
        height: 2.2em;
        padding: 0;
        border-color: transparent;
        background: transparent;
      }
      .close svg {
        width: 1.1em;
        height: 1.1em;
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
  @property() override lang = '';
  /** Replaces any of the widget's words (keys of widget/i18n/en.ts), e.g. `{ 'composer.placeholder': 'Ask us anything…' }` (property only). */
  @property({ attribute: false }) strings: StringOverrides | undefined;
  /** `light` (default: the page decides), `dark`, or `auto` (follows the system's colour scheme). */
  @property({ reflect: true }) theme: ChatRoomTheme = 'light';
  /**
   * A floating button (with the unread count) that opens the chat in a panel, instead of the chat in
   * the page. Loaded from the relay's /chat-room.js, only a few KB load until the user opens it (or
   * hovers it); below 480 px the panel takes the whole screen.
   */
  @property({ type: Boolean, reflect: true }) launcher = false;
  /** The launcher's panel is open (set it to open or close it from the page). */
  @property({ type: Boolean, reflect: true }) open = false;
  /** Which bottom corner the launcher sits in: `end` (default: right in left-to-right pages) or `start`. */
  @property({ reflect: true }) side: 'start' | 'end' = 'end';
  /** The title in the header (launcher mode: default "Chat"; inline: a header is shown only when set). */
  @property() heading = '';
  /**
   * Opt-in: the page title counts unread messages ("(3) Support"), and while the page is hidden a
   * desktop notification announces new messages (permission is asked at the user's first click or
   * key press inside the widget).
   */
  @property({ type: Boolean, reflect: true }) notify = false;
  /** With `notify`: also a short chime for a new message while the page is hidden. */
  @property({ type: Boolean, attribute: 'notify-sound' }) notifySound = false;
  /**
   * Makes the client; replace it before the element connects to drive the view with
   * another implementation of the client contract (tests do).
   */
  @property({ attribute: false }) clientFactory: ChatClientFactory | undefined;

  @state() private _dragging = false;
  @state() private _refusal: Refusal | null = null;
  @state() private _unread = 0;
  @state() private _online = 0;
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
  private _offSnapshots: (() => void) | undefined;
  /** The unread count was announced for the current client (chat-room-unread fires once right after load). */
  private _unreadAnnounced = false;
  private _refusalFromSnapshot = false;
  private _viewport: { off: () => void } | undefined;

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

  /** Messages from others the user has not seen yet (see `chat-room-unread`). */
  get unread(): number {
    return this._unread;
  }

  /** Opens the launcher's panel and moves focus into it. */
  show(): void {
    this._setOpen(true);
  }

  /** Closes the launcher's panel; focus returns to the launcher button. */
  hide(): void {
    this._setOpen(false);
  }

  toggle(): void {
    this._setOpen(!this.open);
  }

  constructor() {
    super();
    this.addEventListener('pointerdown', this._onGesture);
    this.addEventListener('keydown', this._onGesture);
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
    this._followViewport(false);
    setTitleBadge(this, 0, this._locale);
  }

  /** The small entry (/chat-room.js) may have drawn the launcher in this shadow root: it is replaced, not kept. */
  protected override createRenderRoot(): HTMLElement | DocumentFragment {
    // Before Lit looks at the root: it would render before the entry's first node.
    this.shadowRoot?.replaceChildren();
    return super.createRenderRoot();
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
    if (changed.has('notify') && !this.notify) setTitleBadge(this, 0, this._locale);
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has('open') || changed.has('launcher')) {
      const open = this.launcher && this.open;
      this._followViewport(open);
      // Into the panel when it opens; back to the button when it closes (only if focus was in the panel).
      if (changed.get('open') !== undefined || (open && changed.has('open'))) {
        if (open) this.focus();
        else if (this.launcher && this.shadowRoot?.activeElement) this.renderRoot.querySelector<HTMLElement>('.launcher')?.focus();
      }
    }
  }

  override render() {
    if (this._localePending) return nothing;
    const locale = this._locale;
    if (!this.launcher) {
      return html`<div class="root" dir=${locale.dir} lang=${locale.tag}>
        ${this.heading ? this._renderHeader() : nothing}${this._renderContent()}
      </div>`;
    }
    const t = (key: Parameters<Locale['t']>[0], params?: Parameters<Locale['t']>[1]) => locale.t(key, params);
    const unread = this._unread;
    return html`<div class="root" dir=${locale.dir} lang=${locale.tag}>
      <button
        part="launcher"
        class="launcher"
        type="button"
        aria-expanded=${this.open ? 'true' : 'false'}
        aria-controls="panel"
        aria-label=${this.open ? t('launcher.close') : unread > 0 ? `${t('launcher.open')}: ${t('launcher.unread', { count: unread })}` : t('launcher.open')}
        @click=${this.toggle}
      >
        <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${this.open ? closePath : chatPath}</svg>
        ${unread > 0 && !this.open ? html`<span part="badge" class="badge" aria-hidden="true">${badgeText(unread)}</span>` : nothing}
      </button>
      <div part="panel" id="panel" class="panel" role="dialog" aria-labelledby="title" ?hidden=${!this.open} @keydown=${this._onPanelKey}>
        ${this._renderHeader()}${this._renderContent()}
      </div>
    </div>`;
  }

  private _renderHeader() {
    const locale = this._locale;
    return html`<header part="header" class="header">
      <div class="titles">
        <h2 part="title" id="title" class="title">${this.heading || locale.t('room.title')}</h2>
        ${this._online > 0 ? html`<span part="online" class="online">${locale.t('header.online', { count: this._online })}</span>` : nothing}
      </div>
      ${this.launcher
        ? html`<button part="close-button" class="close" type="button" aria-label=${locale.t('launcher.close')} @click=${this.hide}>
            <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">${closePath}</svg>
          </button>`
        : nothing}
    </header>`;
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
      <chat-room-members exportparts="members, member, member-online, member-banned, presence-dot"></chat-room-members>
      <chat-room-message-list
        exportparts="list, message, bubble, sender, text, meta, status, thumbnail, file-link, retry-button, divider, day, new-messages, to-bottom, load-older, actions-button, actions-menu, action, reactions, reaction, reaction-picker, quote, edited, tombstone, edit-input, link"
      ></chat-room-message-list>
      <chat-room-typing exportparts="typing"></chat-room-typing>
      <chat-room-uploads exportparts="uploads, upload, progress"></chat-room-uploads>
      <chat-room-composer
        exportparts="composer, input, send-button, attach-button, reply-preview, reply-cancel"
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
    this._refusalFromSnapshot = false;
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
    this._unreadAnnounced = false;
    this._offSnapshots = client.subscribe((snapshot) => this._onClientSnapshot(snapshot));
    this._provider.setValue(client);
    this._onClientSnapshot(client.snapshot);
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
    this._offSnapshots?.();
    this._offSnapshots = undefined;
    this._client = undefined;
    this._online = 0;
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
        if (this.notify) {
          notifyMessage(event.message, this._locale, this.conversation);
          if (this.notifySound && document.visibilityState === 'hidden') chime();
        }
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
    // The core reports a refusal both as an event and in the snapshot: the page hears it once.
    if (this._refusal?.reason === refusal.reason && this._refusal.code === refusal.code) return;
    this._refusal = refusal;
    this._emitError(error, undefined, refusal.reason);
  }

  /** What the element itself shows from the client's state: the refusal, unread, who is online. */
  private _onClientSnapshot(snapshot: ChatSnapshot): void {
    const core = (snapshot as Partial<ChatSnapshot>).refusal ?? null;
    if (core) {
      const refusal = errorRefusal(core, { sessionClosed: snapshot.connection === 'closed', tokenExpired: tokenExpired(this.token) });
      if (refusal) {
        this._refusalFromSnapshot = true;
        this._refuse(refusal, core);
      }
    } else if (this._refusalFromSnapshot && this._refusal) {
      // The core tried again (a new token) and got in.
      this._refusalFromSnapshot = false;
      this._refusal = null;
    }
    const self = snapshot.self?.id;
    this._online = snapshot.members.filter((m) => m.id !== self && (m as { online?: boolean }).online === true).length;
    const unread = (snapshot as Partial<ChatSnapshot>).unread ?? 0;
    if (unread !== this._unread || !this._unreadAnnounced) {
      this._unread = unread;
      this._unreadAnnounced = true;
      this._storeUnread(unread);
      if (this.notify) setTitleBadge(this, unread, this._locale);
      this.dispatchEvent(new CustomEvent<ChatRoomUnreadDetail>('chat-room-unread', { detail: { unread }, ...EVENT_INIT }));
    }
  }

  /** For the small entry's badge on the next page load, before the widget itself is loaded. */
  private _storeUnread(unread: number): void {
    try {
      const key = unreadKey(this.relay, this.conversation);
      if (unread > 0) localStorage.setItem(key, String(unread));
      else localStorage.removeItem(key);
    } catch {
      // Storage off: the badge appears once the widget is loaded.
    }
  }

  // ------------------------------------------------------------------ launcher

  private _setOpen(open: boolean): void {
    if (this.open === open) return;
    this.open = open;
    this.dispatchEvent(new CustomEvent<ChatRoomToggleDetail>('chat-room-toggle', { detail: { open }, ...EVENT_INIT }));
  }

  private readonly _onPanelKey = (event: KeyboardEvent): void => {
    // Inner parts (menus, the reply preview, the editor) handle their own Escape first.
    if (event.key !== 'Escape' || event.defaultPrevented || !this.launcher) return;
    event.preventDefault();
    this.hide();
    this.renderRoot.querySelector<HTMLElement>('.launcher')?.focus();
  };

  /** Keeps the full-screen panel inside the visual viewport, above the on-screen keyboard (phones). */
  private _followViewport(on: boolean): void {
    this._viewport?.off();
    this._viewport = undefined;
    const viewport = window.visualViewport;
    if (!on || !viewport) {
      this.style.removeProperty('--_vv-top');
      this.style.removeProperty('--_vv-height');
      return;
    }
    const apply = () => {
      this.style.setProperty('--_vv-top', `${viewport.offsetTop}px`);
      this.style.setProperty('--_vv-height', `${viewport.height}px`);
    };
    apply();
    viewport.addEventListener('resize', apply);
    viewport.addEventListener('scroll', apply);
    this._viewport = {
      off: () => {
        viewport.removeEventListener('resize', apply);
        viewport.removeEventListener('scroll', apply);
      },
    };
  }

  /** Permission for notifications and audio can only be asked from a user gesture: the user's first one in the widget. */
  private readonly _onGesture = (): void => {
    if (!this.notify) return;
    askPermissionOnGesture();
    if (this.notifySound) unlockAudioOnGesture();
  };

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

const chatPath = svg`<path d=${CHAT_ICON} fill="currentColor" />`;
const closePath = svg`<path d=${CLOSE_ICON} fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" />`;

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/** The `sub` of a JWT (not verified: only to tell one user from another), or the token itself when unreadable. */
function tokenSubject(token: string): string {
  return tokenClaims(token).sub ?? token;
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
    'chat-room-unread': CustomEvent<ChatRoomUnreadDetail>;
    'chat-room-toggle': CustomEvent<ChatRoomToggleDetail>;
  }
}
