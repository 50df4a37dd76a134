import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestClient, type RelayProcess } from '../../relay/test/harness.js';
import type { ServerFrame } from '../../protocol/index.js';
import {
  chatPage,
  eventually,
  freePort,
  launchChromium,
  openChat,
  rendered,
  say,
  serveHtml,
  startRelayWithWidget,
  startSite,
} from './support.js';

type Msg = Extract<ServerFrame, { type: 'msg' }>;

const TEST = { timeout: 120_000 };
/** A 1×1 PNG: enough for the browser to decode a thumbnail. */
const PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

let browser: Browser;
let relay: RelayProcess;
/** Relays replaced by a restart: disposed (with their data dir) at the end. */
const retired: RelayProcess[] = [];
let site: { url: string; close(): Promise<void> };
const contexts: BrowserContext[] = [];

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext();
  contexts.push(context);
  return context;
}

async function pair(
  conversation: string,
  relayAttribute?: string,
): Promise<{ alice: Page; bob: Page; aliceContext: BrowserContext }> {
  const extra = relayAttribute ? { relay: relayAttribute } : {};
  const aliceContext = await newContext();
  const alice = await openChat(aliceContext, site.url, { user: 'alice', name: 'Alice', conversation, ...extra });
  const bob = await openChat(await newContext(), site.url, { user: 'bob', name: 'Bob', conversation, ...extra });
  return { alice, bob, aliceContext };
}

function texts(messages: { text: string | null }[]): string[] {
  return messages.map((m) => m.text ?? '');
}

/** Everything the relay stored for a conversation, read with a protocol client. */
async function stored(conversation: string): Promise<Msg[]> {
  const client = await TestClient.login(relay.wsUrl, { user: 'auditor', name: 'Auditor' });
  try {
    const joined = await client.join(conversation, { after: 0 });
    await client.until((frames) => frames.filter((f) => f.type === 'msg').length >= joined.head, 10_000);
    return client.messages(conversation);
  } finally {
    client.close();
  }
}

function typingLine(page: Page): Promise<string> {
  return page.locator('chat-room chat-room-typing [part="typing"]').innerText();
}

function banner(page: Page): Promise<string | null> {
  return page.locator('chat-room chat-room-connection [part="banner"]').getAttribute('data-connection');
}

/** How many uploads the page's widget keeps in IndexedDB (the default storage: database `chat-room`, store `client`). */
function keptUploads(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('chat-room');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('client')) {
            db.close();
            resolve(0);
            return;
          }
          const keys = db.transaction('client').objectStore('client').getAllKeys();
          keys.onerror = () => reject(keys.error);
          keys.onsuccess = () => {
            db.close();
            resolve(keys.result.filter((key) => String(key).startsWith('chat-room:upload:')).length);
          };
        };
      }),
  );
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('widget end to end', () => {
  before(async () => {
    relay = await startRelayWithWidget();
    site = await startSite(() => relay);
    browser = await launchChromium();
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await site?.close();
    await relay?.dispose();
    for (const old of retired) await old.dispose();
  });

  it('chat - a message typed by alice appears for bob, with the same id and seq', TEST, async () => {
    const { alice, bob } = await pair('basic');
    await say(alice, 'hello bob');
    const [sent] = await eventually('alice sees her message acked', async () => {
      const list = await rendered(alice);
      return list.length === 1 && list[0]!.seq !== null ? list : undefined;
    });
    const seen = await eventually('bob sees the message', async () => {
      const list = await rendered(bob);
      return list.length === 1 ? list : undefined;
    });
    assert.equal(seen[0]!.text, 'hello bob');
    assert.equal(seen[0]!.id, sent!.id);
    assert.equal(seen[0]!.seq, sent!.seq);
    assert.equal(seen[0]!.status, null, 'status is only shown on own messages');
    await say(bob, 'hi alice');
    await eventually('alice gets the reply', async () => texts(await rendered(alice)).join('|') === 'hello bob|hi alice');
  });

  it('typing - shows on the other side and clears on send and on blur', TEST, async () => {
    const { alice, bob } = await pair('typing');
    const input = alice.locator('chat-room chat-room-composer textarea');
    await input.pressSequentially('hel');
    await eventually('bob sees alice typing', async () => (await typingLine(bob)) === 'Alice is typing…');
    await input.press('Enter');
    await eventually('typing clears when the message is sent', async () => (await typingLine(bob)) === '');
    await input.pressSequentially('more');
    await eventually('bob sees alice typing again', async () => (await typingLine(bob)) === 'Alice is typing…');
    await input.blur();
    await eventually('typing clears on blur', async () => (await typingLine(bob)) === '');
  });

  it('receipts - when bob has the message on screen, alice sees it read by Bob', TEST, async () => {
    const { alice, bob } = await pair('receipts');
    await say(alice, 'please read');
    await eventually('bob has it', async () => texts(await rendered(bob)).includes('please read'));
    await eventually('alice sees read', async () => (await rendered(alice))[0]?.status === 'read');
    const title = await alice.locator('chat-room chat-room-message [part="status"]').getAttribute('title');
    assert.equal(title, 'Read by Bob');
  });

  it('outbox - five messages written offline arrive once each, in order, after the page was closed', TEST, async () => {
    const conversation = 'outbox';
    const { alice, bob, aliceContext } = await pair(conversation);
    await say(alice, 'online first');
    await eventually('bob has the first message', async () => texts(await rendered(bob)).includes('online first'));

    await aliceContext.setOffline(true);
    await eventually('alice shows the offline banner', async () => (await banner(alice)) === 'offline');
    const offline = [1, 2, 3, 4, 5].map((i) => `offline ${i}`);
    for (const text of offline) await say(alice, text);
    const pending = await rendered(alice);
    assert.deepEqual(
      pending.filter((m) => m.text?.startsWith('offline')).map((m) => m.status),
      ['sending', 'sending', 'sending', 'sending', 'sending'],
    );
    await alice.close();
    assert.deepEqual(texts(await rendered(bob)), ['online first'], 'nothing left while offline');

    await aliceContext.setOffline(false);
    const again = await openChat(aliceContext, site.url, { user: 'alice', name: 'Alice', conversation });
    const expected = ['online first', ...offline];
    await eventually('bob gets the outbox', async () => texts(await rendered(bob)).join('|') === expected.join('|'));
    await eventually('alice sees them acked', async () => {
      const list = await rendered(again);
      return texts(list).join('|') === expected.join('|') && list.every((m) => m.seq !== null);
    });
    const bobs = await rendered(bob);
    assert.deepEqual(
      bobs.map((m) => m.seq),
      [...bobs.map((m) => m.seq)].sort((a, b) => a! - b!),
      'rendered in seq order',
    );
    const inStore = await stored(conversation);
    assert.deepEqual(
      inStore.map((m) => m.text),
      expected,
      'the relay stored each exactly once, in the order written',
    );
  });

  it('uploads - a file shows progress, arrives on the other side and downloads byte-identical', TEST, async () => {
    const { alice, bob, aliceContext } = await pair('uploads');
    const data = randomBytes(3 * 1024 * 1024);
    // Slow alice's uplink so the progress bar is observable.
    const cdp = await aliceContext.newCDPSession(alice);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 1024 * 1024,
    });
    await alice
      .locator('chat-room chat-room-composer input[type=file]')
      .setInputFiles({ name: 'data.bin', mimeType: 'application/octet-stream', buffer: data });
    const [loaded, total] = await eventually('alice sees progress', async () => {
      const values = await alice
        .locator('chat-room chat-room-uploads progress')
        .evaluate((p) => [(p as HTMLProgressElement).value, (p as HTMLProgressElement).max] as const);
      return values[0] > 0 && values[0] < values[1] ? values : undefined;
    });
    assert.ok(loaded > 0 && loaded < total);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    const link = bob.locator('chat-room chat-room-message [part="file-link"]');
    await eventually('bob gets the file message', async () => (await link.count()) === 1);
    assert.match(await link.innerText(), /data\.bin/);
    const href = await link.getAttribute('href');
    assert.ok(href);
    const downloaded = Buffer.from(await (await fetch(new URL(href, relay.httpUrl))).arrayBuffer());
    assert.equal(downloaded.length, data.length);
    assert.equal(sha256(downloaded), sha256(data));
    await eventually('the upload bar is gone', async () => (await alice.locator('chat-room chat-room-uploads progress').count()) === 0);

    await bob
      .locator('chat-room chat-room-composer input[type=file]')
      .setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: PIXEL_PNG });
    const thumbnail = alice.locator('chat-room chat-room-message img[part="thumbnail"]');
    await eventually('alice sees the thumbnail', async () =>
      (await thumbnail.count()) === 1 && (await thumbnail.evaluate((img) => (img as HTMLImageElement).naturalWidth)) === 1,
    );
  });

  it('uploads - a file picked offline waits, is kept when the page closes, and arrives once, intact, when back online', TEST, async () => {
    const conversation = 'upload-offline';
    const { alice, bob, aliceContext } = await pair(conversation);
    await aliceContext.setOffline(true);
    await eventually('alice shows the offline banner', async () => (await banner(alice)) === 'offline');
    const data = randomBytes(300 * 1024);
    await alice
      .locator('chat-room chat-room-composer input[type=file]')
      .setInputFiles({ name: 'offline.bin', mimeType: 'application/octet-stream', buffer: data });
    const waiting = alice.locator('chat-room chat-room-uploads [part="upload"][data-state="waiting"]');
    await eventually('alice sees it waiting', async () => (await waiting.count()) === 1);
    assert.match(await waiting.innerText(), /offline\.bin[\s\S]*Waiting for the connection/);
    await eventually('the file is kept in IndexedDB', async () => (await keptUploads(alice)) === 1);
    await alice.close();

    await aliceContext.setOffline(false);
    const again = await openChat(aliceContext, site.url, { user: 'alice', name: 'Alice', conversation });
    const link = bob.locator('chat-room chat-room-message [part="file-link"]');
    await eventually('bob gets the file message', async () => (await link.count()) === 1);
    const href = await link.getAttribute('href');
    assert.ok(href);
    const downloaded = Buffer.from(await (await fetch(new URL(href, relay.httpUrl))).arrayBuffer());
    assert.equal(sha256(downloaded), sha256(data));
    await eventually('nothing is kept any more', async () => (await keptUploads(again)) === 0);
    await eventually('no upload is left on the page alice reopened', async () => (await again.locator('chat-room chat-room-uploads [part="upload"]').count()) === 0);
    const files = (await stored(conversation)).filter((m) => m.file);
    assert.equal(files.length, 1, 'stored once');
    assert.equal(files[0]!.file!.name, 'offline.bin');
  });

  it('relay restart - messages before, during and after a restart arrive once each, in order', { timeout: 240_000 }, async () => {
    const conversation = 'restart';
    // A restarted relay cannot count on its old port (TIME_WAIT), so the pages list a
    // second URL, which the client tries on connection loss: where the relay comes back.
    const spare = await freePort();
    const { alice, bob } = await pair(conversation, `${relay.wsUrl},ws://127.0.0.1:${spare}/ws`);
    await say(alice, 'before restart');
    await eventually('bob has it', async () => texts(await rendered(bob)).includes('before restart'));

    await relay.kill();
    await eventually('alice notices', async () => (await banner(alice)) === 'reconnecting');
    await say(alice, 'while down 1');
    await say(bob, 'while down 2');
    await say(alice, 'while down 3');
    retired.push(relay);
    relay = await startRelayWithWidget({ dataDir: relay.dataDir, port: spare });

    // Backoff is full-jitter up to 20 s, so the reconnect may take a while.
    await eventually(
      'both reconnect',
      async () => (await banner(alice)) !== 'reconnecting' && (await banner(bob)) !== 'reconnecting',
      60_000,
    );
    await say(bob, 'after restart');
    const all = ['before restart', 'while down 1', 'while down 2', 'while down 3', 'after restart'];
    for (const page of [alice, bob]) {
      await eventually('everything arrives', async () => {
        const list = texts(await rendered(page));
        return list.length === all.length && all.every((t) => list.filter((x) => x === t).length === 1);
      });
    }
    const inStore = (await stored(conversation)).map((m) => m.text);
    assert.equal(inStore.length, all.length, `stored: ${inStore.join('|')}`);
    assert.deepEqual([...inStore].sort(), [...all].sort());
    assert.deepEqual(texts(await rendered(alice)), inStore, 'alice renders in store order');
    assert.deepEqual(texts(await rendered(bob)), inStore, 'bob renders in store order');
  });

  it('embed - a page on another origin with only the script tag and the element chats and uploads', TEST, async () => {
    const conversation = 'embedded';
    // Only the two embed lines, on a page of its own (another origin than the relay's).
    const plain = await serveHtml(
      chatPage(relay.wsUrl, `${relay.httpUrl}/chat-room.js`, { user: 'dora', name: 'Dora', conversation }),
    );
    try {
      const page = await (await newContext()).newPage();
      const failures: string[] = [];
      page.on('pageerror', (error) => failures.push(error.message));
      await page.goto(plain.url);
      assert.notEqual(new URL(page.url()).origin, new URL(relay.httpUrl).origin);
      await page.locator('chat-room chat-room-composer textarea').waitFor();
      await say(page, 'from elsewhere');
      await page
        .locator('chat-room chat-room-composer input[type=file]')
        .setInputFiles({ name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('cross-origin upload') });
      await eventually('both acked', async () => {
        const list = await rendered(page);
        return list.length === 2 && list.every((m) => m.seq !== null) ? list : undefined;
      });
      const inStore = await stored(conversation);
      assert.deepEqual(
        inStore.map((m) => [m.from.id, m.text ?? m.file?.name]),
        [
          ['dora', 'from elsewhere'],
          ['dora', 'note.txt'],
        ],
      );
      assert.deepEqual(failures, []);
    } finally {
      await plain.close();
    }
  });

  it('demo - the page the relay serves shows alice and bob talking to each other', TEST, async () => {
    const page = await (await newContext()).newPage();
    await page.goto(`${relay.httpUrl}/`);
    await page.locator('#alice chat-room-composer textarea').waitFor();
    await say(page, 'demo hello', '#alice');
    await eventually('bob widget shows it', async () => texts(await rendered(page, '#bob')).includes('demo hello'));
    assert.match(await page.locator('#snippet').innerText(), /<chat-room relay="ws:\/\/127\.0\.0\.1:\d+\/ws"/);
  });
});
