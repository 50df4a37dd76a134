import { ContextConsumer } from '@lit/context';
import { css, html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { property, state } from 'lit/decorators.js';
import { live } from 'lit/directives/live.js';
import { clientContext } from './context.js';
import {
  actionStyles,
  availableActions,
  focusItem,
  moveInMenu,
  renderActionsMenu,
  renderMenuButton,
  type MessageAction,
} from './chat-message-actions.js';
import { reactionChips, reactionStyles, renderPicker, renderReactions } from './chat-reactions.js';
import { quoteStyles, renderQuote } from './chat-reply-preview.js';
import { fullDateTime, humanSize, statusText, timeLabel } from './format.js';
import { LocaleController } from './i18n/index.js';
import { clockIcon, paperclipIcon } from './icons.js';
import { linkified } from './linkify.js';
import { buttons, srOnly } from './styles.js';
import type { ChangeError, ChatMessage, FileRef, Member } from './client/types.js';

const TICKS: Record<string, unknown> = { sending: clockIcon, sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

/** The words for a refused change, by change. */
const CHANGE_FAILED = { edit: 'message.editFailed', delete: 'message.deleteFailed', react: 'message.reactFailed' } as const;

/** The event asking the composer to answer a message (it listens in its shadow tree). */
export interface ChatRoomReplyDetail {
  message: ChatMessage;
}
/** The event asking the list to show a message (a quote of it was clicked). */
export interface ChatRoomShowMessageDetail {
  id: string;
}

function nameOf(members: readonly Member[] | undefined, id: string): string {
  return members?.find((member) => member.id === id)?.name || id;
}

/**
 * Per list (the shadow root holding the messages): whose menu button is the one tab stop
 * among all messages', and whether the user chose it (focused it) or it is the default, the
 * newest message drawn.
 */
const tabStops = new WeakMap<Node, { message: ChatMessageElement; chosen: boolean }>();

/**
 * One message bubble. The list sets `data-message-id`, `data-seq` and `data-status` on
 * this element (not inside it) so that tests and the read-receipt observer find them
 * one shadow root down from the list, and the `grouped` attribute on a message that
 * follows one of the same sender closely (drawn tighter).
 *
 * Beside the bubble, a menu button opens the message's actions (reply, react, edit and
 * delete own messages, delete any as a moderator); changes go through the client core,
 * which shows them at once and sends them when it can. "Reply" fires `chat-room-reply`
 * (the composer hears it); a click on a quote fires `chat-room-show-message` (cancelable:
 * the list shows the message; if nobody cancels it, the message scrolls there itself).
 *
 * @csspart message - The row holding the bubble (own messages are aligned to the end).
 * @csspart bubble - The bubble (also `tombstone` once the message is deleted).
 * @csspart sender - The sender's name above messages from others.
 * @csspart text - The message text.
 * @csspart link - A link in the text (http(s), www. and e-mail addresses become links; nothing else).
 * @csspart meta - Time and status line.
 * @csspart status - The tick marks of an own message.
 * @csspart thumbnail - An image attachment's thumbnail.
 * @csspart file-link - A non-image attachment's download link.
 * @csspart retry-button - Resends a failed message.
 * @csspart edited - The "edited" marker (its title says when).
 * @csspart quote - The quoted message of a reply (a button that shows the original).
 * @csspart edit-input - The text box of a message being edited.
 * @csspart actions-button - The button that opens the action menu.
 * @csspart actions-menu - The action menu.
 * @csspart action - An item of the action menu (also `action-reply`, `action-react`, `action-edit`, `action-delete`).
 * @csspart reaction-picker - The menu of emoji to react with.
 * @csspart reactions - The row of reaction chips.
 * @csspart reaction - One reaction chip: emoji and count (also `reaction-mine` when the user reacted).
 *
 * @tagname chat-room-message
 */
export class ChatMessageElement extends LitElement {
  static override styles = [
    srOnly,
    buttons,
    actionStyles,
    reactionStyles,
    quoteStyles,
    css`
      :host {
        display: block;
        padding: 2px 0;
      }
      :host([grouped]) {
        padding-top: 0;
      }
      .row {
        display: flex;
        flex-direction: column;
        align-items: flex-start;
      }
      .row.own {
        align-items: flex-end;
      }
      .line {
        display: flex;
        align-items: center;
        gap: 0.2em;
        width: 100%;
      }
      .own .line {
        flex-direction: row-reverse;
      }
      .bubble {
        min-width: 0;
        max-width: min(80%, 36em);
        padding: 0.4em 0.7em;
        border-radius: var(--_radius);
        background: var(--_bubble-other);
        color: var(--_bubble-other-fg);
        overflow-wrap: anywhere;
      }
      .own .bubble {
        background: var(--_bubble-own);
        color: var(--_bubble-own-fg);
      }
      .failed .bubble {
        border: 1px solid var(--_danger);
      }
      .bubble:focus-visible {
        outline: 2px solid var(--_accent);
        outline-offset: 2px;
      }
      .flash .bubble {
        animation: flash 1.2s ease-out;
      }
      @keyframes flash {
        from {
          box-shadow: 0 0 0 3px var(--_accent);
        }
        to {
          box-shadow: 0 0 0 3px transparent;
        }
      }
      .tombstone {
        font-style: italic;
        color: var(--_muted);
      }
      .edited {
        font-style: italic;
      }
      .editor {
        display: flex;
        flex-direction: column;
        gap: 0.3em;
        min-width: min(20em, 60vw);
      }
      .editor textarea {
        font: inherit;
        /* Below 16px iOS zooms the page when the box gets focus. */
        font-size: max(16px, 1em);
        color: var(--_surface-fg);
        background: var(--_surface);
        border: 1px solid var(--_accent);
        border-radius: calc(var(--_radius) / 3);
        padding: 0.3em 0.45em;
        resize: vertical;
        field-sizing: content;
        min-height: 2.8em;
        max-height: 10em;
      }
      .editor-buttons {
        display: flex;
        justify-content: flex-end;
        gap: 0.3em;
        font-size: 0.85em;
      }
      .save {
        background: var(--_accent);
        border-color: var(--_accent);
        color: var(--_on-accent);
      }
      .sender {
        font-weight: 600;
        font-size: 0.85em;
        margin-bottom: 0.15em;
      }
      .text {
        white-space: pre-wrap;
      }
      .meta {
        display: flex;
        justify-content: flex-end;
        gap: 0.35em;
        font-size: 0.75em;
        color: var(--_muted);
        margin-top: 0.15em;
      }
      .status {
        letter-spacing: -0.2em;
        padding-inline-end: 0.2em;
      }
      .icon {
        vertical-align: -0.125em;
      }
      .status.read {
        color: var(--_accent);
        font-weight: 700;
      }
      .status.failed {
        color: var(--_danger);
        font-weight: 700;
      }
      img {
        display: block;
        height: 160px;
        max-width: 100%;
        object-fit: contain;
        border-radius: calc(var(--_radius) / 2);
        margin: 0.2em 0;
      }
      a {
        color: var(--_link);
      }
      [part='file-link'] {
        text-decoration: none;
      }
      [part='file-link'] .name {
        margin-inline-start: 0.25em;
        text-decoration: underline;
      }
      .size {
        color: var(--_muted);
        font-size: 0.85em;
      }
      .actions {
        display: flex;
        align-items: center;
        gap: 0.5em;
        margin-top: 0.25em;
        font-size: 0.85em;
      }
      .error {
        color: var(--_danger);
      }
    `,
  ];

  @property({ attribute: false }) message: ChatMessage | undefined;
  /** Shows the sender's name (the list sets it on the first of several messages from one sender). */
  @property({ type: Boolean, attribute: 'show-sender' }) showSender = false;

  /** Which popup is open: the action menu or the emoji picker. */
  @state() private _open: 'menu' | 'picker' | null = null;
  /** The text being edited, or null when not editing. */
  @state() private _draft: string | null = null;
  @state() private _flash = false;

  private readonly _client = new ContextConsumer(this, { context: clientContext, subscribe: true });
  private readonly _l = new LocaleController(this);
  /** The root this element was connected in (the list's shadow root): where its siblings and the tab stop are. */
  private _root: Node | null = null;

  /** Moves focus to this message's menu button (false when it has none: deleted, failed, being edited). */
  focusActions(): boolean {
    const button = this._button();
    button?.focus();
    return button !== null;
  }

  /** Briefly highlights the message and moves focus to it (a quote that points here was clicked). */
  highlight(): void {
    this._flash = false;
    void this.updateComplete.then(() => {
      this._flash = true;
      this.renderRoot.querySelector<HTMLElement>('.bubble')?.focus({ preventScroll: true });
    });
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this._root = this.getRootNode();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('pointerdown', this._onOutside, true);
    // Scrolled out of the list's window, or the list went: another message takes the tab stop.
    if (this._root && tabStops.get(this._root)?.message === this) this._releaseTabStop(this._root);
    this._root = null;
  }

  /**
   * Whether this message's menu button is the tab stop, taking it when nobody valid holds it
   * or when only the default holds it and this message is newer (drawn later in the list).
   */
  private _tabStop(hasButton: boolean): boolean {
    const root = this._root;
    if (!root) return true;
    const holder = tabStops.get(root);
    if (holder?.message === this) {
      if (hasButton) return true;
      // Deleted or being edited: hand it on.
      this._releaseTabStop(root);
      return false;
    }
    if (!hasButton) return false;
    const newer = holder !== undefined && !!(holder.message.compareDocumentPosition(this) & Node.DOCUMENT_POSITION_FOLLOWING);
    if (!holder || !holder.message.isConnected || (!holder.chosen && newer)) {
      this._takeTabStop(root, false);
      return true;
    }
    return false;
  }

  // The other message's button is changed in place (its binding is live()): re-rendering every
  // message drawn before the newest one would double the cost of the first paint.
  private _takeTabStop(root: Node, chosen: boolean): void {
    const previous = tabStops.get(root)?.message;
    tabStops.set(root, { message: this, chosen });
    if (previous && previous !== this) previous._button()?.setAttribute('tabindex', '-1');
  }

  /** Gives up the tab stop to the newest other message that has a menu button. */
  private _releaseTabStop(root: Node): void {
    tabStops.delete(root);
    const all = this._siblings(root);
    for (let i = all.length - 1; i >= 0; i--) {
      const other = all[i]!;
      const button = other === this ? null : other._button();
      if (button) {
        tabStops.set(root, { message: other, chosen: false });
        button.setAttribute('tabindex', '0');
        break;
      }
    }
  }

  private _siblings(root: Node | null = this._root): ChatMessageElement[] {
    return root ? [...(root as ParentNode).querySelectorAll<ChatMessageElement>('chat-room-message')] : [];
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    // Deleted (here or by someone else) while the menu or the editor was open: nothing is left to act on.
    if (changed.has('message') && this.message?.deleted) {
      this._open = null;
      this._draft = null;
    }
  }

  protected override updated(changed: PropertyValues<this>): void {
    super.updated(changed);
    // A click anywhere else closes the popup: listen only while one is open.
    if (this._open) document.addEventListener('pointerdown', this._onOutside, true);
    else document.removeEventListener('pointerdown', this._onOutside, true);
  }

  override render() {
    const m = this.message;
    if (!m) return nothing;
    const classes = `row ${m.own ? 'own' : 'other'}${m.status === 'failed' ? ' failed' : ''}${this._flash ? ' flash' : ''}`;
    const snap = this._client.value?.snapshot;
    const locale = this._l.locale;
    const actions = this._actions(m);
    const pending = m.pending ?? [];
    const chips = m.deleted
      ? []
      : reactionChips(m.reactions, snap?.self?.id, (id) => nameOf(snap?.members, id), pending.includes('react'), locale);
    return html`
      <div
        part="message"
        class=${classes}
        @focusin=${this._onFocusIn}
        @focusout=${this._onFocusOut}
        @animationend=${() => (this._flash = false)}
      >
        <div class="line">
          <div part="bubble${m.deleted ? ' tombstone' : ''}" class="bubble ${m.deleted ? 'deleted' : ''}" tabindex="-1">
            ${this.showSender && !m.own ? html`<div part="sender" class="sender">${m.from.name || m.from.id}</div>` : nothing}
            ${m.deleted ? this._renderTombstone(pending.includes('delete')) : this._renderContent(m)}
            <div part="meta" class="meta">
              <span class="sr-only">${m.own ? locale.t('message.you') : m.from.name || m.from.id},</span>
              ${m.edited !== undefined && !m.deleted ? this._renderEdited(m.edited, pending.includes('edit')) : nothing}
              <time datetime=${new Date(m.ts).toISOString()} @pointerenter=${this._dateTitle}>${timeLabel(m.ts, locale)}</time>
              ${m.own && m.status ? this._renderStatus(m) : nothing}
            </div>
          </div>
          ${this._renderMenuButton(actions.length > 0 && this._draft === null)}
        </div>
        ${this._open === 'menu' ? renderActionsMenu(locale, 'menu', actions, this._onAction, this._onMenuKeydown) : nothing}
        ${this._open === 'picker' ? renderPicker(locale, 'picker', this._mine(m), this._react, this._onMenuKeydown) : nothing}
        ${renderReactions(chips, locale, this._react)}
        ${m.changeError ? this._renderChangeError(m, m.changeError) : nothing}
        ${m.status === 'failed' ? this._renderFailed(m) : nothing}
      </div>
    `;
  }

  private _renderMenuButton(shown: boolean): TemplateResult | typeof nothing {
    const tabStop = this._tabStop(shown);
    if (!shown) return nothing;
    return renderMenuButton(this._l.locale, 'menu', this._open !== null, tabStop, this._toggleMenu, this._onButtonKeydown);
  }

  private _renderContent(m: ChatMessage): TemplateResult {
    return html`${m.reply ? renderQuote(m.reply, this._l.locale, this._show) : nothing}
    ${m.file ? this._renderFile(m.file) : nothing}
    ${this._draft !== null ? this._renderEditor() : m.text ? html`<div part="text" class="text" dir="auto">${linkified(m.text)}</div>` : nothing}`;
  }

  private _renderTombstone(pending: boolean): TemplateResult {
    return html`<div class="text tombstone ${pending ? 'pending-change' : ''}">${this._l.t('message.deleted')}</div>`;
  }

  private _renderEdited(at: number, pending: boolean): TemplateResult {
    const locale = this._l.locale;
    return html`<span part="edited" class="edited ${pending ? 'pending-change' : ''}" title=${locale.t('message.editedAt', { time: fullDateTime(at, locale) })}
      >${locale.t(pending ? 'message.saving' : 'message.edited')}</span
    >`;
  }

  private _renderEditor(): TemplateResult {
    const max = this._client.value?.snapshot.limits.maxTextChars ?? 4000;
    const text = this._draft ?? '';
    const ok = text.trim().length > 0 && text.length <= max;
    return html`<div class="editor">
      <textarea
        part="edit-input"
        dir="auto"
        aria-label=${this._l.t('message.editLabel')}
        aria-invalid=${ok ? 'false' : 'true'}
        rows="2"
        .value=${live(text)}
        @input=${(e: Event) => (this._draft = (e.target as HTMLTextAreaElement).value)}
        @keydown=${this._onEditKeydown}
      ></textarea>
      <div class="editor-buttons">
        <button type="button" @click=${this._cancelEdit}>${this._l.t('message.cancel')}</button>
        <button type="button" class="save" ?disabled=${!ok} @click=${this._saveEdit}>${this._l.t('message.save')}</button>
      </div>
    </div>`;
  }

  private _renderStatus(m: ChatMessage): TemplateResult {
    const words = statusText(m, this._l.locale);
    return html`<span part="status" class="status ${m.status}" title=${words}
      ><span aria-hidden="true">${TICKS[m.status ?? ''] ?? ''}</span><span class="sr-only">${words}</span></span
    >`;
  }

  /** A change the relay refused (already rolled back): what and why, until dismissed or the next change. */
  private _renderChangeError(m: ChatMessage, error: ChangeError): TemplateResult {
    const locale = this._l.locale;
    const reason = locale.error(error);
    return html`<div class="actions" role="status">
      <span class="error">${locale.t(CHANGE_FAILED[error.change], { reason })}</span>
      <button type="button" @click=${() => this._client.value?.dismissChangeError(m.id)}>${locale.t('message.dismiss')}</button>
    </div>`;
  }

  private _renderFailed(m: ChatMessage): TemplateResult {
    return html`<div class="actions">
      <span class="error">${m.error ? this._l.locale.error(m.error) : this._l.t('message.notSent')}</span>
      <button part="retry-button" type="button" @click=${() => this._client.value?.retry(m.id)}>${this._l.t('message.retry')}</button>
      <button type="button" @click=${() => this._client.value?.discard(m.id)}>${this._l.t('message.discard')}</button>
    </div>`;
  }

  private _renderFile(file: FileRef): TemplateResult {
    const client = this._client.value;
    const url = client ? client.fileUrl(file) : file.url;
    if (file.type.startsWith('image/')) {
      return html`<a href=${url} target="_blank" rel="noopener noreferrer"
        ><img part="thumbnail" src=${url} alt=${file.name} loading="lazy" decoding="async"
      /></a>`;
    }
    return html`<div>
      <a part="file-link" href=${url} download=${file.name} target="_blank" rel="noopener noreferrer">${paperclipIcon}<span class="name">${file.name}</span></a>
      <span class="size">(${humanSize(file.size, this._l.locale)})</span>
    </div>`;
  }

  /** Read when rendering: the moderator flag may arrive (welcome) after the message was drawn, and opening the menu renders again. */
  private _actions(m: ChatMessage): MessageAction[] {
    return availableActions(m, this._client.value?.snapshot.moderator === true);
  }

  private _mine(m: ChatMessage): Set<string> {
    return new Set(m.reactions?.filter((r) => r.mine).map((r) => r.emoji));
  }

  private _button(): HTMLElement | null {
    return this.renderRoot.querySelector('.actions-button');
  }

  /** Opens a popup and, once drawn, focuses its first (or last) item. */
  private async _openPopup(which: 'menu' | 'picker', item: 'first' | 'last' | number = 'first'): Promise<void> {
    this._open = which;
    await this.updateComplete;
    focusItem(this.renderRoot.querySelector(`#${which}`), item);
  }

  /** Closes whatever is open; `refocus` puts focus back on the menu button (Escape, a chosen item). */
  private _close(refocus: boolean): void {
    if (!this._open) return;
    this._open = null;
    if (refocus) void this.updateComplete.then(() => this._button()?.focus());
  }

  private readonly _toggleMenu = (): void => {
    if (this._open) this._close(true);
    else void this._openPopup('menu');
  };

  /** Up/Down/Home/End move between the messages' menu buttons (skipping messages without one). */
  private readonly _onButtonKeydown = (event: KeyboardEvent): void => {
    const all = this._siblings();
    const here = all.indexOf(this);
    let order: ChatMessageElement[];
    switch (event.key) {
      case 'ArrowUp':
        order = all.slice(0, here).reverse();
        break;
      case 'ArrowDown':
        order = all.slice(here + 1);
        break;
      case 'Home':
        order = all;
        break;
      case 'End':
        order = [...all].reverse();
        break;
      default:
        return;
    }
    // Handled even at either end: the arrows must not scroll the log under the focus.
    event.preventDefault();
    this._close(false);
    order.find((message) => message.focusActions());
  };

  /** The user reached this message's menu button: it keeps the tab stop (Tab back into the list returns here). */
  private readonly _onFocusIn = (event: FocusEvent): void => {
    const root = this._root;
    const target = event.target as Element;
    if (!root || !target.classList.contains('actions-button')) return;
    this._takeTabStop(root, true);
    target.setAttribute('tabindex', '0');
  };

  private readonly _onMenuKeydown = (event: KeyboardEvent): void => {
    if (event.key === 'Escape') {
      event.preventDefault();
      // The emoji picker steps back to the menu it came from; the menu closes.
      event.stopPropagation();
      if (this._open === 'picker') void this._openPopup('menu', 1);
      else this._close(true);
    } else if (event.key === 'Tab') {
      this._close(false);
    } else {
      moveInMenu(event, event.currentTarget as Element);
    }
  };

  private readonly _onFocusOut = (event: FocusEvent): void => {
    // Only a move to another element closes: the menu swapped for the picker drops its focused item
    // (focus goes nowhere for a moment), and a click elsewhere is _onOutside's.
    const next = event.relatedTarget as Node | null;
    if (this._open && next && !this.renderRoot.contains(next)) this._close(false);
  };

  private readonly _onOutside = (event: Event): void => {
    if (!event.composedPath().includes(this)) this._close(false);
  };

  private readonly _onAction = (action: MessageAction): void => {
    const m = this.message;
    if (!m) return;
    switch (action) {
      case 'reply':
        this._close(false);
        this.dispatchEvent(new CustomEvent<ChatRoomReplyDetail>('chat-room-reply', { detail: { message: m }, bubbles: true, composed: true }));
        break;
      case 'react':
        void this._openPopup('picker');
        break;
      case 'edit':
        this._open = null;
        this._draft = m.text ?? '';
        void this.updateComplete.then(() => {
          const input = this.renderRoot.querySelector<HTMLTextAreaElement>('textarea');
          input?.focus();
          input?.setSelectionRange(input.value.length, input.value.length);
        });
        break;
      case 'delete':
        this._open = null;
        this._client.value?.delete(m.id);
        // The menu button goes with the message's content: keep focus on the message.
        void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>('.bubble')?.focus());
        break;
    }
  };

  private readonly _react = (emoji: string, on: boolean): void => {
    const m = this.message;
    if (!m) return;
    const fromPicker = this._open === 'picker';
    this._client.value?.react(m.id, emoji, on);
    if (fromPicker) this._close(true);
  };

  private readonly _onEditKeydown = (event: KeyboardEvent): void => {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this._cancelEdit();
    } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this._saveEdit();
    }
  };

  private readonly _cancelEdit = (): void => {
    this._draft = null;
    void this.updateComplete.then(() => this._button()?.focus());
  };

  private readonly _saveEdit = (): void => {
    const m = this.message;
    const text = (this._draft ?? '').trim();
    const max = this._client.value?.snapshot.limits.maxTextChars ?? 4000;
    if (!m || !text || text.length > max) return;
    if (text !== m.text) this._client.value?.edit(m.id, text);
    this._cancelEdit();
  };

  /**
   * The time's tooltip, the full date, made when the pointer reaches it (so in the language shown then): the
   * first paint of a long history formatted one for every message drawn, and a full-date formatter is costly.
   */
  private readonly _dateTitle = (event: Event): void => {
    if (this.message) (event.currentTarget as HTMLElement).title = fullDateTime(this.message.ts, this._l.locale);
  };

  /** Asks the list to show the quoted message; scrolls to it here when nothing took the request. */
  private readonly _show = (id: string): void => {
    const event = new CustomEvent<ChatRoomShowMessageDetail>('chat-room-show-message', {
      detail: { id },
      bubbles: true,
      composed: true,
      cancelable: true,
    });
    if (!this.dispatchEvent(event)) return;
    const root = this.getRootNode() as ParentNode;
    const target = root.querySelector<ChatMessageElement>(`chat-room-message[data-message-id="${CSS.escape(id)}"]`);
    if (!target) return;
    target.scrollIntoView({ block: 'center' });
    target.highlight();
  };
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-message': ChatMessageElement;
  }
  interface HTMLElementEventMap {
    'chat-room-reply': CustomEvent<ChatRoomReplyDetail>;
    'chat-room-show-message': CustomEvent<ChatRoomShowMessageDetail>;
  }
}
