import { css, html, LitElement, nothing, type PropertyValues } from 'lit';
import { query, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import { SnapshotController } from './controller.js';
import { GROUP_MS, LocaleController, startOfDay } from './i18n/index.js';
import { buttons } from './styles.js';
import type { ChatMessage, ChatSnapshot } from './client/index.js';

/** How close to the end (px) still counts as "at the bottom" (new messages keep it there). */
const BOTTOM_SLACK = 48;
/** Messages rendered when a conversation opens: enough to fill a tall screen, few enough to render in a frame. */
const INITIAL = 40;
/**
 * Messages rendered first when a conversation opens at the newest: about a screen's worth of a list of the default
 * height (~6 fill 28rem), a few more for taller ones. Each one drawn costs ~0.4 ms of the first paint, so not more:
 * a list they do not fill gets what is missing (estimated from their heights) before the paint, and the rest of
 * the window above follows right after that paint.
 */
const FIRST = 10;
/** Messages added above or below the rendered ones when the user scrolls near their edge. */
const PAGE = 40;
/** The most message elements alive at once; beyond it the far end is dropped (and rendered again when scrolled back). */
const MAX_RENDERED = 160;
/** Within this many screen heights of the rendered edge, more is rendered (or an older page asked for). */
const NEAR_SCREENS = 1.5;
/** Pages asked for at most while looking for a quoted message that is not loaded. */
const SHOW_MESSAGE_PAGES = 10;
/** How often a list that is on screen but hidden (visibility:hidden, opacity 0 …) checks again whether it can be read. */
const HIDDEN_RECHECK_MS = 1000;

/** A message on screen and where, to put it back there when the content above it changes. */
interface Anchor {
  id: string;
  offset: number;
}

/** `checkVisibility` options under both their names (Chromium 105–120 knows only the older ones). */
const VISIBILITY_CHECK = { visibilityProperty: true, checkVisibilityCSS: true, opacityProperty: true, checkOpacity: true } as CheckVisibilityOptions;

/**
 * The conversation as a `role="log"` list of `<chat-room-message>` elements, rendered as a
 * window around what is on screen (at most MAX_RENDERED elements, so a 1,000-message history
 * opens as fast as a short one). Owns the scrolling rules: open at the newest message (or the
 * unread divider) and stick to the bottom while the content grows (bubbles rendering, images
 * loading, the widget shown after display:none) until the user scrolls up; never move what the
 * user is reading (older pages, a wider window, late layout); count new messages in a pill
 * instead of yanking a reader; ask for older pages only when the user scrolls to them while the
 * list is visible. Owns the ONE IntersectionObserver that turns "seen on screen while the page
 * and the widget are visible" into read receipts. Day separators and sender groups are drawn here.
 *
 * @csspart list - The scrolling message log.
 * @csspart divider - The "unread messages" divider.
 * @csspart day - A day separator ("Today", "Yesterday", a date).
 * @csspart new-messages - The "N new messages" pill shown when scrolled up and messages arrived.
 * @csspart to-bottom - The scroll-to-the-newest-message button shown when scrolled up.
 * @csspart load-older - The "load older messages" button.
 *
 * @fires chat-room-read - (internal, not composed) `detail: { seq }` after a read receipt was given to the client.
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
        /* The list keeps what the user reads in place itself (it knows when to stick to the bottom instead). */
        overflow-anchor: none;
        padding-block: 0.5em;
        padding-inline: 0.75em;
      }
      .log:focus-visible {
        outline: 2px solid var(--_accent);
        outline-offset: -2px;
      }
      /* Only a window of messages is rendered, so each renders fully (estimated heights made scrolling jump). */
      chat-room-message {
        content-visibility: visible;
        contain-intrinsic-size: none;
        margin-block-start: 0.35em;
      }
      chat-room-message[grouped] {
        margin-block-start: 0;
      }
      .top {
        text-align: center;
        font-size: 0.85em;
        color: var(--_muted);
        padding-block: 0.25em 0.5em;
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
        margin-block: 0.5em;
      }
      .divider::before,
      .divider::after {
        content: '';
        flex: 1;
        border-top: 1px solid currentColor;
      }
      .day {
        position: sticky;
        top: 0;
        z-index: 1;
        display: flex;
        justify-content: center;
        margin-block: 0.5em 0.25em;
        pointer-events: none;
      }
      .day span {
        font-size: 0.75em;
        font-weight: 600;
        color: var(--_muted);
        background: var(--_bg);
        border: 1px solid color-mix(in srgb, var(--_border) 45%, transparent);
        border-radius: 999px;
        padding: 0.1em 0.7em;
      }
      .jump {
        position: absolute;
        bottom: 0.75em;
        inset-inline-end: 0.9em;
        border-radius: 999px;
        box-shadow: 0 2px 6px rgb(0 0 0 / 0.25);
      }
      .pill {
        inset-inline-end: auto;
        left: 50%;
        transform: translateX(-50%);
        background: var(--_accent);
        color: var(--_on-accent);
        border-color: var(--_accent);
        white-space: nowrap;
      }
      .round {
        width: 2.4em;
        height: 2.4em;
        padding: 0;
        display: grid;
        place-items: center;
      }
    `,
  ];

  @query('.log') private _log!: HTMLElement | null;
  @query('.content') private _content!: HTMLElement | null;
  /** The user is at the bottom: new content keeps them there. */
  @state() private _sticky = true;
  /** Messages from others that arrived below while the user was reading above. */
  @state() private _newCount = 0;

  private readonly _l = new LocaleController(this);
  private readonly _snap = new SnapshotController(this, (next, previous, clientChanged) =>
    this._onSnapshot(next, previous, clientChanged),
  );

  // The window: [_start, _end) of snapshot.messages, kept by message id across snapshots.
  private _tail = true;
  private _startId: string | null = null;
  private _endId: string | null = null;
  private _start = 0;
  private _end = 0;
  /** Not positioned yet: waits for messages and a visible, sized list. */
  private _initial = true;
  /** Positioned, the first paint not made yet: rendering more above waits for it (the newest are shown first). */
  private _beforePaint = false;
  /** Positioned, the list not full yet: what is missing above is rendered before the first paint. */
  private _filling = false;
  private _anchor: Anchor | null = null;
  /** Set while a quoted message is being brought on screen. */
  private _showing: string | null = null;

  private _io: IntersectionObserver | undefined;
  private _ro: ResizeObserver | undefined;
  private readonly _observed = new Set<Element>();
  /** Message elements at least half on screen right now. */
  private readonly _onScreen = new Set<Element>();
  private _readReported = 0;
  private _recheck: ReturnType<typeof setTimeout> | undefined;
  private _settled: Promise<void> = Promise.resolve();
  private readonly _onVisibility = () => this._reportRead();

  constructor() {
    super();
    this.addEventListener('chat-room-show-message', (event) => this._onShowMessage(event as CustomEvent<{ id: string }>));
  }

  override connectedCallback(): void {
    super.connectedCallback();
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._io?.disconnect();
    this._io = undefined;
    this._ro?.disconnect();
    this._ro = undefined;
    this._observed.clear();
    this._onScreen.clear();
    clearTimeout(this._recheck);
  }

  /** Whether the user is at the newest message (new content keeps them there). */
  get atBottom(): boolean {
    return this._sticky;
  }

  /** Scrolls to the newest message (also what the pill and the round button do). */
  scrollToBottom(): void {
    const messages = this._snap.snapshot?.messages ?? [];
    if (!this._tail) {
      // Far from the end: render the newest ones again rather than everything in between.
      this._tail = true;
      this._endId = null;
      this._startId = messages[Math.max(0, messages.length - INITIAL)]?.id ?? null;
    }
    this._sticky = true;
    this._newCount = 0;
    this._anchor = null;
    this.requestUpdate();
    const log = this._log;
    if (log) log.scrollTop = log.scrollHeight;
  }

  /** Brings message `id` on screen (loading older pages when it is not loaded yet) and highlights it. */
  async showMessage(id: string): Promise<boolean> {
    const client = this._snap.client;
    this._showing = id;
    try {
      for (let page = 0; ; page++) {
        const snap = this._snap.snapshot;
        if (!snap || this._showing !== id) return false;
        const index = snap.messages.findIndex((m) => m.id === id);
        if (index >= 0) {
          this._windowAround(index, snap.messages);
          await this.updateComplete;
          const element = this.renderRoot.querySelector<HTMLElement & { highlight?: () => void }>(
            `chat-room-message[data-message-id="${CSS.escape(id)}"]`,
          );
          if (!element) return false;
          element.scrollIntoView({ block: 'center' });
          this._onScroll();
          element.highlight?.();
          return true;
        }
        if (!snap.hasOlder || !client || page >= SHOW_MESSAGE_PAGES) return false;
        await client.loadOlder();
      }
    } finally {
      if (this._showing === id) this._showing = null;
    }
  }

  override render() {
    const snap = this._snap.snapshot;
    const messages = snap?.messages ?? [];
    const t = this._l;
    const window = messages.slice(this._start, this._end);
    return html`
      <div part="list" class="log" role="log" aria-live="polite" aria-label=${t.t('list.label')} tabindex="0" @scroll=${this._onScroll}>
        <div class="content">
          ${snap && this._start === 0 ? this._renderTop(snap) : nothing}
          ${snap && messages.length === 0 && !snap.hasOlder ? html`<p class="empty">${t.t('list.empty')}</p>` : nothing}
          ${repeat(
            window,
            (m) => m.id,
            (m, i) => this._renderMessage(m, this._start + i, messages, snap!),
          )}
        </div>
      </div>
      ${this._renderJump()}
    `;
  }

  private _renderMessage(m: ChatMessage, index: number, messages: readonly ChatMessage[], snap: ChatSnapshot) {
    const previous = messages[index - 1];
    const newDay = !previous || startOfDay(previous.ts) !== startOfDay(m.ts);
    const unread = m.seq !== undefined && m.seq === snap.firstUnreadSeq && index > 0;
    const grouped =
      previous !== undefined && !newDay && !unread && previous.from.id === m.from.id && m.ts - previous.ts < GROUP_MS;
    const t = this._l;
    // The first rendered message always gets its day: the one above it may not be rendered.
    const day = newDay || index === this._start;
    return html`${day ? html`<div part="day" class="day" role="heading" aria-level="3"><span>${t.locale.day(m.ts)}</span></div>` : nothing}${unread
        ? html`<div part="divider" class="divider" role="separator" aria-label=${t.t('list.unreadLabel')}>${t.t('list.unread')}</div>`
        : nothing}<chat-room-message
        data-message-id=${m.id}
        data-seq=${m.seq ?? nothing}
        data-status=${(m.own && m.status) || nothing}
        ?show-sender=${!m.own && !grouped}
        ?grouped=${grouped}
        exportparts="message, bubble, sender, text, meta, status, thumbnail, file-link, retry-button, actions-button, actions-menu, action, reactions, reaction, reaction-picker, quote, edited, tombstone, edit-input, link"
        .message=${m}
      ></chat-room-message>`;
  }

  private _renderTop(snap: ChatSnapshot) {
    const t = this._l;
    if (snap.loadingOlder) return html`<div class="top" role="status">${t.t('list.loadingOlder')}</div>`;
    if (snap.hasOlder) {
      return html`<div class="top">
        <button part="load-older" type="button" @click=${() => void this._snap.client?.loadOlder()}>${t.t('list.loadOlder')}</button>
      </div>`;
    }
    return nothing;
  }

  private _renderJump() {
    if (this._sticky || this._initial) return nothing;
    const t = this._l;
    if (this._newCount > 0) {
      return html`<button part="new-messages" class="jump pill" type="button" @click=${this.scrollToBottom}>
        ${t.t('list.newMessages', { count: this._newCount })} ↓
      </button>`;
    }
    return html`<button
      part="to-bottom"
      class="jump round"
      type="button"
      aria-label=${t.t('list.toBottom')}
      title=${t.t('list.toBottom')}
      @click=${this.scrollToBottom}
    >
      <span aria-hidden="true">↓</span>
    </button>`;
  }

  // ------------------------------------------------------------------ snapshots and the window

  /** Decides, before rendering, how the window and the scroll position follow this change. */
  private _onSnapshot(next: ChatSnapshot | undefined, previous: ChatSnapshot | undefined, clientChanged: boolean): void {
    if (clientChanged || !next) {
      this._initial = true;
      this._beforePaint = false;
      this._filling = false;
      this._tail = true;
      this._startId = null;
      this._endId = null;
      this._sticky = true;
      this._newCount = 0;
      this._anchor = null;
      this._readReported = 0;
      return;
    }
    if (!previous || this._initial) return;
    const before = previous.messages;
    const after = next.messages;
    if (before === after || after.length === 0) return;
    const lastBefore = before[before.length - 1];
    const from = lastBefore ? after.findIndex((m) => m.id === lastBefore.id) + 1 : 0;
    if (from === 0 && lastBefore) return;
    const added = after.slice(from);
    if (added.some((m) => m.own && !before.some((b) => b.id === m.id))) {
      // The user just sent something: always show it.
      this.scrollToBottom();
      return;
    }
    if (!this._sticky) this._newCount += added.filter((m) => !m.own).length;
  }

  protected override willUpdate(changed: PropertyValues): void {
    super.willUpdate(changed);
    this._computeWindow();
    // Where the user is, before the DOM changes under them.
    if (!this._sticky && !this._initial) this._anchor = this._topMessage() ?? this._anchor;
  }

  private _computeWindow(): void {
    const messages = this._snap.snapshot?.messages ?? [];
    const length = messages.length;
    if (length === 0) {
      this._start = this._end = 0;
      return;
    }
    if (this._initial && this._startId === null) {
      const snap = this._snap.snapshot!;
      const unread = snap.firstUnreadSeq === null ? -1 : messages.findIndex((m) => m.seq === snap.firstUnreadSeq);
      if (unread > 0 && length - unread > INITIAL) {
        // Many unread: open at the divider with some context above it, the newest ones not rendered yet.
        const start = Math.max(0, unread - 5);
        this._startId = messages[start]!.id;
        this._tail = false;
        this._endId = messages[Math.min(length, start + INITIAL) - 1]!.id;
      } else {
        this._startId = messages[Math.max(0, Math.min(length - FIRST, unread >= 0 ? unread - 5 : length))]!.id;
        this._tail = true;
      }
    }
    let start = this._startId === null ? -1 : messages.findIndex((m) => m.id === this._startId);
    if (start < 0) start = Math.min(this._start, Math.max(0, length - 1));
    let end = length;
    if (!this._tail) {
      const found = this._endId === null ? -1 : messages.findIndex((m) => m.id === this._endId);
      end = found >= 0 ? found + 1 : Math.min(length, Math.max(start + 1, this._end));
    }
    if (this._tail && end - start > MAX_RENDERED && this._sticky) {
      // At the bottom while messages keep coming: let the oldest rendered ones go.
      start = end - MAX_RENDERED;
    }
    this._start = start;
    this._end = Math.max(end, start);
    this._startId = messages[start]?.id ?? null;
    this._endId = this._tail ? null : (messages[this._end - 1]?.id ?? null);
  }

  /** A window of PAGE on each side of message `index` (a quoted message being shown). */
  private _windowAround(index: number, messages: readonly ChatMessage[]): void {
    if (index >= this._start && index < this._end) return;
    const start = Math.max(0, index - PAGE);
    const end = Math.min(messages.length, index + PAGE);
    this._startId = messages[start]!.id;
    this._tail = end === messages.length;
    this._endId = this._tail ? null : messages[end - 1]!.id;
    this._sticky = false;
    this._anchor = null;
    this.requestUpdate();
  }

  private _extendUp(): boolean {
    const messages = this._snap.snapshot?.messages ?? [];
    if (this._start === 0) return false;
    const start = Math.max(0, this._start - PAGE);
    this._startId = messages[start]!.id;
    if (this._end - start > MAX_RENDERED) {
      this._tail = false;
      this._endId = messages[start + MAX_RENDERED - 1]!.id;
    }
    this.requestUpdate();
    return true;
  }

  private _extendDown(): boolean {
    const messages = this._snap.snapshot?.messages ?? [];
    if (this._tail) return false;
    const end = Math.min(messages.length, this._end + PAGE);
    if (end === messages.length) {
      this._tail = true;
      this._endId = null;
    } else this._endId = messages[end - 1]!.id;
    if (end - this._start > MAX_RENDERED) this._startId = messages[end - MAX_RENDERED]!.id;
    this.requestUpdate();
    return true;
  }

  // ------------------------------------------------------------------ scrolling

  protected override firstUpdated(): void {
    // Content that changes height (bubbles rendering, images loading) and a list that gets a size (shown after
    // display:none, a launcher panel opening, a rotated phone): the position must follow in the same frame.
    this._ro = new ResizeObserver(() => this._settle());
    if (this._log) this._ro.observe(this._log);
    if (this._content) this._ro.observe(this._content);
  }

  protected override updated(changed: PropertyValues): void {
    super.updated(changed);
    const log = this._log;
    if (!log) return;
    this._observeNew();
    // Message elements render after the list: settle once they have their height.
    const children = Array.from(this.renderRoot.querySelectorAll('chat-room-message'), (m) => m.updateComplete);
    this._settled = Promise.all(children).then(() => this._settle());
  }

  protected override async getUpdateComplete(): Promise<boolean> {
    const result = await super.getUpdateComplete();
    await this._settled;
    return result;
  }

  /** Puts the scroll position where the rules say, then renders or loads more if the user is near an edge. */
  private _settle(): void {
    const log = this._log;
    const snap = this._snap.snapshot;
    if (!log || !snap) return;
    if (this._initial) {
      if (snap.messages.length === 0 || !this._visible(log)) return;
      this._positionInitially(log);
      this._initial = false;
      this.requestUpdate();
      this._filling = this._sticky;
      if (!this._fill(log)) return;
    } else if (this._filling) {
      log.scrollTop = log.scrollHeight;
      if (!this._fill(log)) return;
    } else if (this._sticky) {
      log.scrollTop = log.scrollHeight;
    } else if (this._anchor) {
      this._restore(log, this._anchor);
    }
    this._maybeMore(log);
    // A message acked while on screen gains its seq without any intersection change.
    this._reportRead();
  }

  /**
   * Opened at the newest: while the messages rendered do not fill the list, renders above as many more as their
   * heights say are missing (false: rendering them, before the paint). Once it is full, paints it and renders the
   * rest of the window above afterwards (true: nothing held back any more).
   */
  private _fill(log: HTMLElement): boolean {
    const drawn = this._end - this._start;
    const empty = log.clientHeight - log.scrollHeight;
    if (this._filling && empty >= 0 && this._start > 0 && drawn > 0) {
      // Two more than the estimate: the first screen painted full matters more than two messages' cost.
      const missing = Math.ceil((empty * drawn) / Math.max(1, log.scrollHeight)) + 2;
      const start = Math.max(0, this._start - missing);
      this._startId = this._snap.snapshot?.messages[start]?.id ?? this._startId;
      // Not a page of PAGE through _maybeMore (a scroll event may come before the paint).
      this._beforePaint = true;
      this.requestUpdate();
      return false;
    }
    this._filling = false;
    this._beforePaint = log.scrollHeight > log.clientHeight;
    if (this._beforePaint) {
      // The list is full: paint it now, render the rest of the window above afterwards.
      requestAnimationFrame(() =>
        setTimeout(() => {
          this._beforePaint = false;
          if (this._log) this._maybeMore(this._log);
        }),
      );
    }
    return true;
  }

  private _positionInitially(log: HTMLElement): void {
    const divider = this.renderRoot.querySelector<HTMLElement>('.divider');
    if (divider) {
      log.scrollTop = Math.max(0, divider.offsetTop - log.offsetTop - 8);
      this._sticky = this._distanceToBottom(log) <= BOTTOM_SLACK;
      if (!this._sticky) this._anchor = this._topMessage();
    } else {
      log.scrollTop = log.scrollHeight;
      this._sticky = true;
    }
  }

  private _onScroll(): void {
    const log = this._log;
    if (!log || this._initial) return;
    const sticky = this._distanceToBottom(log) <= BOTTOM_SLACK && this._tail;
    if (sticky !== this._sticky) this._sticky = sticky;
    if (sticky) this._newCount = 0;
    this._anchor = sticky ? null : this._topMessage();
    this._maybeMore(log);
  }

  private _distanceToBottom(log: HTMLElement): number {
    return log.scrollHeight - log.scrollTop - log.clientHeight;
  }

  /** Near the top: render older ones, or ask the relay for them; near the bottom of a window that is not the tail: render newer ones. */
  private _maybeMore(log: HTMLElement): void {
    const snap = this._snap.snapshot;
    if (!snap || this._initial || this._beforePaint || !this._visible(log)) return;
    const near = log.clientHeight * NEAR_SCREENS;
    if (log.scrollTop < near) {
      if (this._extendUp()) return;
      // Only while the list is visible and the user is at its top (or it is not even full): a hidden widget downloads nothing.
      if (snap.hasOlder && !snap.loadingOlder) void this._snap.client?.loadOlder();
    } else if (this._distanceToBottom(log) < near) {
      this._extendDown();
    }
  }

  /** The list has a size and is rendered (not display:none, not in a closed panel). */
  private _visible(log: HTMLElement): boolean {
    return log.clientHeight > 0 && log.checkVisibility();
  }

  private _restore(log: HTMLElement, anchor: Anchor): void {
    const element = this.renderRoot.querySelector(`chat-room-message[data-message-id="${CSS.escape(anchor.id)}"]`);
    if (!element) return;
    const moved = element.getBoundingClientRect().top - log.getBoundingClientRect().top - anchor.offset;
    if (Math.abs(moved) >= 0.5) log.scrollTop += moved;
  }

  /** The first message whose bottom is below the top of the log, and how far from the top it starts. */
  private _topMessage(): Anchor | null {
    const log = this._log;
    if (!log) return null;
    const top = log.getBoundingClientRect().top;
    for (const element of this.renderRoot.querySelectorAll<HTMLElement>('chat-room-message')) {
      const box = element.getBoundingClientRect();
      if (box.bottom > top) return { id: element.dataset['messageId'] ?? '', offset: box.top - top };
    }
    return null;
  }

  private _onShowMessage(event: CustomEvent<{ id: string }>): void {
    event.preventDefault();
    void this.showMessage(event.detail.id);
  }

  // ------------------------------------------------------------------ read receipts

  private _observeNew(): void {
    // Root: the viewport, so that a widget scrolled off the page, or clipped by the log, reads nothing.
    this._io ??= new IntersectionObserver((entries) => this._onIntersect(entries), { threshold: 0.5 });
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

  /** Sends the highest seq on screen, but only while the page and the widget are actually visible. */
  private _reportRead(): void {
    clearTimeout(this._recheck);
    this._recheck = undefined;
    const client = this._snap.client;
    const log = this._log;
    if (!client || !log) return;
    let highest = 0;
    for (const element of this._onScreen) {
      const seq = Number((element as HTMLElement).dataset['seq']);
      if (seq > highest) highest = seq;
    }
    if (highest <= this._readReported) return;
    if (document.visibilityState !== 'visible') return;
    // IntersectionObserver ignores visibility:hidden and opacity: ask again later instead of reading unseen messages.
    if (!log.checkVisibility(VISIBILITY_CHECK)) {
      this._recheck = setTimeout(() => this._reportRead(), HIDDEN_RECHECK_MS);
      return;
    }
    this._readReported = highest;
    client.markRead(highest);
    this.dispatchEvent(new CustomEvent('chat-room-read', { detail: { seq: highest }, bubbles: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-message-list': ChatMessageList;
  }
}
