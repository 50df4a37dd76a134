import { css, html, LitElement } from 'lit';
import { state } from 'lit/decorators.js';
import { SnapshotController } from './controller.js';
import { LocaleController } from './i18n/index.js';
import type { ConnectionState } from './client/index.js';

/** How long "Back online" stays after a reconnect. */
const BACK_ONLINE_MS = 3000;

type Banner = { kind: 'offline' | 'reconnecting' | 'connecting' | 'closed' | 'online'; text: string } | null;

/**
 * The connection banner: offline, reconnecting, and briefly "back online". The live
 * region always exists (empty when all is well) because screen readers only announce
 * changes to a region they already know.
 *
 * @csspart banner - The banner.
 *
 * @tagname chat-room-connection
 */
export class ChatConnection extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    .banner:empty {
      display: none;
    }
    .banner {
      padding: 0.35em 0.9em;
      font-size: 0.85em;
      background: var(--_warn-bg);
      color: var(--_warn-fg);
    }
    .banner.online {
      background: var(--_ok-bg);
      color: var(--_ok-fg);
    }
    .banner.connecting {
      background: transparent;
      color: var(--_muted);
    }
  `;

  @state() private _backOnline = false;
  private _wasOpen = false;
  private _wasDown = false;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private readonly _l = new LocaleController(this);
  private readonly _snap = new SnapshotController(this, (next, previous, clientChanged) =>
    this._onConnection(next?.connection, clientChanged ? undefined : previous?.connection, clientChanged),
  );

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this._timer);
    this._backOnline = false;
  }

  override render() {
    const banner = this._banner();
    return html`<div part="banner" class="banner ${banner?.kind ?? ''}" role="status" data-connection=${banner?.kind ?? 'ok'}
      >${banner?.text ?? ''}</div
    >`;
  }

  private _banner(): Banner {
    const connection = this._snap.snapshot?.connection;
    const t = this._l;
    switch (connection) {
      case 'offline':
        return { kind: 'offline', text: t.t('connection.offline') };
      case 'reconnecting':
        return { kind: 'reconnecting', text: t.t('connection.reconnecting') };
      case 'connecting':
        return this._wasOpen
          ? { kind: 'reconnecting', text: t.t('connection.reconnecting') }
          : { kind: 'connecting', text: t.t('connection.connecting') };
      case 'closed':
        return { kind: 'closed', text: t.t('connection.closed') };
      case 'open':
        return this._backOnline ? { kind: 'online', text: t.t('connection.online') } : null;
      default:
        return null;
    }
  }

  private _onConnection(next: ConnectionState | undefined, previous: ConnectionState | undefined, clientChanged: boolean): void {
    if (clientChanged) {
      // A new client (conversation switch) starts a new story.
      this._wasOpen = false;
      this._wasDown = false;
      this._backOnline = false;
      clearTimeout(this._timer);
    }
    if (next === previous) return;
    if (next === 'open') {
      if (this._wasDown) {
        this._backOnline = true;
        clearTimeout(this._timer);
        this._timer = setTimeout(() => (this._backOnline = false), BACK_ONLINE_MS);
      }
      this._wasOpen = true;
      this._wasDown = false;
    } else if (next === 'offline' || next === 'reconnecting' || (next === 'connecting' && this._wasOpen)) {
      this._wasDown = true;
      this._backOnline = false;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-connection': ChatConnection;
  }
}
