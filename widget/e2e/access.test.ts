/**
 * Defect 1 of issue 12 against a real relay with a JWT secret and ALLOWED_ORIGINS: each way
 * of being refused gets its own words, a disabled composer, a chat-room-error with the reason,
 * and no retry loop (the page opens at most a couple of WebSockets, not one every backoff).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RelayProcess } from '../../relay/test/harness.js';
import { JwtVerifier } from '../../relay/auth/jwt.js';
import { eventually, launchChromium, serveHtml, startRelayWithWidget } from './support.js';

const SECRET = 'an-end-to-end-test-secret-of-at-least-32-bytes';
const TEST = { timeout: 120_000 };

let browser: Browser;
let relay: RelayProcess;
/** The site on the allowed origin: serves whatever `sitePage` holds. */
let allowed: { url: string; close(): Promise<void> } | undefined;
let sitePage = '';
const servers: { close(): Promise<void> }[] = [];
const jwt = new JwtVerifier(SECRET);

interface Seen {
  refusal: string | null;
  text: string | null;
  composerDisabled: boolean | null;
  errors: { code: string; refusal?: string; message: string }[];
  sockets: number;
  hint: string | null;
}

/** A page with one <chat-room>; records chat-room-error events and counts WebSockets opened. */
function page(attributes: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>access</title></head><body>
<script>
  window.__errors = [];
  window.__sockets = 0;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native { constructor(...args) { super(...args); window.__sockets++; } };
  document.addEventListener('chat-room-error', (e) => window.__errors.push(e.detail));
</script>
<script type="module" src="${relay.httpUrl}/chat-room.js"></script>
<chat-room ${attributes} style="height: 400px"></chat-room>
</body></html>`;
}

async function open(html: string, origin?: { url: string }): Promise<Page> {
  // Pages served from an allowed origin unless the test serves its own.
  let url: string;
  if (origin) url = origin.url;
  else {
    const server = await serveHtml(html);
    servers.push(server);
    url = server.url;
  }
  const context = await browser.newContext();
  const tab = await context.newPage();
  await tab.goto(url);
  return tab;
}

function seen(tab: Page): Promise<Seen> {
  return tab.evaluate(() => {
    const room = document.querySelector('chat-room') as (HTMLElement & { refusal: string | null }) | null;
    const root = room?.shadowRoot;
    const composer = root?.querySelector('chat-room-composer') as (HTMLElement & { disabled: boolean }) | null;
    const w = window as unknown as { __errors: Seen['errors']; __sockets: number };
    return {
      refusal: room?.refusal ?? null,
      text: root?.querySelector('[part="refusal"]')?.textContent?.trim() ?? null,
      composerDisabled: composer ? composer.disabled : null,
      errors: w.__errors,
      sockets: w.__sockets,
      hint: root?.querySelector('.hint')?.textContent ?? null,
    };
  });
}

/** Waits for the refusal, then a few seconds more to see that nothing keeps retrying. */
async function refusedFor(tab: Page, reason: string): Promise<Seen> {
  await eventually(`refusal ${reason}`, async () => (await seen(tab)).refusal === reason);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  return seen(tab);
}

describe('e2e - refusals against a relay with a secret and allowed origins', () => {
  before(async () => {
    browser = await launchChromium();
    // The relay needs the site's origin, so the site listens first.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(sitePage);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    allowed = {
      url: `http://127.0.0.1:${port}/`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    relay = await startRelayWithWidget({
      env: { CHAT_JWT_SECRET: SECRET, ALLOWED_ORIGINS: `http://127.0.0.1:${port},http://localhost:${port}` },
    });
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    await allowed?.close();
    await relay?.dispose();
  });

  /** Opens a page on the allowed origin. */
  async function openAllowed(attributes: string): Promise<Page> {
    sitePage = page(attributes);
    return open('', allowed);
  }

  it('e2e - an expired token: "session expired", composer disabled, chat-room-error unauthorized/expired, no reconnect loop', TEST, async () => {
    const token = await jwt.sign({ sub: 'alice', convs: ['support-42'] }, Math.floor(Date.now() / 1000) - 60);
    const tab = await openAllowed(`relay="${relay.wsUrl}" conversation="support-42" token="${token}"`);
    const state = await refusedFor(tab, 'expired');
    assert.match(state.text ?? '', /Your session expired — reload to continue/);
    assert.equal(state.composerDisabled, true);
    assert.deepEqual(
      state.errors.filter((e) => e.refusal).map((e) => [e.code, e.refusal]),
      [['unauthorized', 'expired']],
    );
    assert.ok(state.sockets <= 2, `a refused token is not retried in a loop (${state.sockets} sockets)`);
  });

  it('e2e - a token signed with another secret: "could not be signed in", composer disabled', TEST, async () => {
    const other = new JwtVerifier('another-secret-that-is-also-32-bytes-long!!');
    const token = await other.sign({ sub: 'alice', convs: ['support-42'] });
    const tab = await openAllowed(`relay="${relay.wsUrl}" conversation="support-42" token="${token}"`);
    const state = await refusedFor(tab, 'unauthorized');
    assert.match(state.text ?? '', /could not be signed in/);
    assert.equal(state.composerDisabled, true);
    assert.ok(state.sockets <= 2, `${state.sockets} sockets`);
  });

  it('e2e - a token for sales-1 joining support-42: "no access to this conversation", composer disabled', TEST, async () => {
    const token = await jwt.sign({ sub: 'alice', convs: ['sales-1'] });
    const tab = await openAllowed(`relay="${relay.wsUrl}" conversation="support-42" token="${token}"`);
    const state = await refusedFor(tab, 'conversation');
    assert.match(state.text ?? '', /You don’t have access to this conversation/);
    assert.equal(state.composerDisabled, true);
    assert.deepEqual(
      state.errors.filter((e) => e.refusal).map((e) => [e.code, e.refusal]),
      [['forbidden', 'conversation']],
    );
    assert.equal(state.sockets, 1);
  });

  it('e2e - an invalid conversation id: says which, no socket at all', TEST, async () => {
    const token = await jwt.sign({ sub: 'alice', convs: ['*'] });
    const tab = await openAllowed(`relay="${relay.wsUrl}" conversation="support 42" token="${token}"`);
    const state = await refusedFor(tab, 'conversation');
    assert.match(state.text ?? '', /“support 42” is not a valid conversation id/);
    assert.equal(state.errors[0]?.code, 'bad_config');
    assert.equal(state.sockets, 0);
  });

  it('e2e - JWT mode with an empty token: "no sign-in token", not "set the relay and conversation"', TEST, async () => {
    const tab = await openAllowed(`relay="${relay.wsUrl}" conversation="support-42" token=""`);
    const state = await refusedFor(tab, 'token');
    assert.match(state.text ?? '', /no sign-in token was given/);
    assert.equal(state.hint, null);
    assert.equal(state.sockets, 0);
  });

  it('e2e - a page on an origin the relay does not allow: "this website is not allowed", no reconnect loop', TEST, async () => {
    const token = await jwt.sign({ sub: 'alice', convs: ['support-42'] });
    // serveHtml listens on localhost with its own port: not in ALLOWED_ORIGINS.
    const tab = await open(page(`relay="${relay.wsUrl}" conversation="support-42" token="${token}"`));
    const state = await refusedFor(tab, 'origin');
    assert.match(state.text ?? '', /This website is not allowed to use this chat/);
    assert.equal(state.composerDisabled, true);
    assert.ok(state.sockets <= 2, `${state.sockets} sockets`);
  });
});
