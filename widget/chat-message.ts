import { ContextConsumer } from '@lit/context';
import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { property } from 'lit/decorators.js';
import { clientContext } from './context.js';
import { humanSize, statusText, timeLabel } from './format.js';
import { clockIcon, paperclipIcon } from './icons.js';
import { errorText, Labels } from './messages.js';
import { buttons, srOnly } from './styles.js';
import type { ChatMessage, FileRef } from './client/types.js';

const TICKS: Record<string, unknown> = { sending: clockIcon, sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

/**
 * One message bubble. The list sets `data-message-id`, `data-seq` and `data-status` on
 * this element (not inside it) so that tests and the read-receipt observer find them
 * one shadow root down from the list.
 *
 * @csspart message - The row holding the bubble (own messages are aligned to the end).
 * @csspart bubble - The bubble.
 * @csspart sender - The sender's name above messages from others.
 * @csspart text - The message text.
 * @csspart meta - Time and status line.
 * @csspart status - The tick marks of an own message.
 * @csspart thumbnail - An image attachment's thumbnail.
 * @csspart file-link - A non-image attachment's download link.
 * @csspart retry-button - Resends a failed message.
 *
 * @tagname chat-room-message
 */
export class ChatMessageElement extends LitElement {
  static override styles = [
    srOnly,
    buttons,
    css`
      :host {
        display: block;
        padding: 2px 0;
        /* Long histories: the browser lays out and paints only the bubbles near the screen. */
        content-visibility: auto;
        contain-intrinsic-size: auto 3.5em;
      }
      .row {
        display: flex;
        flex-direction: column;
        align-items: flex-start;
      }
      .row.own {
        align-items: flex-end;
      }
      .bubble {
        max-width: min(80%, 36em);
        padding: 0.4em 0.7em;
        border-radius: var(--_radius);
        background: var(--_bubble-other);
        color: var(--_fg);
        overflow-wrap: anywhere;
      }
      .own .bubble {
        background: var(--_bubble-own);
      }
      .failed .bubble {
        border: 1px solid var(--_danger);
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
        padding-right: 0.2em;
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
        margin-left: 0.25em;
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

  private readonly _client = new ContextConsumer(this, { context: clientContext, subscribe: true });

  override render() {
    const m = this.message;
    if (!m) return nothing;
    const classes = `row ${m.own ? 'own' : 'other'}${m.status === 'failed' ? ' failed' : ''}`;
    return html`
      <div part="message" class=${classes}>
        <div part="bubble" class="bubble">
          ${this.showSender && !m.own ? html`<div part="sender" class="sender">${m.from.name || m.from.id}</div>` : nothing}
          ${m.file ? this._renderFile(m.file) : nothing}
          ${m.text ? html`<div part="text" class="text">${m.text}</div>` : nothing}
          <div part="meta" class="meta">
            <span class="sr-only">${m.own ? 'You' : m.from.name || m.from.id},</span>
            <time datetime=${new Date(m.ts).toISOString()}>${timeLabel(m.ts)}</time>
            ${m.own && m.status ? this._renderStatus(m) : nothing}
          </div>
        </div>
        ${m.status === 'failed' ? this._renderFailed(m) : nothing}
      </div>
    `;
  }

  private _renderStatus(m: ChatMessage): TemplateResult {
    const words = statusText(m);
    return html`<span part="status" class="status ${m.status}" title=${words}
      ><span aria-hidden="true">${TICKS[m.status ?? ''] ?? ''}</span><span class="sr-only">${words}</span></span
    >`;
  }

  private _renderFailed(m: ChatMessage): TemplateResult {
    return html`<div class="actions">
      <span class="error">${m.error ? errorText(m.error) : Labels.notSent}</span>
      <button part="retry-button" type="button" @click=${() => this._client.value?.retry(m.id)}>Retry</button>
      <button type="button" @click=${() => this._client.value?.discard(m.id)}>Discard</button>
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
      <span class="size">(${humanSize(file.size)})</span>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-message': ChatMessageElement;
  }
}
