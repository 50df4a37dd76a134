import { css, html, LitElement, nothing } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { SnapshotController } from './controller.js';
import { humanSize } from './format.js';
import { errorText, Labels } from './messages.js';
import { buttons } from './styles.js';
import type { UploadState } from './client/types.js';

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

  override render() {
    const uploads = (this._snap.snapshot?.uploads ?? []).filter((u) => u.state === 'uploading' || u.state === 'failed');
    if (uploads.length === 0) return nothing;
    return html`<ul part="uploads" aria-label="Uploads">
      ${repeat(
        uploads,
        (u) => u.id,
        (u) => this._renderUpload(u),
      )}
    </ul>`;
  }

  private _renderUpload(u: UploadState) {
    const client = this._snap.client;
    const percent = u.size > 0 ? Math.floor((u.loaded / u.size) * 100) : 0;
    if (u.state === 'failed') {
      return html`<li part="upload" data-upload-id=${u.id} data-state=${u.state}>
        <span class="name">${u.name}</span>
        <span class="error" role="alert">${u.error ? errorText(u.error) : Labels.uploadFailed}</span>
        <button type="button" aria-label="Retry upload of ${u.name}" @click=${() => client?.retryUpload(u.id)}>Retry</button>
        <button type="button" aria-label="Dismiss upload of ${u.name}" @click=${() => client?.dismissUpload(u.id)}>Dismiss</button>
      </li>`;
    }
    return html`<li part="upload" data-upload-id=${u.id} data-state=${u.state}>
      <span class="name">${u.name}</span>
      <progress part="progress" max=${Math.max(u.size, 1)} .value=${u.loaded} aria-label="Uploading ${u.name}"></progress>
      <span class="figure">${percent}% of ${humanSize(u.size)}</span>
      <button type="button" aria-label="Cancel upload of ${u.name}" @click=${() => client?.cancelUpload(u.id)}>Cancel</button>
    </li>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-uploads': ChatUploads;
  }
}
