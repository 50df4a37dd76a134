/**
 * Moderators in the widget, against a relay with a JWT secret: a token with
 * `"role": "moderator"` gets "Delete" on everyone's messages and the relay carries it out;
 * a member gets it on their own messages only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { JwtVerifier } from '../../relay/auth/jwt.js';
import { TestClient, type RelayProcess } from '../../relay/test/harness.js';
import type { ServerFrame } from '../../protocol/index.js';
import { eventually, launchChromium, say, serveHtml, startRelayWithWidget } from './support.js';

const SECRET = 'an-end-to-end-moderation-secret-of-32-bytes-or-more';
const TEST = { timeout: 120_000 };
const CONVERSATION = 'moderated-1';

let browser: Browser;
let relay: RelayProcess;
const closers: { close(): Promise<void> }[] = [];
const jwt = new JwtVerifier(SECRET);

async function openAs(claims: { sub: string; name: string; role?: string }): Promise<Page> {
  const token = await jwt.sign({ convs: [CONVERSATION], ...claims });
  const site = await serveHtml(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>moderation</title></head><body>
<script type="module" src="${relay.httpUrl}/chat-room.js"></script>
<chat-room relay="${relay.wsUrl}" conversation="${CONVERSATION}" token="${token}" style="height: 420px"></chat-room>
</body></html>`);
  closers.push(site);
  const context: BrowserContext = await browser.newContext();
  closers.push({ close: () => context.close() });
  const page = await context.newPage();
  await page.goto(site.url);
  await page.locator('chat-room chat-room-composer textarea').waitFor();
  return page;
}

/** The id of the message showing `text`, once it is acked (has a seq). */
function idOf(page: Page, text: string): Promise<string> {
  return eventually(`"${text}" acked`, async () => {
    const found = await page.locator('chat-room chat-room-message[data-seq]').evaluateAll(
      (elements, wanted) =>
        elements.find((e) => e.shadowRoot?.querySelector('[part="text"]')?.textContent === wanted)?.getAttribute('data-message-id') ?? null,
      text,
    );
    return found ?? undefined;
  });
}

async function actionsOf(page: Page, id: string): Promise<string[]> {
  const message = page.locator(`chat-room chat-room-message[data-message-id="${id}"]`);
  await message.locator('[part~="bubble"]').hover();
  await message.locator('[part="actions-button"]').click();
  const actions = await message.locator('[role="menuitem"]').evaluateAll((items) => items.map((i) => i.getAttribute('data-action') ?? ''));
  await page.keyboard.press('Escape');
  return actions;
}

describe('widget end to end: moderators', () => {
  before(async () => {
    browser = await launchChromium();
    relay = await startRelayWithWidget({ env: { CHAT_JWT_SECRET: SECRET } });
  });

  after(async () => {
    for (const closer of closers.reverse()) await closer.close().catch(() => {});
    await browser?.close();
    await relay?.dispose();
  });

  it('moderation - a moderator may delete anyone’s message, a member only their own', TEST, async () => {
    const mod = await openAs({ sub: 'mia', name: 'Mia', role: 'moderator' });
    const bob = await openAs({ sub: 'bob', name: 'Bob' });
    await say(mod, 'welcome all');
    await say(bob, 'buy cheap stuff');
    const welcome = await idOf(bob, 'welcome all');
    const spam = await idOf(mod, 'buy cheap stuff');

    assert.deepEqual(await actionsOf(bob, welcome), ['reply', 'react'], 'a member cannot delete others’ messages');
    assert.deepEqual(await actionsOf(bob, spam), ['reply', 'react', 'edit', 'delete'], 'a member can delete their own');
    assert.deepEqual(await actionsOf(mod, spam), ['reply', 'react', 'delete'], 'a moderator can delete anyone’s');

    const message = mod.locator(`chat-room chat-room-message[data-message-id="${spam}"]`);
    await message.locator('[part~="bubble"]').hover();
    await message.locator('[part="actions-button"]').click();
    await message.locator('[data-action="delete"]').click();
    await eventually('bob sees his message deleted', async () =>
      (await bob.locator(`chat-room chat-room-message[data-message-id="${spam}"] .tombstone`).count()) === 1,
    );
    await eventually('the moderator’s delete is confirmed', async () =>
      (await message.locator('.tombstone.pending-change').count()) === 0 && (await message.locator('.tombstone').count()) === 1,
    );

    const token = await jwt.sign({ sub: 'auditor', convs: [CONVERSATION] });
    const auditor = await TestClient.login(relay.wsUrl, { token });
    try {
      const joined = await auditor.join(CONVERSATION);
      auditor.send({ type: 'history', conv: CONVERSATION, before: joined.head + 1, limit: 10, ref: 'h' });
      const page = await auditor.next<Extract<ServerFrame, { type: 'history' }>>((f) => f.type === 'history');
      const stored = page.messages.find((m) => m.id === spam);
      assert.equal(stored?.type === 'msg' && stored.deleted, true);
    } finally {
      auditor.close();
    }
  });
});
