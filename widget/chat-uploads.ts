import { css, html, LitElement, nothing } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { SnapshotController } from './controller.js';
import { LocaleController } from './i18n/index.js';
import { buttons } from './styles.js';
import type { ChatError, UploadState } from './client/index.js';

/** Upload errors that a second try can fix (the network, a busy relay); a file too large stays too large. */
export function uploadRetryable(error: ChatError | undefined): boolean {
  if (!error) return true;
  switch (error.code) {
    case 'upload_network':
    case 'unavailable':
    case 'internal':
    case 'rate_limited':
      return true;
    case 'upload_refused': {
      const status = Number(error.params?.['status'] ?? 0);
      return status === 0 || status === 408 || status === 429 || status >= 500;
    }
    default:
      return false;
  }
}

/**
 * Running and failed uploads above the composer: a progress bar with Cancel while the
 * bytes go up, the reason with Retry/Dismiss when it failed. Finished uploads become
 * messages, so they leave this list.
 *
 * @csspart uploads - The list of uploads.
 * @csspart upload - One upload.
 * @csspart progress - An upload's progress bar.
 *
 * @tagname chat-room-uploads
 */
export class ChatUploads extends LitElement {
  static override styles = [
    buttons,
    css`
      :host {
        display: block;
      }
      ul {
        list-style: none;
        margin: 0;
        padding: 0.25em 0.75em;
        display: grid;
        gap: 0.25em;
      }
      li {
        display: flex;
        align-items: center;
        gap: 0.5em;
        font-size: 0.85em;
      }
      .name {
        flex: 0 1 auto;
        min-width: 0;
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      progress {
        flex: 1;
        min-width: 4em;
        accent-color: var(--_accent);
      }
      .figure {
        color: var(--_muted);
        font-variant-numeric: tabular-nums;
      }
      .error {
        flex: 1;
        color: var(--_danger);
      }
    `,
  ];

  private readonly _snap = new SnapshotController(this);
  private readonly _l = new LocaleController(this);

  override render() {
    // Waiting ones too (offline, relay unreachable): kept and begun once the connection is back, and cancellable meanwhile.
    const uploads = (this._snap.snapshot?.uploads ?? []).filter((u) => u.state === 'uploading' || u.state === 'failed' || u.state === 'waiting');
    if (uploads.length === 0) return nothing;
    return html`<ul part="uploads" aria-label=${this._l.t('uploads.label')}>
      ${repeat(
        uploads,
        (u) => u.id,
        (u) => this._renderUpload(u),
      )}
    </ul>`;
  }

  private _renderUpload(u: UploadState) {
    const client = this._snap.client;
    const locale = this._l.locale;
    const name = { name: u.name };
    if (u.state === 'failed') {
      return html`<li part="upload" data-upload-id=${u.id} data-state=${u.state}>
        <span class="name">${u.name}</span>
        <span class="error" role="alert">${u.error ? locale.error(u.error) : locale.t('upload.failed')}</span>
        ${uploadRetryable(u.error)
          ? html`<button type="button" aria-label=${locale.t('upload.retryLabel', name)} @click=${() => client?.retryUpload(u.id)}>${locale.t('upload.retry')}</button>`
          : nothing}
        <button type="button" aria-label=${locale.t('upload.dismissLabel', name)} @click=${() => client?.dismissUpload(u.id)}>${locale.t('upload.dismiss')}</button>
      </li>`;
    }
    const cancel = html`<button type="button" aria-label=${locale.t('upload.cancelLabel', name)} @click=${() => client?.cancelUpload(u.id)}>${locale.t('upload.cancel')}</button>`;
    if (u.state === 'waiting') {
      return html`<li part="upload" data-upload-id=${u.id} data-state=${u.state}>
        <span class="name">${u.name}</span>
        <span class="figure" role="status">${locale.t('upload.waiting')}</span>
        ${cancel}
      </li>`;
    }
    return html`<li part="upload" data-upload-id=${u.id} data-state=${u.state}>
      <span class="name">${u.name}</span>
      <progress part="progress" max=${Math.max(u.size, 1)} .value=${u.loaded} aria-label=${locale.t('upload.uploading', name)}></progress>
      <span class="figure">${locale.t('upload.progress', { percent: locale.percent(u.size > 0 ? Math.floor((u.loaded / u.size) * 100) / 100 : 0), size: locale.size(u.size) })}</span>
      ${cancel}
    </li>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-uploads': ChatUploads;
  }
}
