/**
 * Defect 3 of issue 12 against a real relay: a widget below the fold, with messages of very
 * different heights, opens at the newest message (entirely visible) whenever the user scrolls
 * down to it; nothing is marked read while the widget is off screen, and the newest message is
 * read once it is on screen. A reader scrolled up in the history is not moved by new messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { TestClient, type RelayProcess } from '../../relay/test/harness.js';
import { eventually, launchChromium, serveHtml, startRelayWithWidget } from './support.js';

const TEST = { timeout: 120_000 };

let browser: Browser;
let relay: RelayProcess;
const servers: { close(): Promise<void> }[] = [];

/** Short and very long messages mixed, so that the content height keeps changing while bubbles render. */
function text(i: number): string {
  if (i % 7 === 0) return `Message ${i}:\n` + Array.from({ length: 12 }, (_, line) => `line ${line + 1} of a long message`).join('\n');
  if (i % 3 === 0) return `Message ${i}: ` + 'a fairly long sentence that wraps over several lines in a narrow widget. '.repeat(4);
  return `Message ${i}`;
}

async function open(conversation: string): Promise<Page> {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>below the fold</title></head>
<body style="margin:0">
<div style="height:1400px;background:linear-gradient(#eee,#ccc)">The page's content</div>
<chat-room relay="${relay.wsUrl}" conversation="${conversation}" user="reader" name="Reader" style="height:420px;width:360px"></chat-room>
<div style="height:600px"></div>
<script type="module" src="${relay.httpUrl}/chat-room.js"></script>
</body></html>`;
  const server = await serveHtml(html);
  servers.push(server);
  const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
  const tab = await context.newPage();
  await tab.goto(server.url);
  return tab;
}

/** The newest rendered message and whether it is entirely inside the list. */
function newest(tab: Page): Promise<{ seq: string | null; visible: boolean }> {
  return tab.evaluate(() => {
    const list = document.querySelector('chat-room')?.shadowRoot?.querySelector('chat-room-message-list')?.shadowRoot;
    const log = list?.querySelector('[part="list"]');
    const last = [...(list?.querySelectorAll('chat-room-message') ?? [])].at(-1);
    if (!log || !last) return { seq: null, visible: false };
    const box = log.getBoundingClientRect();
    const at = last.getBoundingClientRect();
    return { seq: last.getAttribute('data-seq'), visible: at.top >= box.top - 1 && at.bottom <= box.bottom + 1 };
  });
}

describe('e2e - scrolling and reading against a relay', () => {
  before(async () => {
    relay = await startRelayWithWidget({ env: { RATE_LIMIT: '100000', RATE_BURST: '100000' } });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    await relay?.dispose();
  });

  it('e2e - below the fold with messages of varying heights: opens at the newest, read only once on screen', TEST, async () => {
    const conversation = `fold-${Date.now()}`;
    const writer = await TestClient.login(relay.wsUrl, { user: 'writer', name: 'Writer' });
    await writer.join(conversation);
    for (let i = 1; i <= 41; i++) writer.send({ type: 'send', conv: conversation, id: `${conversation}-${i}`, text: text(i) });
    await writer.until((frames) => frames.filter((f) => f.type === 'ack').length === 41, 30_000);

    const tab = await open(conversation);
    await eventually('the newest rendered', async () => (await newest(tab)).seq === '41');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const readBy = () =>
      Math.max(0, ...writer.frames.filter((f) => f.type === 'receipt' && f.user === 'reader').map((f) => (f as { read: number }).read));
    assert.equal(readBy(), 0, 'nothing is read while the widget is below the fold');

    await tab.evaluate(() => document.querySelector('chat-room')!.scrollIntoView());
    await eventually('the newest message entirely visible', async () => {
      const state = await newest(tab);
      return state.seq === '41' && state.visible;
    });
    await eventually('read up to the newest once on screen', async () => readBy() === 41);

    // Reading history: new messages do not move the reader; the pill counts them.
    await tab.evaluate(() => {
      const log = document.querySelector('chat-room')!.shadowRoot!.querySelector('chat-room-message-list')!.shadowRoot!.querySelector('[part="list"]')!;
      log.scrollTop = 0;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const top = () =>
      tab.evaluate(() => {
        const list = document.querySelector('chat-room')!.shadowRoot!.querySelector('chat-room-message-list')!.shadowRoot!;
        const log = list.querySelector('[part="list"]')!.getBoundingClientRect();
        const first = [...list.querySelectorAll('chat-room-message')].find((m) => m.getBoundingClientRect().bottom > log.top)!;
        return { id: first.getAttribute('data-message-id'), top: Math.round(first.getBoundingClientRect().top) };
      });
    const before = await top();
    writer.send({ type: 'send', conv: conversation, id: `${conversation}-42`, text: 'A new one' });
    writer.send({ type: 'send', conv: conversation, id: `${conversation}-43`, text: 'And another' });
    await eventually('the pill', async () =>
      (await tab.locator('chat-room chat-room-message-list [part="new-messages"]').textContent().catch(() => ''))?.includes('2 new messages'),
    );
    assert.deepEqual(await top(), before, 'what the reader looks at did not move');
    writer.close();
  });
});
