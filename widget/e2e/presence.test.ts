/**
 * Presence in the widget against a real relay: the member strip shows who else is online
 * (a filled dot), and "last seen" once they left (after the relay's grace period, shortened
 * here), and online again when they come back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { RelayProcess } from '../../relay/test/harness.js';
import { eventually, launchChromium, openChat, startRelayWithWidget, startSite } from './support.js';

const TEST = { timeout: 120_000 };

let browser: Browser;
let relay: RelayProcess;
let site: { url: string; close(): Promise<void> };
const contexts: BrowserContext[] = [];

interface MemberShown {
  id: string;
  online: boolean;
  title: string;
  seen: string | null;
}

function members(page: Page): Promise<MemberShown[]> {
  return page.locator('chat-room chat-room-members li[data-member]').evaluateAll((items) =>
    items.map((li) => ({
      id: li.getAttribute('data-member') ?? '',
      online: li.querySelector('[part="presence-dot"]')?.classList.contains('online') ?? false,
      title: li.getAttribute('title') ?? '',
      seen: li.querySelector('.seen')?.textContent ?? null,
    })),
  );
}

async function open(user: string, name: string): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await openChat(context, site.url, { user, name, conversation: 'presence-1' });
  return { page, context };
}

describe('widget end to end: presence', () => {
  before(async () => {
    // A short grace so that "gone" shows within the test; the relay's default is 5 s.
    relay = await startRelayWithWidget({ env: { PRESENCE_GRACE_MS: '500' } });
    site = await startSite(() => relay);
    browser = await launchChromium();
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await site?.close();
    await relay?.dispose();
  });

  it('presence - bob online shows a dot for alice; gone, "last seen"; back, online again', TEST, async () => {
    const alice = await open('alice', 'Alice');
    const bob = await open('bob', 'Bob');
    const bobFor = async () => (await members(alice.page)).find((m) => m.id === 'bob');
    await eventually('alice sees bob online', async () => (await bobFor())?.online === true);
    assert.equal((await bobFor())?.title, 'online');
    assert.deepEqual(
      (await members(bob.page)).map((m) => [m.id, m.online]),
      [['alice', true]],
      'bob sees alice, and not himself',
    );

    await bob.page.close();
    const gone = await eventually('alice sees bob gone', async () => {
      const m = await bobFor();
      return m && !m.online ? m : undefined;
    });
    assert.match(gone.title, /^last seen /);
    assert.notEqual(gone.seen, null, 'the short "… ago" shows beside the name');

    await openChat(bob.context, site.url, { user: 'bob', name: 'Bob', conversation: 'presence-1' });
    await eventually('bob back online', async () => (await bobFor())?.online === true);
  });
});
