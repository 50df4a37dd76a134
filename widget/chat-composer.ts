import { css, html, LitElement, nothing } from 'lit';
import { property, query, state } from 'lit/decorators.js';
import { live } from 'lit/directives/live.js';
import { SnapshotController } from './controller.js';
import { paperclipIcon } from './icons.js';
import { quoteStyles, renderReplyPreview } from './chat-reply-preview.js';
import { LocaleController } from './i18n/index.js';
import { buttons, srOnly } from './styles.js';
import type { ChatRoomReplyDetail } from './chat-message.js';
import type { ChatMessage } from './client/types.js';

/** The counter appears once the text is this close to the relay's limit. */
const COUNTER_FROM = 0.9;
/** A draft is saved this long after the last keystroke (and at once when the composer goes away). */
const DRAFT_SAVE_MS = 400;


/**
 * Unsent text per conversation, kept across reloads in localStorage (one key per relay and
 * conversation, removed when the text is sent or emptied; a draft is at most the relay's text
 * limit). Storage may be off (privacy modes, sandboxed frames): then drafts just do not survive.
 */
const drafts = {
  key: (relay: string, conversation: string) => `chat-room:draft:${relay}|${conversation}`,
  read(key: string): string {
    try {
      return localStorage.getItem(key) ?? '';
    } catch {
      return '';
    }
  },
  write(key: string, text: string): void {
    try {
      if (text) localStorage.setItem(key, text);
      else localStorage.removeItem(key);
    } catch {
      // Full or unavailable: the draft lives as long as the page.
    }
  },
};

function codePoints(text: string): number {
  // UTF-16 length is an upper bound: count code points only near the limit, like the relay does.
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * The text box, the send button and the attach button. Enter sends, Shift+Enter makes a
 * new line; pasting files uploads them. Typing notifications go through the client,
 * which rate-limits them. "Reply" on a message (the `chat-room-reply` event, heard in the
 * shadow tree the composer sits in) shows the quoted message above the text box until the
 * reply is sent or cancelled (Escape in the text box, or the × button). Unsent text is kept
 * per conversation across reloads.
 *
 * @csspart composer - The form around the controls.
 * @csspart input - The text area.
 * @csspart send-button - The send button.
 * @csspart attach-button - The button that opens the file picker.
 * @csspart reply-preview - The message being answered, above the text box.
 * @csspart reply-cancel - The button that stops answering it.
 *
 * @tagname chat-room-composer
 */
export class ChatComposer extends LitElement {
  static override styles = [
    srOnly,
    buttons,
    quoteStyles,
    css`
      :host {
        display: block;
      }
      form {
        display: flex;
        align-items: flex-end;
        gap: 0.4em;
        padding: 0.5em 0.75em 0.75em;
      }
      textarea {
        flex: 1;
        font: inherit;
        /* Below 16px iOS zooms the page when the box gets focus. */
        font-size: max(16px, 1em);
        color: var(--_surface-fg);
        background: var(--_surface);
        border: 1px solid var(--_border);
        border-radius: calc(var(--_radius) / 2);
        padding: 0.45em 0.6em;
        resize: none;
        field-sizing: content;
        min-height: 1.4em;
        max-height: 8em;
      }
      textarea:focus-visible {
        outline: 2px solid var(--_accent);
        outline-offset: 0;
        border-color: var(--_accent);
      }
      .send {
        background: var(--_accent);
        border-color: var(--_accent);
        color: var(--_on-accent);
        font-weight: 600;
      }
      .attach {
        font-size: 1.1em;
        padding: 0.15em 0.5em;
        align-self: stretch;
      }
      .attach svg {
        vertical-align: -0.15em;
      }
      .counter {
        position: absolute;
        inset-inline-end: 1em;
        bottom: 100%;
        font-size: 0.75em;
        color: var(--_muted);
      }
      .counter.over {
        color: var(--_danger);
        font-weight: 600;
      }
      .wrap {
        position: relative;
      }
    `,
  ];

  /** Nothing can be sent (the room set it: e.g. the conversation refused this user). */
  @property({ type: Boolean, reflect: true }) disabled = false;

  @state() private _text = '';
  /** The message the next send answers. */
  @state() private _replyTo: ChatMessage | null = null;
  @query('textarea') private _input!: HTMLTextAreaElement | null;
  @query('input[type=file]') private _picker!: HTMLInputElement | null;
  private readonly _l = new LocaleController(this);
  private readonly _snap = new SnapshotController(this, (next, _previous, clientChanged) => {
    if (!clientChanged) return;
    // Another conversation: its own draft, and the message being answered is not in it.
    this._flushDraft();
    this._replyTo = null;
    this._draftKey = next ? drafts.key(this._relay(), next.conversation) : '';
    this._text = this._draftKey ? drafts.read(this._draftKey) : '';
  });
  /** The shadow root (of <chat-room>) whose messages' reply requests this composer answers. */
  private _tree: Node | null = null;
  private _draftKey = '';
  private _draftTimer: ReturnType<typeof setTimeout> | undefined;

  /** Moves keyboard focus to the text box. */
  override focus(options?: FocusOptions): void {
    this._input?.focus(options);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    // The message list and the composer are siblings: the request bubbles up through their shared tree.
    this._tree = this.getRootNode();
    this._tree.addEventListener('chat-room-reply', this._onReplyRequest);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this._tree?.removeEventListener('chat-room-reply', this._onReplyRequest);
    this._tree = null;
    this._flushDraft();
  }

  /** The relay of the enclosing <chat-room> (part of the draft's key: one conversation id may exist on two relays). */
  private _relay(): string {
    const root = this.getRootNode();
    return root instanceof ShadowRoot ? (root.host.getAttribute('relay') ?? '') : '';
  }

  private _saveDraftSoon(): void {
    clearTimeout(this._draftTimer);
    this._draftTimer = setTimeout(() => this._flushDraft(), DRAFT_SAVE_MS);
  }

  private _flushDraft(): void {
    if (this._draftTimer === undefined) return;
    clearTimeout(this._draftTimer);
    this._draftTimer = undefined;
    if (this._draftKey) drafts.write(this._draftKey, this._text);
  }

  /** Answers `message` with the next send (null: no longer). Focuses the text box when starting. */
  replyTo(message: ChatMessage | null): void {
    this._replyTo = message;
    if (message) void this.updateComplete.then(() => this._input?.focus());
  }

  private readonly _onReplyRequest = (event: Event): void => {
    const { message } = (event as CustomEvent<ChatRoomReplyDetail>).detail;
    // Handled here: the page outside <chat-room> does not need to hear it.
    event.stopPropagation();
    this.replyTo(message);
  };

  override render() {
    const snap = this._snap.snapshot;
    const max = snap?.limits.maxTextChars ?? 4000;
    const near = this._text.length >= max * COUNTER_FROM;
    const length = near ? codePoints(this._text) : this._text.length;
    const over = length > max;
    const off = this.disabled || !this._snap.client;
    const canSend = !off && this._text.trim().length > 0 && !over;
    const replyId = this._replyTo?.id;
    // The answered message as it is now (edited or deleted meanwhile), else as it was when chosen.
    const quoted = replyId === undefined ? null : (snap?.messages.find((m) => m.id === replyId) ?? this._replyTo);
    const l = this._l;
    return html`${this.disabled ? nothing : renderReplyPreview(quoted, l.locale, this._cancelReply)}<div class="wrap">
      <span id="counter" class="counter ${over ? 'over' : ''}" aria-live="polite"
        >${near ? l.t(over ? 'composer.tooLong' : 'composer.counter', { length, max }) : ''}</span
      >
      <form part="composer" @submit=${this._onSubmit}>
        <input type="file" multiple hidden tabindex="-1" @change=${this._onPicked} />
        <button
          part="attach-button"
          class="attach"
          type="button"
          aria-label=${l.t('composer.attach')}
          title=${l.t('composer.attach')}
          ?disabled=${off}
          @click=${() => this._picker?.click()}
        >
          ${paperclipIcon}
        </button>
        <label class="sr-only" for="input">${l.t('composer.label')}</label>
        <textarea
          id="input"
          part="input"
          rows="1"
          dir="auto"
          placeholder=${l.t(this.disabled ? 'composer.disabled' : 'composer.placeholder')}
          ?disabled=${this.disabled}
          aria-describedby="counter"
          aria-invalid=${over ? 'true' : 'false'}
          .value=${live(this._text)}
          @input=${this._onInput}
          @keydown=${this._onKeyDown}
          @blur=${() => this._snap.client?.stoppedTyping()}
          @paste=${this._onPaste}
        ></textarea>
        <button part="send-button" class="send" type="submit" ?disabled=${!canSend}>${l.t('composer.send')}</button>
      </form>
    </div>`;
  }

  private _onInput(event: Event): void {
    this._text = (event.target as HTMLTextAreaElement).value;
    this._saveDraftSoon();
    if (this._text.length > 0) this._snap.client?.typed();
  }

  private _onKeyDown(event: KeyboardEvent): void {
    if (event.key === 'Escape' && this._replyTo && !event.isComposing) {
      event.preventDefault();
      this._replyTo = null;
      return;
    }
    // isComposing: Enter also confirms an IME composition, which must not send.
    if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
    event.preventDefault();
    this._send();
  }

  private _onSubmit(event: Event): void {
    event.preventDefault();
    this._send();
    this._input?.focus();
  }

  private _send(): void {
    const client = this._snap.client;
    const text = this._text.trim();
    const max = this._snap.snapshot?.limits.maxTextChars ?? 4000;
    if (!client || this.disabled || !text || codePoints(text) > max) return;
    const reply = this._replyTo?.id;
    if (reply !== undefined) client.send(text, { reply });
    else client.send(text);
    client.stoppedTyping();
    this._text = '';
    this._replyTo = null;
    clearTimeout(this._draftTimer);
    this._draftTimer = undefined;
    if (this._draftKey) drafts.write(this._draftKey, '');
  }

  private readonly _cancelReply = (): void => {
    this._replyTo = null;
    this._input?.focus();
  };

  private _onPicked(event: Event): void {
    const input = event.target as HTMLInputElement;
    this.uploadFiles(input.files);
    // The same file picked twice in a row must fire `change` again.
    input.value = '';
  }

  private _onPaste(event: ClipboardEvent): void {
    const files = event.clipboardData?.files;
    if (!files || files.length === 0) return;
    event.preventDefault();
    this.uploadFiles(files);
  }

  /** Uploads each file through the client (also used for files dropped on the widget). */
  uploadFiles(files: FileList | readonly File[] | null | undefined): void {
    const client = this._snap.client;
    if (!client || this.disabled || !files) return;
    // Files attached while answering a message answer it too (each of them), and end the reply.
    const reply = this._replyTo?.id;
    for (const file of Array.from(files)) {
      if (reply !== undefined) client.upload(file, undefined, { reply });
      else client.upload(file);
    }
    if (reply !== undefined && files.length > 0) this._replyTo = null;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-composer': ChatComposer;
  }
}
