/**
 * The launcher as a page on another origin gets it from a real relay: until the user comes near
 * the button the page loads only the small entry (/chat-room.js); hovering fetches the widget's
 * chunk from the relay (relative to the entry's URL), a click opens the panel and the chat works;
 * the unread count of the last visit shows on the button before anything else loads. An inline
 * widget loads the entry and the widget's files at once (no language chunk in English; German adds de).
 * Also: a display:none widget (the usual launcher pattern) downloads no history (defect 2).
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TestClient, type RelayProcess } from '../../relay/test/harness.js';
import { BUNDLE, eventually, launchChromium, rendered, serveHtml, startRelayWithWidget } from './support.js';

const TEST = { timeout: 120_000 };

let browser: Browser;
let relay: RelayProcess;
const servers: { close(): Promise<void> }[] = [];

function page(body: string, lang = 'en'): string {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>Shop</title></head><body style="margin:0;height:1500px">
<h1>A shop</h1>
${body}
<script type="module" src="${relay.httpUrl}/chat-room.js"></script>
</body></html>`;
}

/** Opens a page served from its own origin and records which widget files it fetched from the relay. */
async function open(html: string): Promise<{ tab: Page; fetched: string[] }> {
  const server = await serveHtml(html);
  servers.push(server);
  const context = await browser.newContext();
  const tab = await context.newPage();
  const fetched: string[] = [];
  tab.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === relay.httpUrl && url.pathname.endsWith('.js')) fetched.push(url.pathname);
  });
  await tab.goto(server.url);
  return { tab, fetched };
}

/** The language chunks among the fetched files (de-…js → de). */
function languageChunks(fetched: string[]): string[] {
  return fetched.map((path) => /^\/chat-room\/(de|es|fr|ar|he)-[\w-]+\.js$/.exec(path)?.[1]).filter((l): l is string => l !== undefined);
}

async function seed(conversation: string, count: number): Promise<void> {
  const writer = await TestClient.login(relay.wsUrl, { user: 'agent', name: 'Agent' });
  await writer.join(conversation);
  for (let i = 1; i <= count; i++) writer.send({ type: 'send', conv: conversation, id: `${conversation}-${i}`, text: `Message ${i}` });
  await writer.until((frames) => frames.filter((f) => f.type === 'ack').length === count, 60_000);
  writer.close();
}

describe('e2e - launcher and the small entry', () => {
  before(async () => {
    relay = await startRelayWithWidget({ env: { RATE_LIMIT: '100000', RATE_BURST: '100000' } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    await relay?.dispose();
  });

  it('e2e - the entry the relay serves is under 10 KB gzip', TEST, () => {
    const bytes = gzipSync(readFileSync(BUNDLE), { level: 9 }).length;
    assert.ok(bytes <= 10 * 1024, `${bytes} bytes`);
  });

  it('e2e - a launcher loads only the entry until hovered; hover fetches the widget, a click opens a working chat', TEST, async () => {
    const conversation = `launch-${Date.now()}`;
    await seed(conversation, 3);
    const { tab, fetched } = await open(
      page(`<chat-room launcher heading="Support" relay="${relay.wsUrl}" conversation="${conversation}" user="carol" name="Carol"></chat-room>`),
    );
    const launcher = tab.locator('chat-room [part="launcher"]');
    await launcher.waitFor();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(fetched, ['/chat-room.js'], 'nothing but the entry before the user comes near');
    assert.equal(await tab.evaluate(() => customElements.get('chat-room') === undefined), true);
    await launcher.hover();
    await eventually('the widget chunk', async () => fetched.some((path) => path.startsWith('/chat-room/')));
    assert.ok(fetched.every((path) => path === '/chat-room.js' || path.startsWith('/chat-room/')), fetched.join(', '));
    await tab.locator('chat-room [part="launcher"]').click();
    await eventually('panel open', async () => tab.evaluate(() => (document.querySelector('chat-room') as HTMLElement & { open: boolean }).open));
    await eventually('history shown', async () => (await rendered(tab)).length === 3);
    const title = await tab.locator('chat-room [part="title"]').textContent();
    assert.equal(title, 'Support');
    const input = tab.locator('chat-room chat-room-composer textarea');
    await input.fill('Hello from the launcher');
    await input.press('Enter');
    await eventually('sent', async () => (await rendered(tab)).some((m) => m.text === 'Hello from the launcher' && m.seq !== null));
    await tab.keyboard.press('Escape');
    await eventually('closed', async () => tab.evaluate(() => !(document.querySelector('chat-room') as HTMLElement & { open: boolean }).open));
  });

  it('e2e - the unread count of the last visit is on the button before the widget loads', TEST, async () => {
    const conversation = `badge-${Date.now()}`;
    await seed(conversation, 2);
    const html = page(`<chat-room launcher relay="${relay.wsUrl}" conversation="${conversation}" user="dave" name="Dave"></chat-room>`);
    const server = await serveHtml(html);
    servers.push(server);
    const context = await browser.newContext();
    const first = await context.newPage();
    await first.goto(server.url);
    // The first visit: the widget loads (hover), connects and learns the unread count.
    await first.locator('chat-room [part="launcher"]').hover();
    await eventually('badge', async () => (await first.locator('chat-room [part="badge"]').textContent()) === '2');
    await first.close();
    const again = await context.newPage();
    const fetched: string[] = [];
    again.on('request', (request) => {
      if (request.url().startsWith(relay.httpUrl)) fetched.push(new URL(request.url()).pathname);
    });
    await again.goto(server.url);
    await eventually('badge from the entry', async () => (await again.locator('chat-room [part="badge"]').textContent()) === '2');
    assert.deepEqual(fetched, ['/chat-room.js']);
  });

  it('e2e - an inline widget loads the entry and the widget, nothing more; a display:none one downloads no history', TEST, async () => {
    const conversation = `hidden-${Date.now()}`;
    await seed(conversation, 325);
    const { tab, fetched } = await open(
      page(`<div id="box" style="display:none"><chat-room relay="${relay.wsUrl}" conversation="${conversation}" user="erin" name="Erin" style="height:400px"></chat-room></div>`),
    );
    await eventually('connected', async () =>
      tab.evaluate(() => (document.querySelector('chat-room') as unknown as { client?: { snapshot: { connection: string } } }).client?.snapshot.connection === 'open'),
    );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const held = await tab.evaluate(
      () => (document.querySelector('chat-room') as unknown as { client: { snapshot: { messages: unknown[] } } }).client.snapshot.messages.length,
    );
    assert.ok(held <= 50, `a hidden widget holds only the first page (${held} of 325)`);
    assert.equal(fetched[0], '/chat-room.js');
    assert.ok(fetched.slice(1).every((path) => path.startsWith('/chat-room/')), fetched.join(', '));
    assert.deepEqual(languageChunks(fetched), [], 'an English page loads no language');
    // Shown: it opens at the newest message, entirely visible.
    await tab.evaluate(() => ((document.getElementById('box') as HTMLElement).style.display = 'block'));
    await eventually('newest on screen', async () =>
      tab.evaluate(() => {
        const list = document.querySelector('chat-room')!.shadowRoot!.querySelector('chat-room-message-list')!.shadowRoot!;
        const log = list.querySelector('[part="list"]')!.getBoundingClientRect();
        const last = [...list.querySelectorAll('chat-room-message')].at(-1);
        if (!last || last.getAttribute('data-seq') !== '325') return false;
        const box = last.getBoundingClientRect();
        return box.top >= log.top - 1 && box.bottom <= log.bottom + 1;
      }),
    );
  });

  it('e2e - a German page loads the German words (one more chunk) and shows them', TEST, async () => {
    const { tab, fetched } = await open(
      page(`<chat-room relay="${relay.wsUrl}" conversation="de-${Date.now()}" user="frank" name="Frank" style="height:400px"></chat-room>`, 'de'),
    );
    await eventually('German', async () => (await tab.locator('chat-room chat-room-message-list .empty').textContent()) === 'Noch keine Nachrichten.');
    assert.deepEqual(languageChunks(fetched), ['de'], fetched.join(', '));
  });
});
