import { css, html, LitElement } from 'lit';
import { SnapshotController } from './controller.js';
import { typingText } from './format.js';
import { LocaleController } from './i18n/index.js';

/**
 * "Alice is typing…" under the log. Always takes its line so the log does not jump when
 * somebody starts or stops typing. Not a live region: announcing every pause would drown
 * the messages themselves.
 *
 * @csspart typing - The typing line.
 *
 * @tagname chat-room-typing
 */
export class ChatTyping extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    .typing {
      min-height: 1.4em;
      padding: 0 0.9em;
      font-size: 0.8em;
      font-style: italic;
      color: var(--_muted);
      white-space: nowrap;
      overflow: hidden;
      text-overflow: ellipsis;
    }
  `;

  private readonly _snap = new SnapshotController(this);
  private readonly _l = new LocaleController(this);

  override render() {
    return html`<div part="typing" class="typing">${typingText(this._snap.snapshot?.typing ?? [], this._l.locale)}</div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-typing': ChatTyping;
  }
}
