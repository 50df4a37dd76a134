/**
 * Regenerates docs/demo.png: the demo page the relay serves, with alice and bob having
 * exchanged a few messages and a picture, ticks turned to read, and alice typing.
 * Run: npx tsx widget/e2e/demo-screenshot.ts
 */
import { join } from 'node:path';
import { eventually, launchChromium, rendered, ROOT, say, startRelayWithWidget } from './support.js';

const relay = await startRelayWithWidget();
const browser = await launchChromium();
try {
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
  await page.screenshot({ path: join(ROOT, 'docs/demo.png'), fullPage: true });
  console.log('wrote docs/demo.png');
} finally {
  await browser.close();
  await relay.dispose();
}
