import { ContextConsumer } from '@lit/context';
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import { clientContext } from './context.js';
import type { ChatClient, ChatSnapshot } from './client/types.js';

type Host = ReactiveControllerHost & HTMLElement;

/**
 * Bridges the client core to Lit: takes the client from context and asks the host to
 * re-render whenever the client publishes a new snapshot. The client may be replaced at
 * any time (conversation switch), so the subscription follows whichever client is current.
 */
export class SnapshotController implements ReactiveController {
  private _client: ChatClient | undefined;
  private _snapshot: ChatSnapshot | undefined;
  private _unsubscribe: (() => void) | undefined;
  private _connected = false;
  /** Set until the first snapshot of a newly provided client has been passed on. */
  private _clientChanged = false;

  constructor(
    private readonly _host: Host,
    private readonly _onChange?: (
      snapshot: ChatSnapshot | undefined,
      previous: ChatSnapshot | undefined,
      clientChanged: boolean,
    ) => void,
  ) {
    _host.addController(this);
    new ContextConsumer(_host, {
      context: clientContext,
      subscribe: true,
      callback: (client) => this._use(client),
    });
  }

  get client(): ChatClient | undefined {
    return this._client;
  }

  get snapshot(): ChatSnapshot | undefined {
    return this._snapshot;
  }

  hostConnected(): void {
    this._connected = true;
    this._subscribe();
  }

  hostDisconnected(): void {
    this._connected = false;
    this._unsubscribe?.();
    this._unsubscribe = undefined;
  }

  private _use(client: ChatClient | undefined): void {
    if (client === this._client) return;
    this._unsubscribe?.();
    this._unsubscribe = undefined;
    this._client = client;
    this._clientChanged = true;
    if (this._connected) this._subscribe();
    this._set(client?.snapshot);
  }

  private _subscribe(): void {
    const client = this._client;
    if (!client || this._unsubscribe) return;
    this._unsubscribe = client.subscribe((snapshot) => {
      // A disposed client may still flush one last change: ignore it once replaced.
      if (client === this._client) this._set(snapshot);
    });
    // Changes published while disconnected were missed.
    this._set(client.snapshot);
  }

  private _set(snapshot: ChatSnapshot | undefined): void {
    if (snapshot === this._snapshot && !this._clientChanged) return;
    const previous = this._snapshot;
    const clientChanged = this._clientChanged;
    this._snapshot = snapshot;
    this._clientChanged = false;
    this._onChange?.(snapshot, previous, clientChanged);
    this._host.requestUpdate();
  }
}
