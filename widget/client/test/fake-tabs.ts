/**
 * Tabs of one browser in one process: a BroadcastChannel that delivers to every other open
 * channel of the same name on a later turn (as the browser does), and an exclusive Web Lock
 * granted in request order and released when its holder aborts or its tab is closed.
 */
import type { ChannelLike, TabPlatform } from '../platform.js';

interface Waiter {
  tab: FakeTab;
  granted: () => void;
  signal: AbortSignal;
}

class FakeChannel implements ChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null = null;
  closed = false;

  constructor(
    readonly browser: FakeBrowser,
    readonly name: string,
    readonly tab: FakeTab,
  ) {}

  postMessage(message: unknown): void {
    if (this.closed || this.tab.closed) return;
    const data = structuredClone(message);
    for (const other of this.browser.channels) {
      if (other === this || other.name !== this.name) continue;
      setImmediate(() => {
        if (!other.closed && !other.tab.closed) other.onmessage?.({ data });
      });
    }
  }

  close(): void {
    this.closed = true;
  }
}

export class FakeTab implements TabPlatform {
  closed = false;
  private _hide: (() => void) | null = null;

  constructor(readonly browser: FakeBrowser) {}

  channel(name: string): ChannelLike {
    const channel = new FakeChannel(this.browser, name, this);
    this.browser.channels.push(channel);
    return channel;
  }

  lock(name: string, signal: AbortSignal, granted: () => void): void {
    this.browser.request(name, { tab: this, granted, signal });
  }

  watchPage(hide: () => void): () => void {
    this._hide = hide;
    return () => (this._hide = null);
  }

  /** The tab closes: `pagehide` (unless it crashed), then it hears and says nothing more and its locks are released. */
  close({ crash = false } = {}): void {
    if (!crash) this._hide?.();
    this.closed = true;
    this.browser.released(this);
  }
}

export class FakeBrowser {
  readonly channels: FakeChannel[] = [];
  private readonly _holders = new Map<string, Waiter>();
  private readonly _waiting = new Map<string, Waiter[]>();

  tab(): FakeTab {
    return new FakeTab(this);
  }

  request(name: string, waiter: Waiter): void {
    waiter.signal.addEventListener('abort', () => this._release(name, waiter), { once: true });
    const queue = this._waiting.get(name) ?? [];
    queue.push(waiter);
    this._waiting.set(name, queue);
    this._grant(name);
  }

  released(tab: FakeTab): void {
    for (const [name, holder] of [...this._holders]) if (holder.tab === tab) this._release(name, holder);
    for (const [name, queue] of this._waiting) this._waiting.set(name, queue.filter((w) => w.tab !== tab));
  }

  private _release(name: string, waiter: Waiter): void {
    if (this._holders.get(name) === waiter) {
      this._holders.delete(name);
      this._grant(name);
    } else this._waiting.set(name, (this._waiting.get(name) ?? []).filter((w) => w !== waiter));
  }

  private _grant(name: string): void {
    if (this._holders.has(name)) return;
    const queue = this._waiting.get(name) ?? [];
    const next = queue.shift();
    if (!next) return;
    this._holders.set(name, next);
    // Granted on a later turn, as navigator.locks does.
    setImmediate(() => {
      if (this._holders.get(name) === next && !next.tab.closed) next.granted();
    });
  }
}
