import { css, html, LitElement, nothing, type PropertyValues } from 'lit';
import { query, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import { SnapshotController } from './controller.js';
import { LocaleController } from './i18n/index.js';
import { buttons } from './styles.js';
import type { ChatSnapshot } from './client/index.js';

/** How close to the end (px) still counts as "at the bottom" (new messages keep it there). */
const BOTTOM_SLACK = 48;
/** How close to the top (px) asks the client for the previous page. */
const LOAD_OLDER_AT = 120;

type ScrollIntent = 'none' | 'bottom' | 'keep-anchor' | 'initial';

/**
 * The conversation as a `role="log"` list of `<chat-room-message>` elements. Owns the ONE
 * IntersectionObserver that turns "seen on screen while the page is visible" into read
 * receipts, and the scrolling rules (stick to the bottom, "new messages" pill, keep the
 * position while older pages are prepended).
 *
 * @csspart list - The scrolling message log.
 * @csspart divider - The "unread messages" divider.
 * @csspart new-messages - The "new messages" pill shown when scrolled up.
 * @csspart load-older - The "load older messages" button.
 *
 * @tagname chat-room-message-list
 */
export class ChatMessageList extends LitElement {
  static override styles = [
    buttons,
    css`
      :host {
        display: flex;
        flex-direction: column;
        position: relative;
        min-height: 0;
      }
      .log {
        flex: 1;
        overflow-y: auto;
        overscroll-behavior: contain;
        padding: 0.5em 0.75em;
      }
      .log:focus-visible {
        outline: 2px solid var(--_accent);
        outline-offset: -2px;
      }
      .top {
        text-align: center;
        font-size: 0.85em;
        color: var(--_muted);
        padding: 0.25em 0 0.5em;
      }
      .empty {
        text-align: center;
        color: var(--_muted);
        margin: 2em 0;
      }
      .divider {
        display: flex;
        align-items: center;
        gap: 0.5em;
        color: var(--_accent);
        font-size: 0.8em;
        font-weight: 600;
        margin: 0.5em 0;
      }
      .divider::before,
      .divider::after {
        content: '';
        flex: 1;
        border-top: 1px solid currentColor;
      }
      .pill {
        position: absolute;
        bottom: 0.75em;
        left: 50%;
        transform: translateX(-50%);
        border-radius: 999px;
        background: var(--_accent);
        color: var(--_on-accent);
        border-color: var(--_accent);
        box-shadow: 0 2px 6px rgb(0 0 0 / 0.25);
      }
    `,
  ];

  @query('.log') private _log!: HTMLElement | null;
  @state() private _pill = false;

  private readonly _snap = new SnapshotController(this, (next, previous, clientChanged) =>
    this._onSnapshot(next, previous, clientChanged),
  );
  private readonly _l = new LocaleController(this);
  private _io: IntersectionObserver | undefined;
  private readonly _observed = new Set<Element>();
  /** Message elements at least half on screen right now. */
  private readonly _onScreen = new Set<Element>();
  private _readReported = 0;
  private _atBottom = true;
  private _intent: ScrollIntent = 'initial';
  /** The message that was at the top of the screen before older ones were prepended, and where. */
  private _anchor: { element: Element; offset: number } | null = null;
  private _scrolled: Promise<void> = Promise.resolve();
  private readonly _onVisibility = () => this._reportRead();

  override connectedCallback(): void {
    super.connectedCallback();
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._io?.disconnect();
    this._io = undefined;
    this._observed.clear();
    this._onScreen.clear();
  }

  /** Scrolls to the newest message (also what the "new messages" pill does). */
  scrollToBottom(): void {
    const log = this._log;
    if (log) log.scrollTop = log.scrollHeight;
    this._atBottom = true;
    this._pill = false;
  }

  override render() {
    const snap = this._snap.snapshot;
    const messages = snap?.messages ?? [];
    return html`
      <div
        part="list"
        class="log"
        role="log"
        aria-live="polite"
        aria-label=${this._l.t('list.label')}
        tabindex="0"
        @scroll=${this._onScroll}
      >
        ${snap ? this._renderTop(snap) : nothing}
        ${snap && messages.length === 0 && !snap.hasOlder ? html`<p class="empty">${this._l.t('list.empty')}</p>` : nothing}
        ${repeat(
          messages,
          (m) => m.id,
          (m, i) => html`${m.seq !== undefined && m.seq === snap?.firstUnreadSeq && i > 0
              ? html`<div part="divider" class="divider" role="separator" aria-label=${this._l.t('list.unreadLabel')}>${this._l.t('list.unread')}</div>`
              : nothing}<chat-room-message
              data-message-id=${m.id}
              data-seq=${m.seq ?? nothing}
              data-status=${(m.own && m.status) || nothing}
              ?show-sender=${!m.own && messages[i - 1]?.from.id !== m.from.id}
              exportparts="message, bubble, sender, text, meta, status, thumbnail, file-link, retry-button"
              .message=${m}
            ></chat-room-message>`,
        )}
      </div>
      ${this._pill
        ? html`<button part="new-messages" class="pill" type="button" @click=${this.scrollToBottom}>${this._l.t('list.toBottom')} ↓</button>`
        : nothing}
    `;
  }

  private _renderTop(snap: ChatSnapshot) {
    if (snap.loadingOlder) return html`<div class="top" role="status">${this._l.t('list.loadingOlder')}</div>`;
    if (snap.hasOlder) {
      return html`<div class="top">
        <button part="load-older" type="button" @click=${() => void this._snap.client?.loadOlder()}>${this._l.t('list.loadOlder')}</button>
      </div>`;
    }
    return nothing;
  }

  /** Decides, before rendering, how the scroll position must follow this change. */
  private _onSnapshot(next: ChatSnapshot | undefined, previous: ChatSnapshot | undefined, clientChanged: boolean): void {
    if (clientChanged || !previous || !next) {
      this._intent = 'initial';
      this._readReported = 0;
      this._pill = false;
      return;
    }
    if (this._intent === 'initial') return;
    const before = previous.messages;
    const after = next.messages;
    if (before === after) return;
    const last = after[after.length - 1];
    const prependedOlder = before.length > 0 && after.length > before.length && after[0]?.id !== before[0]?.id;
    const newLast = last !== undefined && last.id !== before[before.length - 1]?.id && !before.some((m) => m.id === last.id);
    if (newLast && last.own) {
      // The user just sent something: always show it.
      this._intent = 'bottom';
    } else if (this._atBottom) {
      this._intent = 'bottom';
    } else if (prependedOlder) {
      this._intent = 'keep-anchor';
      this._anchor = this._topMessage();
    } else if (newLast && !last.own) {
      this._pill = true;
    }
  }

  protected override updated(changed: PropertyValues): void {
    super.updated(changed);
    const log = this._log;
    if (!log) return;
    this._observeNew(log);
    // Message elements render after the list: scroll once they have their height.
    const children = Array.from(this.renderRoot.querySelectorAll('chat-room-message'), (m) => m.updateComplete);
    this._scrolled = Promise.all(children).then(() => this._applyScroll());
  }

  protected override async getUpdateComplete(): Promise<boolean> {
    const result = await super.getUpdateComplete();
    await this._scrolled;
    // _applyScroll may have queued a follow-up for the next frame.
    await this._scrolled;
    return result;
  }

  private _applyScroll(): void {
    const log = this._log;
    if (!log) return;
    const snap = this._snap.snapshot;
    switch (this._intent) {
      case 'initial':
        if (snap && snap.messages.length > 0) {
          this._scrollInitially(log, snap);
          this._intent = 'none';
        }
        break;
      case 'bottom':
        this.scrollToBottom();
        this._intent = 'none';
        break;
      case 'keep-anchor': {
        const anchor = this._anchor;
        this._anchor = null;
        this._intent = 'none';
        if (!anchor) break;
        this._restoreAnchor(log, anchor);
        // Messages near the screen render in the next frames (content-visibility) and trade
        // their estimated height for the real one: keep putting the anchor back until it stays.
        this._scrolled = new Promise<void>((resolve) => {
          let frames = 0;
          const again = () => {
            const moved = this._restoreAnchor(log, anchor);
            if (Math.abs(moved) < 0.5 || ++frames >= 10) resolve();
            else requestAnimationFrame(again);
          };
          requestAnimationFrame(again);
        });
        break;
      }
      case 'none':
        break;
    }
    // A message acked while on screen gains its seq without any intersection change.
    this._reportRead();
    this._maybeLoadOlder(log);
  }

  /** Scrolls so that the anchor is where it was; returns by how much it had moved. */
  private _restoreAnchor(log: HTMLElement, anchor: { element: Element; offset: number }): number {
    if (!anchor.element.isConnected) return 0;
    const moved = anchor.element.getBoundingClientRect().top - log.getBoundingClientRect().top - anchor.offset;
    log.scrollTop += moved;
    return moved;
  }

  private _topMessage(): { element: Element; offset: number } | null {
    const log = this._log;
    if (!log) return null;
    const top = log.getBoundingClientRect().top;
    for (const element of this.renderRoot.querySelectorAll('chat-room-message')) {
      const box = element.getBoundingClientRect();
      if (box.bottom > top) return { element, offset: box.top - top };
    }
    return null;
  }

  private _scrollInitially(log: HTMLElement, snap: ChatSnapshot): void {
    const divider = this.renderRoot.querySelector('.divider');
    if (divider instanceof HTMLElement) {
      log.scrollTop = Math.max(0, divider.offsetTop - log.offsetTop - 8);
      this._atBottom = log.scrollHeight - log.scrollTop - log.clientHeight <= BOTTOM_SLACK;
    } else if (snap.messages.length > 0) {
      this.scrollToBottom();
    }
  }

  private _onScroll(): void {
    const log = this._log;
    if (!log) return;
    this._atBottom = log.scrollHeight - log.scrollTop - log.clientHeight <= BOTTOM_SLACK;
    if (this._atBottom) this._pill = false;
    this._maybeLoadOlder(log);
  }

  private _maybeLoadOlder(log: HTMLElement): void {
    const snap = this._snap.snapshot;
    if (!snap?.hasOlder || snap.loadingOlder || this._intent === 'initial') return;
    // Also when the loaded page does not fill the log: no scroll event would ever come.
    if (log.scrollTop <= LOAD_OLDER_AT || log.scrollHeight <= log.clientHeight) void this._snap.client?.loadOlder();
  }

  private _observeNew(log: HTMLElement): void {
    this._io ??= new IntersectionObserver((entries) => this._onIntersect(entries), { root: log, threshold: 0.5 });
    for (const element of this._observed) {
      if (!element.isConnected) {
        this._io.unobserve(element);
        this._observed.delete(element);
        this._onScreen.delete(element);
      }
    }
    for (const element of this.renderRoot.querySelectorAll('chat-room-message')) {
      if (this._observed.has(element)) continue;
      this._observed.add(element);
      this._io.observe(element);
    }
  }

  private _onIntersect(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (entry.isIntersecting && entry.intersectionRatio >= 0.5) this._onScreen.add(entry.target);
      else this._onScreen.delete(entry.target);
    }
    this._reportRead();
  }

  /** Sends the highest seq on screen, but only while the page is actually visible. */
  private _reportRead(): void {
    if (document.visibilityState !== 'visible') return;
    const client = this._snap.client;
    if (!client) return;
    let highest = 0;
    for (const element of this._onScreen) {
      const seq = Number((element as HTMLElement).dataset['seq']);
      if (seq > highest) highest = seq;
    }
    if (highest > this._readReported) {
      this._readReported = highest;
      client.markRead(highest);
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-message-list': ChatMessageList;
  }
}
