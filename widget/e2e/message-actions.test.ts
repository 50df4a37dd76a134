/**
 * Edit, delete, react and reply driven through the widget's own controls in Chromium,
 * against a real relay: online, offline (queued, shown pending) then online again, and
 * after a reload. The relay's stored state is checked with a protocol client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { TestClient, type RelayProcess } from '../../relay/test/harness.js';
import type { ServerFrame } from '../../protocol/index.js';
import { eventually, launchChromium, openChat, say, startRelayWithWidget, startSite } from './support.js';

type Msg = Extract<ServerFrame, { type: 'msg' }>;

const TEST = { timeout: 180_000 };

let browser: Browser;
let relay: RelayProcess;
let site: { url: string; close(): Promise<void> };
const contexts: BrowserContext[] = [];

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext();
  contexts.push(context);
  return context;
}

/** What a message looks like on screen, read from its shadow root. */
interface Shown {
  id: string;
  text: string | null;
  edited: string | null;
  deleted: boolean;
  quote: string | null;
  reactions: { emoji: string; count: string; title: string; mine: boolean; pending: boolean }[];
  pending: boolean;
}

async function shown(page: Page): Promise<Shown[]> {
  // No named functions inside evaluateAll: tsx's esbuild wraps them in a helper the page does not have.
  const raw = await page.locator('chat-room chat-room-message[data-message-id]').evaluateAll((elements) =>
    elements.map((e) => {
      const root = (e as HTMLElement).shadowRoot!;
      return {
        id: (e as HTMLElement).dataset['messageId'] ?? '',
        text: root.querySelector('[part="text"]')?.textContent ?? null,
        edited: root.querySelector('[part="edited"]')?.textContent ?? null,
        deleted: root.querySelector('.tombstone') !== null,
        quote: root.querySelector('[part="quote"]')?.textContent ?? null,
        reactions: [...root.querySelectorAll<HTMLElement>('[part~="reaction"]')].map((chip) => ({
          emoji: chip.dataset['emoji'] ?? '',
          count: chip.querySelector('.count')?.textContent ?? '',
          title: chip.title,
          mine: chip.getAttribute('aria-pressed') === 'true',
          pending: chip.classList.contains('pending'),
        })),
        pending: root.querySelector('.pending-change, .reaction.pending') !== null,
      };
    }),
  );
  return raw.map((m) => ({ ...m, text: squash(m.text), edited: squash(m.edited), quote: squash(m.quote) }));
}

function squash(text: string | null): string | null {
  return text === null ? null : text.replace(/\s+/g, ' ').trim();
}

async function byText(page: Page, text: string): Promise<Shown> {
  return eventually(`"${text}" on screen`, async () => (await shown(page)).find((m) => m.text === text));
}

function message(page: Page, id: string): Locator {
  return page.locator(`chat-room chat-room-message[data-message-id="${id}"]`);
}

/** Opens a message's action menu with the mouse, as a user would: hover shows the button. */
async function menu(page: Page, id: string): Promise<void> {
  const m = message(page, id);
  await m.locator('[part~="bubble"]').hover();
  await m.locator('[part="actions-button"]').click();
  await m.locator('[role="menu"]').waitFor();
}

async function act(page: Page, id: string, action: 'reply' | 'react' | 'edit' | 'delete'): Promise<void> {
  await menu(page, id);
  await message(page, id).locator(`[data-action="${action}"]`).click();
}

async function edit(page: Page, id: string, text: string): Promise<void> {
  await act(page, id, 'edit');
  const input = message(page, id).locator('[part="edit-input"]');
  await input.fill(text);
  await input.press('Enter');
}

async function react(page: Page, id: string, emoji: string): Promise<void> {
  await act(page, id, 'react');
  await message(page, id).locator(`[part="reaction-picker"] [data-emoji="${emoji}"]`).click();
}

async function reply(page: Page, id: string, text: string): Promise<void> {
  await act(page, id, 'reply');
  await page.locator('chat-room chat-room-composer [part="reply-preview"]').waitFor();
  await say(page, text);
}

/** The relay's materialised state: `history before` pages hold each message in its current state. */
async function stored(conversation: string): Promise<Msg[]> {
  const client = await TestClient.login(relay.wsUrl, { user: 'auditor', name: 'Auditor' });
  try {
    const joined = await client.join(conversation);
    client.send({ type: 'history', conv: conversation, before: joined.head + 1, limit: 100, ref: 'h' });
    const page = await client.next<Extract<ServerFrame, { type: 'history' }>>((f) => f.type === 'history');
    return page.messages.filter((m): m is Msg => m.type === 'msg');
  } finally {
    client.close();
  }
}

describe('widget end to end: edit, delete, react, reply', () => {
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

  it('actions - online: alice edits and replies, bob reacts and deletes; both see the same, and so does the relay', TEST, async () => {
    const conversation = 'actions-online';
    const alice = await openChat(await newContext(), site.url, { user: 'alice', name: 'Alice', conversation });
    const bob = await openChat(await newContext(), site.url, { user: 'bob', name: 'Bob', conversation });
    await say(alice, 'helo bob');
    await say(bob, 'a question?');
    await say(bob, 'never mind');
    const hello = await byText(bob, 'helo bob');
    const question = await byText(alice, 'a question?');
    const never = await byText(alice, 'never mind');

    // The menu button shows on hover (this Chromium has a mouse).
    const button = message(alice, hello.id).locator('[part="actions-button"]');
    assert.equal(await button.evaluate((b) => getComputedStyle(b).opacity), '0');
    await message(alice, hello.id).locator('[part~="bubble"]').hover();
    await eventually('the button shows on hover', async () => (await button.evaluate((b) => getComputedStyle(b).opacity)) === '1');

    await edit(alice, hello.id, 'hello bob');
    await eventually('bob sees the edit', async () => {
      const m = (await shown(bob)).find((x) => x.id === hello.id);
      return m?.text === 'hello bob' && m.edited === 'edited';
    });

    await react(bob, hello.id, '👍');
    await eventually('alice sees bob’s reaction', async () => {
      const m = (await shown(alice)).find((x) => x.id === hello.id);
      return m?.reactions.length === 1 && m.reactions[0]!.title === 'Bob' && m.reactions[0]!.count === '1';
    });
    // Alice adds hers by clicking the chip.
    await message(alice, hello.id).locator('[part~="reaction"]').click();
    await eventually('bob sees two', async () => {
      const m = (await shown(bob)).find((x) => x.id === hello.id);
      return m?.reactions[0]?.count === '2' && m.reactions[0].title === 'You and Alice' && m.reactions[0].mine;
    });

    await reply(alice, question.id, 'an answer');
    const answer = await eventually('bob sees the reply with its quote', async () =>
      (await shown(bob)).find((x) => x.text === 'an answer' && x.quote === 'Bob a question?'),
    );

    await act(bob, never.id, 'delete');
    await eventually('alice sees the tombstone', async () => (await shown(alice)).find((x) => x.id === never.id)?.deleted);

    // Clicking the quote shows the quoted message.
    await message(bob, answer.id).locator('[part="quote"]').click();
    await eventually('the quoted message is on screen', async () =>
      message(bob, question.id).evaluate((el) => {
        const box = el.getBoundingClientRect();
        return box.top >= 0 && box.bottom <= window.innerHeight;
      }),
    );

    const inStore = await stored(conversation);
    const get = (id: string) => inStore.find((m) => m.id === id)!;
    assert.equal(get(hello.id).text, 'hello bob');
    assert.ok(get(hello.id).edited);
    assert.deepEqual(get(hello.id).reactions, { '👍': ['bob', 'alice'] });
    assert.equal(get(never.id).deleted, true);
    assert.equal(get(never.id).text, undefined);
    assert.equal(get(answer.id).reply?.id, question.id);
  });

  it('actions - offline: changes show pending, are sent once back online, and survive a reload', TEST, async () => {
    const conversation = 'actions-offline';
    const aliceContext = await newContext();
    const alice = await openChat(aliceContext, site.url, { user: 'alice', name: 'Alice', conversation });
    const bob = await openChat(await newContext(), site.url, { user: 'bob', name: 'Bob', conversation });
    await say(alice, 'typo here');
    await say(alice, 'delete me');
    await say(bob, 'react to me');
    const typo = await byText(bob, 'typo here');
    const doomed = await byText(bob, 'delete me');
    const target = await byText(alice, 'react to me');
    await eventually('alice has everything acked', async () => {
      const list = await alice.locator('chat-room chat-room-message[data-status]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset['status']));
      return list.length === 2 && list.every((s) => s !== 'sending');
    });

    await aliceContext.setOffline(true);
    await eventually('alice is offline', async () =>
      (await alice.locator('chat-room chat-room-connection [part="banner"]').getAttribute('data-connection')) === 'offline',
    );
    await edit(alice, typo.id, 'no typo here');
    await act(alice, doomed.id, 'delete');
    await react(alice, target.id, '🎉');
    await reply(alice, target.id, 'answered offline');

    const pending = await shown(alice);
    const get = (list: Shown[], id: string) => list.find((m) => m.id === id)!;
    assert.equal(get(pending, typo.id).text, 'no typo here', 'the edit shows at once');
    assert.equal(get(pending, typo.id).edited, 'saving…');
    assert.equal(get(pending, doomed.id).deleted, true, 'the tombstone shows at once');
    assert.equal(get(pending, doomed.id).pending, true);
    assert.deepEqual(
      get(pending, target.id).reactions.map((r) => [r.emoji, r.mine, r.pending]),
      [['🎉', true, true]],
    );
    const offlineReply = pending.find((m) => m.text === 'answered offline');
    assert.equal(offlineReply?.quote, 'Bob react to me');
    // Nothing reached bob.
    assert.equal(get(await shown(bob), typo.id).text, 'typo here');

    await aliceContext.setOffline(false);
    await eventually('bob sees every change', async () => {
      const list = await shown(bob);
      return (
        get(list, typo.id).text === 'no typo here' &&
        get(list, typo.id).edited === 'edited' &&
        get(list, doomed.id).deleted &&
        get(list, target.id).reactions[0]?.title === 'Alice' &&
        list.some((m) => m.text === 'answered offline' && m.quote === 'Bob react to me')
      );
    }, 60_000);
    await eventually('alice’s changes are no longer pending', async () => (await shown(alice)).every((m) => !m.pending && m.edited !== 'saving…'));

    // A reload renders the same state (from the cache, then the relay).
    await alice.reload();
    await alice.locator('chat-room chat-room-composer textarea').waitFor();
    await eventually('after the reload', async () => {
      const list = await shown(alice);
      return (
        get(list, typo.id)?.text === 'no typo here' &&
        get(list, typo.id).edited === 'edited' &&
        get(list, doomed.id)?.deleted &&
        get(list, target.id)?.reactions[0]?.mine &&
        list.some((m) => m.text === 'answered offline' && m.quote === 'Bob react to me')
      );
    });

    const inStore = await stored(conversation);
    const stored1 = (id: string) => inStore.find((m) => m.id === id)!;
    assert.equal(stored1(typo.id).text, 'no typo here');
    assert.equal(stored1(doomed.id).deleted, true);
    assert.deepEqual(stored1(target.id).reactions, { '🎉': ['alice'] });
    assert.equal(inStore.filter((m) => m.text === 'answered offline').length, 1, 'the reply stored once');
  });
});
