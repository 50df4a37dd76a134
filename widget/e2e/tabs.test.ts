/**
 * One connection per browser: tabs of one user (one browser context, so they share origin
 * storage, Web Locks and BroadcastChannel) hold one WebSocket between them, all stay live,
 * and when the leader tab closes another takes over; every message arrives exactly once.
 * The relay's `GET /healthz` counts the connections.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TestClient, type RelayProcess } from '../../relay/test/harness.js';
import { eventually, launchChromium, openChat, rendered, say, startRelayWithWidget, startSite } from './support.js';

const TEST = { timeout: 120_000 };

let browser: Browser;
let relay: RelayProcess;
let site: { url: string; close(): Promise<void> };
const contexts: BrowserContext[] = [];

async function connections(): Promise<number> {
  const response = await fetch(`${relay.httpUrl}/healthz`);
  return ((await response.json()) as { connections: number }).connections;
}

async function texts(page: Page): Promise<string[]> {
  return (await rendered(page)).map((m) => m.text ?? '');
}

/** Whether the tab's session owns the socket (`leader`) or uses another tab's (`follower`). */
function role(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = document.querySelector('chat-room') as unknown as { _sessionUsed?: { snapshot: { role: string } } };
    return element._sessionUsed?.snapshot.role ?? 'unknown';
  });
}

async function storedTexts(conversation: string): Promise<string[]> {
  const client = await TestClient.login(relay.wsUrl, { user: 'auditor', name: 'Auditor' });
  try {
    const joined = await client.join(conversation, { after: 0 });
    await client.until((frames) => frames.filter((f) => f.type === 'msg').length >= joined.head, 10_000);
    return client.messages(conversation).map((m) => m.text ?? '');
  } finally {
    client.close();
  }
}

describe('tabs share one connection', () => {
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
  });

  it('tabs - three tabs of one user hold one WebSocket, all live; the leader closes and another takes over; each message once', TEST, async () => {
    const conversation = 'tabs';
    const context = await browser.newContext();
    contexts.push(context);
    const who = { user: 'alice', name: 'Alice', conversation };
    const tabs: Page[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openChat(context, site.url, who));
    const logs: string[] = [];
    tabs.forEach((tab, i) => tab.on('console', (m) => logs.push(`tab ${i}: ${m.text()}`)));
    tabs.forEach((tab, i) => tab.on('pageerror', (e) => logs.push(`tab ${i} error: ${e.message}`)));
    await eventually('one connection for three tabs', async () => ((await connections()) === 1 ? true : undefined), 15_000);

    const bobContext = await browser.newContext();
    contexts.push(bobContext);
    const bob = await openChat(bobContext, site.url, { user: 'bob', name: 'Bob', conversation });
    await eventually('bob connected', async () => ((await connections()) === 2 ? true : undefined), 15_000);

    for (let i = 0; i < 3; i++) await say(tabs[i]!, `from tab ${i}`);
    await say(bob, 'from bob');
    const all = ['from tab 0', 'from tab 1', 'from tab 2', 'from bob'];
    for (const page of [...tabs, bob]) {
      await eventually('every tab renders every message once', async () => {
        const seen = await texts(page);
        return seen.length === 4 && all.every((t) => seen.includes(t)) ? seen : undefined;
      }, 15_000);
    }

    // The first tab took the lock: it holds the socket. Close it mid-conversation.
    await tabs[0]!.close({ runBeforeUnload: true });
    const closedAt = Date.now();
    await say(tabs[1]!, 'after the leader left');
    await say(tabs[2]!, 'and from the third');
    await eventually('bob gets both', async () => {
      const seen = await texts(bob);
      return seen.includes('after the leader left') && seen.includes('and from the third') ? seen : undefined;
    }, 30_000).catch(async (error: unknown) => {
      const roles = await Promise.all(tabs.slice(1).map((t) => t.evaluate(() => JSON.stringify((document.querySelector('chat-room') as unknown as { client: { snapshot: { messages: unknown[] } } }).client.snapshot.messages.slice(-2)))));
      throw new Error(`${String(error)}\n${roles.join('\n')}\nbob: ${(await texts(bob)).join('|')}\nconnections ${await connections()}\n${logs.join('\n')}`);
    });
    const tookOverMs = Date.now() - closedAt;
    console.log(`# leader takeover to delivery (two tabs writing): ${tookOverMs} ms`);
    for (const page of tabs.slice(1)) {
      await eventually('the remaining tabs stay live', async () => {
        const seen = await texts(page);
        return seen.length === 6 ? seen : undefined;
      }, 15_000);
    }
    await eventually('one connection again for the two tabs (and bob)', async () => ((await connections()) === 2 ? true : undefined), 15_000);
    const stored = await storedTexts(conversation);
    assert.equal(stored.length, 6, `stored: ${stored.join(' | ')}`);
    assert.equal(new Set(stored).size, 6, 'each message exactly once');
  });

  it('tabs - the leader tab closes mid-conversation, twice: a follower’s message sent right after arrives once, in order', TEST, async () => {
    const conversation = 'takeover';
    const context = await browser.newContext();
    contexts.push(context);
    const who = { user: 'carol', name: 'Carol', conversation };
    const tabs: Page[] = [];
    for (let i = 0; i < 3; i++) tabs.push(await openChat(context, site.url, who));
    const bobContext = await browser.newContext();
    contexts.push(bobContext);
    const bob = await openChat(bobContext, site.url, { user: 'dave', name: 'Dave', conversation });
    const expected: string[] = [];
    const write = async (page: Page, text: string) => {
      await say(page, text);
      expected.push(text);
    };
    await write(bob, 'hello');
    await write(tabs[1]!, 'hi from a follower');
    await eventually('everyone has the first two', async () => {
      for (const page of [...tabs, bob]) if ((await texts(page)).length !== 2) return undefined;
      return true;
    }, 15_000);

    const figures: number[] = [];
    for (const [leader, writer] of [[0, 1], [1, 2]] as const) {
      assert.equal(await role(tabs[leader]!), 'leader', `tab ${leader} holds the socket`);
      const text = `right after tab ${leader} closed`;
      const closedAt = Date.now();
      await tabs[leader]!.close({ runBeforeUnload: true });
      await write(tabs[writer]!, text);
      await eventually(`dave gets "${text}"`, async () => ((await texts(bob)).includes(text) ? true : undefined), 30_000);
      figures.push(Date.now() - closedAt);
      await write(bob, `answer ${leader}`);
    }
    console.log(`# leader takeover to delivery at the other user: ${figures.map((ms) => `${ms} ms`).join(', ')}`);

    const last = tabs[2]!;
    await eventually('the last tab and dave show everything once, in the same order', async () => {
      const [mine, his] = [await texts(last), await texts(bob)];
      return mine.join('|') === expected.join('|') && his.join('|') === expected.join('|') ? true : undefined;
    }, 15_000).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\nexpected ${expected.join('|')}\ntab: ${(await texts(last)).join('|')}\ndave: ${(await texts(bob)).join('|')}`);
    });
    assert.equal(await role(last), 'leader');
    assert.deepEqual(await storedTexts(conversation), expected, 'stored once each, in the order written');
  });
});
