import { css, html, nothing, type TemplateResult } from 'lit';
import type { FileRef, User } from './client/types.js';
import type { Locale } from './i18n/index.js';

/**
 * The quoted message of a reply, drawn the same way in a sent message (a button that shows
 * the original) and above the composer (what is being answered). A template, not an element:
 * one more shadow root per message would cost every long history.
 */

/** The parts of a message a quote needs: a `reply` from the relay, or a message being answered. */
export interface Quotable {
  id: string;
  from: User;
  text?: string | undefined;
  file?: FileRef | undefined;
  deleted?: true | boolean | undefined;
}

/** How many characters of the quoted text are shown (the relay cuts quotes to 200 too). */
const EXCERPT = 200;

/** One line of what was said: the text, the file's name, or the tombstone words. */
export function quoteExcerpt(quoted: Quotable, locale: Locale): string {
  if (quoted.deleted) return locale.t('message.deleted');
  const text = quoted.text?.trim();
  if (text) return text.length > EXCERPT ? `${text.slice(0, EXCERPT)}…` : text;
  return quoted.file ? `📎 ${quoted.file.name}` : '';
}

function body(quoted: Quotable, locale: Locale): TemplateResult {
  // The space between the spans keeps "Bob" and the text apart for screen readers (flex drops it from layout).
  return html`<span class="quote-from">${quoted.from.name || quoted.from.id}</span>
    <span class="quote-text ${quoted.deleted ? 'quote-deleted' : ''}">${quoteExcerpt(quoted, locale)}</span>`;
}

/** The quote inside a sent message: clicking it (or Enter on it) asks to show the original. */
export function renderQuote(quoted: Quotable, locale: Locale, onShow: (id: string) => void): TemplateResult {
  return html`<button
    part="quote"
    class="quote"
    type="button"
    title=${locale.t('reply.show')}
    @click=${() => onShow(quoted.id)}
  >
    ${body(quoted, locale)}
  </button>`;
}

/** Above the composer: what the next message answers, with a button to stop answering it. */
export function renderReplyPreview(quoted: Quotable | null, locale: Locale, onCancel: () => void): TemplateResult | typeof nothing {
  if (!quoted) return nothing;
  return html`<div part="reply-preview" class="reply-preview">
    <div class="quote">
      <span class="sr-only">${locale.t('reply.replyingTo')}</span>
      ${body(quoted, locale)}
    </div>
    <button
      part="reply-cancel"
      class="reply-cancel"
      type="button"
      aria-label=${locale.t('reply.cancel')}
      title=${locale.t('reply.cancel')}
      @click=${onCancel}
    >
      <span aria-hidden="true">×</span>
    </button>
  </div>`;
}

export const quoteStyles = css`
  .quote {
    display: flex;
    flex-direction: column;
    align-items: flex-start;
    min-width: 0;
    max-width: 100%;
    box-sizing: border-box;
    text-align: start;
    font: inherit;
    font-size: 0.85em;
    color: inherit;
    background: color-mix(in srgb, var(--_fg) 6%, transparent);
    border: 0;
    border-inline-start: 3px solid var(--_accent);
    border-radius: calc(var(--_radius) / 3);
    padding: 0.2em 0.5em;
    margin: 0 0 0.25em;
  }
  button.quote {
    cursor: pointer;
  }
  .quote-from {
    font-weight: 600;
  }
  .quote-text {
    max-width: 100%;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .quote-deleted {
    font-style: italic;
  }
  .reply-preview {
    display: flex;
    align-items: center;
    gap: 0.4em;
    padding: 0.4em 0.75em 0;
  }
  .reply-preview .quote {
    flex: 1;
    margin: 0;
  }
  .reply-cancel {
    padding: 0.1em 0.5em;
  }
`;
