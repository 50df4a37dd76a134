/**
 * Helpers for the client's integration tests: real clients (over the `ws` package) against
 * a real relay from relay/test/harness.ts, with short delays so tests do not wait on
 * production-sized backoffs.
 */
import assert from 'node:assert/strict';
import WS from 'ws';
import type { ClientInternals } from '../conversation.js';
import { createClient as createChatClient } from '../session.js';
import type { ChatClient, ChatSnapshot, KeyValueStorage } from '../types.js';
import type { SocketLike } from '../connection.js';
import type { XhrLike } from '../uploads.js';
import { MemoryStorage } from './memory-storage.js';

export const FAST: ClientInternals = {
  backoff: { minMs: 50, maxMs: 400 },
  deliveredDelayMs: 20,
  readDelayMs: 20,
  cacheDebounceMs: 20,
  requestTimeoutMs: 2000,
};

export interface ClientSetup {
  relay: string;
  user: string;
  conversation: string;
  name?: string;
  token?: string;
  storage?: KeyValueStorage;
  WebSocket?: unknown;
  internals?: ClientInternals;
}

export function makeClient(setup: ClientSetup): { client: ChatClient; storage: KeyValueStorage } {
  const storage = setup.storage ?? new MemoryStorage();
  const client = createChatClient(
    {
      relay: setup.relay,
      conversation: setup.conversation,
      ...(setup.token ? { token: setup.token } : { user: setup.user, name: setup.name ?? capitalize(setup.user) }),
      storage,
      WebSocket: (setup.WebSocket ?? WS) as unknown as typeof WebSocket,
    },
    { ...FAST, ...setup.internals },
  );
  watchInvariants(client);
  return { client, storage };
}

/** Broken invariants seen in any snapshot (listeners' exceptions are swallowed by the client, so they are collected here). */
export const violations: string[] = [];

/** Every snapshot any test sees: no duplicate ids, confirmed messages ascending. */
function watchInvariants(client: ChatClient): void {
  client.subscribe((snapshot) => {
    try {
      checkInvariants(snapshot);
    } catch (error) {
      violations.push((error as Error).message);
    }
  });
}

export function checkInvariants(snapshot: ChatSnapshot): void {
  const ids = snapshot.messages.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${ids.join(',')}`);
  const leading: number[] = [];
  for (const m of snapshot.messages) {
    if (m.seq === undefined) break;
    leading.push(m.seq);
  }
  // Acked own messages whose `msg` is still on its way may follow the gap-free run, above it.
  for (let i = 1; i < leading.length; i++) {
    assert.ok(leading[i]! > leading[i - 1]!, `seqs not ascending: ${leading.join(',')}`);
  }
}

/** Resolves with the first snapshot (current or future) that satisfies `predicate`. */
export function waitFor(client: ChatClient, predicate: (s: ChatSnapshot) => boolean, what: string, timeoutMs = 30_000): Promise<ChatSnapshot> {
  if (predicate(client.snapshot)) return Promise.resolve(client.snapshot);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for: ${what}\nlast snapshot: ${describe(client.snapshot)}`));
    }, timeoutMs);
    const unsubscribe = client.subscribe((snapshot) => {
      if (!predicate(snapshot)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(snapshot);
    });
  });
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Joined = the relay's member list (which includes the user) has arrived. */
export const joined = (user: string) => (s: ChatSnapshot) => s.connection === 'open' && s.members.some((m) => m.id === user);

export const confirmedTexts = (s: ChatSnapshot) => s.messages.filter((m) => m.seq !== undefined).map((m) => m.text);

export function describe(s: ChatSnapshot): string {
  return JSON.stringify({
    connection: s.connection,
    members: s.members,
    messages: s.messages.map((m) => `${m.seq ?? '-'}:${m.from.id}:${m.text ?? m.file?.name}:${m.status ?? ''}`),
    typing: s.typing,
    uploads: s.uploads,
  });
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A `ws` WebSocket that silently loses the incoming frames `drop` picks, as a lossy bus would. */
export function lossyWebSocket(drop: (frame: { type?: string; seq?: number }) => boolean): new (url: string) => SocketLike {
  return class LossySocket implements SocketLike {
    onopen: SocketLike['onopen'] = null;
    onmessage: SocketLike['onmessage'] = null;
    onclose: SocketLike['onclose'] = null;
    onerror: SocketLike['onerror'] = null;
    private readonly _ws: WS;

    constructor(url: string) {
      this._ws = new WS(url);
      this._ws.onopen = (event) => this.onopen?.(event);
      this._ws.onmessage = (event) => {
        if (typeof event.data === 'string' && drop(JSON.parse(event.data) as { type?: string; seq?: number })) return;
        this.onmessage?.({ data: event.data });
      };
      this._ws.onclose = (event) => this.onclose?.({ code: event.code, reason: event.reason });
      this._ws.onerror = (event) => this.onerror?.(event);
    }

    get readyState(): number {
      return this._ws.readyState;
    }

    send(data: string): void {
      this._ws.send(data);
    }

    close(code?: number, reason?: string): void {
      this._ws.close(code, reason);
    }
  };
}

/** A `ws` WebSocket that records every frame the client sends (parsed): what the client itself decided to send. */
export function recordingWebSocket(sent: Array<Record<string, unknown>>): new (url: string) => SocketLike {
  const Base = lossyWebSocket(() => false);
  return class RecordingSocket extends Base {
    override send(data: string): void {
      sent.push(JSON.parse(data) as Record<string, unknown>);
      super.send(data);
    }
  };
}

/** XMLHttpRequest for Node, over fetch: enough of it for the upload path (progress reported once, at the end). */
export class FetchXhr implements XhrLike {
  status = 0;
  responseText = '';
  readonly upload: XhrLike['upload'] = { onprogress: null };
  onload: XhrLike['onload'] = null;
  onerror: XhrLike['onerror'] = null;
  onabort: XhrLike['onabort'] = null;
  ontimeout: XhrLike['ontimeout'] = null;
  private _method = 'GET';
  private _url = '';
  private readonly _headers: Record<string, string> = {};
  private readonly _abort = new AbortController();

  open(method: string, url: string): void {
    this._method = method;
    this._url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this._headers[name] = value;
  }

  send(body: Blob): void {
    fetch(this._url, { method: this._method, headers: this._headers, body, signal: this._abort.signal }).then(
      async (response) => {
        this.upload.onprogress?.({ loaded: body.size, total: body.size });
        this.status = response.status;
        this.responseText = await response.text();
        this.onload?.({});
      },
      () => (this._abort.signal.aborted ? this.onabort?.({}) : this.onerror?.({})),
    );
  }

  abort(): void {
    this._abort.abort();
  }
}

/** A port nothing listens on (taken from the OS, then released), for a dead relay URL. */
export async function deadPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
