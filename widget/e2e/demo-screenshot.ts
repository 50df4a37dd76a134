/**
 * Regenerates the pictures in docs/ from the demo page the relay serves, with alice and bob
 * having exchanged a few messages and a picture, ticks turned to read, and alice typing:
 *   demo.png            the whole page (inline widgets, the launcher closed with its badge)
 *   inline-light.png    one inline widget, light theme
 *   inline-dark.png     both inline widgets, theme="dark"
 *   launcher-closed.png the corner of the page: the launcher button with the unread badge
 *   launcher-open.png   the launcher's panel open (header, who is online, the conversation)
 *   inline-rtl.png      lang="ar": right to left, Arabic words, a mixed Arabic/English message
 *   mobile.png          a 390×844 phone: the launcher's panel full screen
 * Run: npx tsx widget/e2e/demo-screenshot.ts
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { TestClient } from '../../relay/test/harness.js';
import { eventually, launchChromium, rendered, ROOT, say, startRelayWithWidget } from './support.js';

const docs = (name: string) => join(ROOT, 'docs', name);

async function setAll(page: Page, attribute: string, value: string | null): Promise<void> {
  await page.evaluate(
    ([name, to]) => {
      for (const room of document.querySelectorAll('chat-room')) {
        if (to === null) room.removeAttribute(name!);
        else room.setAttribute(name!, to);
      }
    },
    [attribute, value] as const,
  );
}

const relay = await startRelayWithWidget();
const browser = await launchChromium();
try {
  // The support agent has already answered the visitor of the launcher.
  const agent = await TestClient.login(relay.wsUrl, { user: 'agent', name: 'Sam from Support' });
  await agent.join('support');
  agent.send({ type: 'send', conv: 'support', id: 'welcome-1', text: 'Hi! Welcome to the shop 👋' });
  agent.send({ type: 'send', conv: 'support', id: 'welcome-2', text: 'Questions about your order? Ask me here, I usually answer within minutes.' });
  await agent.until((frames) => frames.filter((f) => f.type === 'ack').length === 2);

  const page = await browser.newPage({ viewport: { width: 1100, height: 860 }, colorScheme: 'light' });
  await page.goto(`${relay.httpUrl}/`);
  await page.locator('#alice chat-room-composer textarea').waitFor();

  await say(page, 'Hi Bob! Is the new chat widget working for you?', '#alice');
  await eventually('bob gets it', async () => (await rendered(page, '#bob')).length === 1);
  await say(page, 'Yes, messages arrive instantly, and I can see your ticks turn blue when I read them.', '#bob');
  await eventually('alice gets it', async () => (await rendered(page, '#alice')).length === 2);

  // A small picture drawn in the page, sent through the file picker.
  const png = await page.evaluate(() => {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 180;
    const ctx = canvas.getContext('2d')!;
    const gradient = ctx.createLinearGradient(0, 0, 320, 180);
    gradient.addColorStop(0, '#0b63ce');
    gradient.addColorStop(1, '#70b3ff');
    ctx.fillStyle = gradient;
    ctx.fillRect(0, 0, 320, 180);
    ctx.fillStyle = '#fff';
    ctx.font = 'bold 28px sans-serif';
    ctx.fillText('chat-room', 90, 100);
    return canvas.toDataURL('image/png').split(',')[1]!;
  });
  await page
    .locator('#alice chat-room-composer input[type=file]')
    .setInputFiles({ name: 'banner.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
  await eventually('bob sees the picture', async () => (await page.locator('#bob chat-room-message img').count()) === 1);
  await say(page, 'Nice picture! Files go through the relay too.', '#bob');
  await say(page, 'And if I go offline, my messages wait and go out once I am back.', '#alice');
  await eventually('everything read', async () => {
    const mine = (await rendered(page, '#alice')).filter((m) => m.status !== null);
    return mine.length === 3 && mine.every((m) => m.status === 'read');
  });
  await page.locator('#alice chat-room-composer textarea').pressSequentially('Great, let us ship it');
  await eventually('bob sees alice typing', async () =>
    (await page.locator('#bob chat-room-typing [part="typing"]').innerText()) === 'Alice is typing…',
  );

  // The visitor's launcher: the badge counts what the agent wrote.
  const launcher = page.locator('#visitor [part="launcher"]');
  await eventually('the visitor has unread messages', async () => (await page.locator('#visitor [part="badge"]').textContent()) === '2');
  await page.mouse.move(10, 10);
  await page.screenshot({ path: docs('demo.png'), fullPage: true });
  const corner = { x: 1100 - 260, y: 860 - 200, width: 260, height: 200 };
  await page.screenshot({ path: docs('launcher-closed.png'), clip: corner });
  await page.locator('#alice').screenshot({ path: docs('inline-light.png') });

  await setAll(page, 'theme', 'dark');
  await page.evaluate(() => document.documentElement.style.setProperty('color-scheme', 'dark'));
  await page.locator('.pair').screenshot({ path: docs('inline-dark.png') });
  await setAll(page, 'theme', 'light');
  await page.evaluate(() => document.documentElement.style.removeProperty('color-scheme'));

  await launcher.click();
  await page.locator('#visitor [part="panel"]').waitFor({ state: 'visible' });
  await eventually('the visitor sees the answers', async () => (await rendered(page, '#visitor')).length === 2);
  await page.locator('#visitor chat-room-composer textarea').fill('Where is my order #1042?');
  await page.locator('#visitor chat-room-composer textarea').press('Enter');
  await eventually('sent', async () => (await rendered(page, '#visitor')).length === 3);
  agent.send({ type: 'send', conv: 'support', id: 'answer-1', text: 'It left our warehouse this morning: https://example.com/track/1042' });
  await eventually('the answer', async () => (await rendered(page, '#visitor')).length === 4);
  await page.mouse.move(10, 10);
  const panel = (await page.locator('#visitor [part="panel"]').boundingBox())!;
  await page.screenshot({
    path: docs('launcher-open.png'),
    clip: { x: panel.x - 20, y: panel.y - 20, width: 1100 - panel.x + 20, height: 860 - panel.y + 20 },
  });
  await page.keyboard.press('Escape');

  await setAll(page, 'lang', 'ar');
  await eventually('arabic', async () => (await page.locator('#bob chat-room-message-list [part="list"]').getAttribute('aria-label')) === 'الرسائل');
  await say(page, 'مرحبا أليس! The release is on Friday — الجمعة 👍', '#bob');
  await eventually('alice gets it', async () => (await rendered(page, '#alice')).length === 5);
  await page.locator('#bob').screenshot({ path: docs('inline-rtl.png') });
  await setAll(page, 'lang', null);

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const mobile = await phone.newPage();
  await mobile.goto(`${relay.httpUrl}/`);
  await mobile.locator('#visitor [part="launcher"]').tap();
  await mobile.locator('#visitor [part="panel"]').waitFor({ state: 'visible' });
  await eventually('phone shows the conversation', async () => (await rendered(mobile, '#visitor')).length === 4);
  await mobile.screenshot({ path: docs('mobile.png') });
  await phone.close();
  agent.close();
  console.log('wrote docs/demo.png, inline-light.png, inline-dark.png, launcher-closed.png, launcher-open.png, inline-rtl.png, mobile.png');
} finally {
  await browser.close();
  await relay.dispose();
}
