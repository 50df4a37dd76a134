/**
 * Render figures for the widget bundle in Debian's Chromium, printed, not asserted:
 *   1. 1,000 messages handed to <chat-room> at once (one snapshot, as the history cache
 *      does on load): navigation start → the newest message rendered, on screen.
 *   2. The real client core on a reload with a warm history cache (full: the newest
 *      1,000 messages, CacheDefaults.cap): navigation start → the newest message rendered,
 *      on screen (the list renders a window around it, not all 1,000).
 *   3. The bundle's size, raw and gzip -9 (what the relay serves).
 * The page tells the bench when it is done through a console message: page.waitForFunction
 * would first inject playwright's own script into the page, ~40 ms of main-thread work on this
 * machine in the middle of the load being measured.
 * Run: npx tsx widget/e2e/render.bench.ts [runs] [--bundle path/to/chat-room.js]…
 * (--bundle measures another build, e.g. an older commit's, under the same conditions;
 * its chunks, if any, are served from the chat-room/ folder beside it. Repeated, the builds
 * are measured together, their loads alternating; `--bundle current` is dist/chat-room.js).
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { availableParallelism, loadavg } from 'node:os';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { CacheDefaults } from '../client/cache.js';
import { startRelay, TestClient, type RelayProcess } from '../../relay/test/harness.js';
import { BUNDLE, ensureBundle, launchChromium, openChat, serveHtml, startSite } from './support.js';

const args = process.argv.slice(2);
/** `--bundle path` (repeatable; `current` is dist/chat-room.js): the builds measured, their loads interleaved. */
const BUNDLES: string[] = [];
for (let at = args.indexOf('--bundle'); at >= 0; at = args.indexOf('--bundle')) BUNDLES.push(args.splice(at, 2)[1] ?? 'current');
const RUNS = Number(args[0] ?? 7);
const MESSAGES = 1000;
/** The console message that says the newest message is on screen, followed by the time. */
const RENDERED = 'chat-room-bench:rendered';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Installed before any page script: checks every frame whether the message `newestId` has
 * rendered its bubble inside the visible part of the log, and notes performance.now() (ms
 * since navigation start) when it first has. A string, because tsx would add helpers to a
 * function's source.
 */
function watchRendered(newestId: string): string {
  return `(() => {
    const shown = () => {
      const list = document.querySelector('chat-room')?.shadowRoot?.querySelector('chat-room-message-list')?.shadowRoot;
      const log = list?.querySelector('[part="list"]');
      const newest = list?.querySelector('chat-room-message[data-message-id="${newestId}"]');
      const bubble = newest?.shadowRoot?.querySelector('[part="bubble"]');
      if (!log || !bubble) return false;
      const box = log.getBoundingClientRect();
      const at = bubble.getBoundingClientRect();
      return at.height > 0 && at.bottom <= box.bottom + 1 && at.top >= box.top - 1;
    };
    const tick = () => {
      if (shown()) console.debug('${RENDERED} ' + performance.now());
      else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })();`;
}

/** Loads `url` in `page` and resolves with the time the page reported (ms since navigation start). */
async function renderedAt(page: Page, url: string): Promise<number> {
  let resolve!: (at: number) => void;
  const reported = new Promise<number>((r) => (resolve = r));
  const listener = (message: ConsoleMessage) => {
    const text = message.text();
    if (text.startsWith(`${RENDERED} `)) resolve(Number(text.slice(RENDERED.length + 1)));
  };
  page.on('console', listener);
  try {
    await page.goto(url);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not rendered within 60 s: ${url}`)), 60_000)));
    try {
      return await Promise.race([reported, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    page.off('console', listener);
  }
}

function snapshotPage(bundleUrl: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>render bench</title></head><body>
<script type="module">
import '${bundleUrl}';
const alice = { id: 'alice', name: 'Alice' };
const bob = { id: 'bob', name: 'Bob' };
const now = Date.now();
const messages = Array.from({ length: ${MESSAGES} }, (_, i) => {
  const own = i % 3 === 0;
  return {
    id: 'm' + (i + 1), conv: 'bench', seq: i + 1, from: own ? alice : bob, own,
    text: 'Message ' + (i + 1) + ': the quick brown fox jumps over the lazy dog.',
    ts: now - (${MESSAGES} - i) * 60000,
    ...(own ? { status: 'read', readBy: ['Bob'] } : {}),
  };
});
const snapshot = {
  connection: 'open', self: alice, conversation: 'bench', messages, hasOlder: false, loadingOlder: false,
  typing: [], members: [], firstUnreadSeq: null, uploads: [], limits: { maxTextChars: 4000, maxUploadBytes: 1 << 25 },
};
const noop = () => {};
const client = {
  snapshot, subscribe: () => noop, on: () => noop, start: async () => {}, dispose: noop,
  send: noop, retry: noop, discard: noop, loadOlder: async () => {}, typed: noop, stoppedTyping: noop, markRead: noop,
  upload: noop, cancelUpload: noop, retryUpload: noop, dismissUpload: noop, fileUrl: (f) => f.url,
};
const room = document.createElement('chat-room');
room.clientFactory = () => client;
room.setAttribute('relay', 'ws://unused.invalid/ws');
room.setAttribute('conversation', 'bench');
room.style.height = '600px';
document.body.append(room);
</script></body></html>`;
}

/**
 * Between loads: what a page does after its newest message is on screen (the rest of the window, the join, older
 * cached messages) finishes before the next load is measured, so that it does not weigh on that one (on 2 cores).
 */
const quiet = () => new Promise((resolve) => setTimeout(resolve, 750));

/** One build under test: its own relay (serving it), site, and pages. */
interface Subject {
  bundle: string;
  relay: RelayProcess;
  site: { url: string; close(): Promise<void> };
  plain: { url: string; close(): Promise<void> };
  viewPage: Page;
  reloadPage: Page;
  reloadUrl: string;
  cached: number;
  viewTimes: number[];
  cacheTimes: number[];
}

async function prepare(browser: Browser, bundle: string): Promise<Subject> {
  // Seeding 1,000 messages from one session would hit the default rate limit.
  const relay = await startRelay({ env: { RATE_LIMIT: '100000', RATE_BURST: '100000', WIDGET_BUNDLE: bundle } });
  const site = await startSite(() => relay);
  const plain = await serveHtml(snapshotPage(`${relay.httpUrl}/chat-room.js`));
  // 1. The view alone: 1,000 messages in one snapshot.
  const viewContext = await browser.newContext();
  await viewContext.addInitScript({ content: watchRendered(`m${MESSAGES}`) });
  const viewPage = await viewContext.newPage();
  viewPage.on('pageerror', (error) => console.error('page error:', error.message));
  viewPage.on('crash', () => console.error('the page crashed'));

  // 2. The real client, reloading with a warm cache.
  const conversation = 'bench';
  const writer = await TestClient.login(relay.wsUrl, { user: 'writer', name: 'Writer' });
  await writer.join(conversation);
  for (let i = 1; i <= MESSAGES; i++) writer.send({ type: 'send', conv: conversation, id: `b${i}`, text: `Message ${i}: the quick brown fox jumps over the lazy dog.` });
  await writer.until((frames) => frames.filter((f) => f.type === 'ack').length === MESSAGES, 60_000);
  writer.close();

  const readerContext = await browser.newContext();
  const reader = await openChat(readerContext, site.url, { user: 'reader', name: 'Reader', conversation });
  // A first visit shows the newest few; page back until the cache can be full.
  const cached = await reader.evaluate(async (want) => {
    const room = document.querySelector('chat-room') as unknown as {
      client: { snapshot: { messages: unknown[]; hasOlder: boolean; connection: string }; loadOlder(): Promise<void> };
    };
    while (room.client.snapshot.connection !== 'open' || room.client.snapshot.messages.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    while (room.client.snapshot.messages.length < want && room.client.snapshot.hasOlder) await room.client.loadOlder();
    return Math.min(room.client.snapshot.messages.length, want);
  }, CacheDefaults.cap);
  // The cache is written 1 s after the last change (debounced); a closing page may not finish that write.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await reader.close();
  await readerContext.addInitScript({ content: watchRendered(`b${MESSAGES}`) });
  const reloadPage = await readerContext.newPage();
  reloadPage.on('pageerror', (error) => console.error('page error:', error.message));
  const reloadUrl = `${site.url}/chat.html?user=reader&name=Reader&conversation=${conversation}`;
  return { bundle, relay, site, plain, viewPage, reloadPage, reloadUrl, cached, viewTimes: [], cacheTimes: [] };
}

async function main(): Promise<void> {
  const bundles = (BUNDLES.length > 0 ? BUNDLES : ['current']).map((b) => (b === 'current' ? ensureBundle() : b));
  const browser = await launchChromium();
  const subjects: Subject[] = [];
  try {
    for (const bundle of bundles) subjects.push(await prepare(browser, bundle));
    // Loads of the builds alternate, so that whatever else the machine does weighs on each alike. The two cases run
    // one after the other, not interleaved: a page loaded right after a reload load (another browser context, a new
    // renderer process each round) was measured ~50 ms slower, Chromium's own part included, which no user reloading
    // one page pays (widget/README.md "Render figures").
    for (let run = 0; run < RUNS + 1; run++) {
      for (const subject of subjects) {
        const view = await renderedAt(subject.viewPage, subject.plain.url);
        await quiet();
        // The first load also compiles the bundle: a warm-up, not counted.
        if (run > 0) subject.viewTimes.push(view);
      }
    }
    for (const subject of subjects) await subject.viewPage.goto('about:blank');
    for (let run = 0; run < RUNS + 1; run++) {
      for (const subject of subjects) {
        const reload = await renderedAt(subject.reloadPage, subject.reloadUrl);
        await quiet();
        if (run > 0) subject.cacheTimes.push(reload);
      }
    }
    const fmt = (values: number[]) =>
      `median ${median(values).toFixed(0)} ms (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)}, ${values.length} loads)`;
    const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
    console.log(`load average at the end: ${load()} (${availableParallelism()} cores)`);
    for (const { bundle, viewTimes, cacheTimes, cached } of subjects) {
      const raw = readFileSync(bundle);
      const gzip = gzipSync(raw, { level: 9 });
      console.log(`entry ${bundle === BUNDLE ? 'dist/chat-room.js' : bundle}: ${(raw.length / 1024).toFixed(1)} KiB raw, ${(gzip.length / 1024).toFixed(1)} KiB gzip -9 (the complete widget: see the build's size budget)`);
      console.log(`  render ${MESSAGES} messages from one snapshot, navigation start → newest on screen: ${fmt(viewTimes)}`);
      console.log(`  reload with the real client and a warm cache (${cached} cached messages) → newest on screen: ${fmt(cacheTimes)}`);
    }
  } finally {
    await browser.close();
    for (const subject of subjects) {
      await subject.plain.close();
      await subject.site.close();
      await subject.relay.dispose();
    }
  }
}

await main();
