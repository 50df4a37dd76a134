/**
 * Shared by the end-to-end tests and the bench: the widget bundle (built once if missing
 * or older than its sources), Debian's Chromium through playwright-core, a real relay
 * serving that bundle, and pages that hold one <chat-room>.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startRelay, type RelayProcess } from '../../relay/test/harness.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../test/chromium-args.mjs';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLE = join(ROOT, 'dist/chat-room.js');


function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'e2e' || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/chat-room.js unless it is there and newer than every widget source. */
export function ensureBundle(): string {
  let built = 0;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    // not built yet
  }
  if (built > newestSource(join(ROOT, 'widget')) && built > newestSource(join(ROOT, 'protocol'))) return BUNDLE;
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--config', 'widget/vite.config.ts', '--logLevel', 'warn'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`widget build failed:\n${result.stdout}\n${result.stderr}`);
  return BUNDLE;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

export function startRelayWithWidget(
  options: { dataDir?: string; port?: number; env?: Record<string, string> } = {},
): Promise<RelayProcess> {
  return startRelay({ ...options, env: { ...options.env, WIDGET_BUNDLE: ensureBundle() } });
}

/** A port that was free a moment ago (the OS picked it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Who {
  user: string;
  name: string;
  conversation: string;
  /** The `relay` attribute, when not simply the relay's own URL (e.g. a failover list). */
  relay?: string;
}

export function chatPage(relayWsUrl: string, bundleUrl: string, who: Who): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${who.name}</title></head>
<body style="margin:0">
<script type="module" src="${bundleUrl}"></script>
<chat-room relay="${who.relay ?? relayWsUrl}" conversation="${who.conversation}" user="${who.user}" name="${who.name}" style="height: 420px"></chat-room>
</body></html>`;
}

/**
 * A small site on its own free port whose `/chat.html?user=&name=&conversation=` pages
 * each hold one <chat-room> loaded from the relay. Served for real rather than stubbed
 * with page.route(): Chromium's local-network-access checks treat stubbed responses as
 * public and then refuse their WebSocket to 127.0.0.1.
 */
export async function startSite(relay: () => RelayProcess): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    const who: Who = {
      user: url.searchParams.get('user') ?? '',
      name: url.searchParams.get('name') ?? '',
      conversation: url.searchParams.get('conversation') ?? '',
    };
    const relayList = url.searchParams.get('relay');
    if (relayList) who.relay = relayList;
    if (
      url.pathname !== '/chat.html' ||
      !/^[\w:-]+$/.test(who.user + who.conversation) ||
      /[<>"&]/.test(who.name + (who.relay ?? ''))
    ) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(chatPage(relay().wsUrl, `${relay().httpUrl}/chat-room.js`, who));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function openChat(context: BrowserContext, siteUrl: string, who: Who): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${siteUrl}/chat.html?${new URLSearchParams({ ...who })}`);
  await page.locator('chat-room chat-room-composer textarea').waitFor();
  return page;
}

export interface RenderedMessage {
  id: string;
  seq: number | null;
  status: string | null;
  text: string | null;
  file: string | null;
}

/** The messages as rendered, read from the data-* attributes of the chat-room-message elements. */
export function rendered(page: Page, root = 'chat-room'): Promise<RenderedMessage[]> {
  return page.locator(`${root} chat-room-message[data-message-id]`).evaluateAll((elements) =>
    elements.map((e) => {
      const el = e as HTMLElement;
      return {
        id: el.dataset['messageId'] ?? '',
        seq: el.dataset['seq'] ? Number(el.dataset['seq']) : null,
        status: el.dataset['status'] ?? null,
        text: el.shadowRoot?.querySelector('[part="text"]')?.textContent ?? null,
        file: el.shadowRoot?.querySelector('[part="file-link"], img')?.textContent?.trim() || null,
      };
    }),
  );
}

/** Types into the composer and presses Enter, as a user would. */
export async function say(page: Page, text: string, root = 'chat-room'): Promise<void> {
  const input = page.locator(`${root} chat-room-composer textarea`);
  await input.fill(text);
  await input.press('Enter');
}

/** Polls until `check` returns a value other than undefined/false, or fails with the last state. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A plain HTTP server on a free port: another origin than the relay's. */
export async function serveHtml(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://localhost:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
