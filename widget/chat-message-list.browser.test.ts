import { expect, nextFrame, waitUntil } from '@open-wc/testing';
import { message } from './test/fake-client.js';
import { deep, log, messageElements, mount, scrollTo, settle } from './test/helpers.js';
import { afterEach, describe, it } from './test/mocha.js';
import type { ChatMessage } from './client/types.js';

function range(from: number, to: number, overrides: Partial<ChatMessage> = {}): ChatMessage[] {
  const list: ChatMessage[] = [];
  for (let seq = from; seq <= to; seq++) list.push(message(seq, overrides));
  return list;
}

function atBottom(element: HTMLElement): boolean {
  return element.scrollHeight - element.scrollTop - element.clientHeight < 2;
}

function highestRead(calls: unknown[][]): number {
  return Math.max(0, ...calls.map(([seq]) => Number(seq)));
}

/** Lets the page pretend to be hidden or visible (headless Chromium is always visible). */
function setVisibility(state: DocumentVisibilityState | null): void {
  if (state === null) {
    delete (document as unknown as Record<string, unknown>)['visibilityState'];
    return;
  }
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  document.dispatchEvent(new Event('visibilitychange'));
}

describe('chat-room-message-list', () => {
  afterEach(() => setVisibility(null));

  it('chat-room-message-list - reads receipts for the highest seq on screen', async () => {
    const { client } = await mount({ messages: range(1, 3) });
    await waitUntil(() => client.callsTo('markRead').length > 0, 'no markRead');
    expect(highestRead(client.callsTo('markRead'))).to.equal(3);
  });

  it('chat-room-message-list - messages scrolled out of view are not read', async () => {
    const { el, client } = await mount({ messages: range(1, 200), firstUnreadSeq: 20 });
    await waitUntil(() => client.callsTo('markRead').length > 0, 'no markRead');
    const seen = highestRead(client.callsTo('markRead'));
    expect(seen).to.be.at.least(20);
    expect(seen).to.be.below(200);
    // Scrolling down brings the rest on screen.
    await scrollTo(log(el), log(el).scrollHeight);
    await waitUntil(() => highestRead(client.callsTo('markRead')) === 200, 'last message not read after scrolling');
  });

  it('chat-room-message-list - no read receipts while the page is hidden; sent when it becomes visible', async () => {
    setVisibility('hidden');
    const { el, client } = await mount({ messages: range(1, 5) });
    for (let i = 0; i < 5; i++) await nextFrame();
    expect(client.callsTo('markRead')).to.deep.equal([]);
    client.set({ messages: range(1, 6) });
    await settle(el);
    expect(client.callsTo('markRead')).to.deep.equal([]);
    setVisibility('visible');
    expect(highestRead(client.callsTo('markRead'))).to.equal(6);
  });

  it('chat-room-message-list - an own message acked while on screen is read at its new seq', async () => {
    const pending = { ...message(0, { own: true, status: 'sending' as const }), id: 'local-1', seq: undefined };
    const { el, client } = await mount({ messages: [...range(1, 2), pending] });
    await waitUntil(() => highestRead(client.callsTo('markRead')) === 2, 'first messages not read');
    client.set({ messages: [...range(1, 2), { ...pending, seq: 3, status: 'sent' }] });
    await settle(el);
    await waitUntil(() => highestRead(client.callsTo('markRead')) === 3, 'acked message not read');
  });

  it('chat-room-message-list - unread divider sits before the first unread message and is scrolled to', async () => {
    const { el } = await mount({ messages: range(1, 200), firstUnreadSeq: 120 });
    const divider = deep(el, 'chat-room-message-list', '[part="divider"]')!;
    expect(divider.nextElementSibling?.getAttribute('data-seq')).to.equal('120');
    const box = log(el).getBoundingClientRect();
    const at = divider.getBoundingClientRect();
    expect(at.top).to.be.within(box.top, box.bottom);
  });

  it('chat-room-message-list - starts at the newest message without unread ones', async () => {
    const { el } = await mount({ messages: range(1, 200) });
    expect(atBottom(log(el))).to.equal(true);
  });

  it('chat-room-message-list - stays at the bottom when new messages arrive there', async () => {
    const { el, client } = await mount({ messages: range(1, 100) });
    client.set({ messages: range(1, 110) });
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(deep(el, 'chat-room-message-list', '[part="new-messages"]')).to.equal(null);
  });

  it('chat-room-message-list - shows a new messages pill when scrolled up, which scrolls down', async () => {
    const { el, client } = await mount({ messages: range(1, 100) });
    await scrollTo(log(el), 0);
    client.set({ messages: range(1, 101) });
    await settle(el);
    expect(log(el).scrollTop).to.equal(0);
    const pill = deep<HTMLButtonElement>(el, 'chat-room-message-list', '[part="new-messages"]')!;
    expect(pill).to.not.equal(null);
    pill.click();
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(deep(el, 'chat-room-message-list', '[part="new-messages"]')).to.equal(null);
  });

  it('chat-room-message-list - own send scrolls to the bottom even when scrolled up', async () => {
    const { el, client } = await mount({ messages: range(1, 100) });
    await scrollTo(log(el), 0);
    client.send('hello');
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(messageElements(el).at(-1)!.dataset['status']).to.equal('sending');
  });

  it('chat-room-message-list - scrolling to the top asks for older messages', async () => {
    const { el, client } = await mount({ messages: range(101, 200), hasOlder: true });
    expect(client.callsTo('loadOlder')).to.have.length(0);
    await scrollTo(log(el), 0);
    await waitUntil(() => client.callsTo('loadOlder').length > 0, 'loadOlder not called');
  });

  it('chat-room-message-list - keeps what is on screen in place while an older page is prepended', async () => {
    const { el, client } = await mount({ messages: range(101, 200), hasOlder: true });
    await scrollTo(log(el), 600);
    // Bubbles that scrolled into view render now and replace their estimated height.
    await settle(el);
    const anchor = messageElements(el).find((m) => m.getBoundingClientRect().top >= log(el).getBoundingClientRect().top)!;
    const before = anchor.getBoundingClientRect().top;
    client.set({ messages: range(51, 200), hasOlder: true });
    await settle(el);
    expect(messageElements(el)).to.have.length(150);
    expect(Math.abs(anchor.getBoundingClientRect().top - before)).to.be.below(2);
  });

  it('chat-room-message-list - shows a loading line while older messages load, and a button to load them', async () => {
    const { el, client } = await mount({ messages: range(101, 200), hasOlder: true });
    const button = deep<HTMLButtonElement>(el, 'chat-room-message-list', '[part="load-older"]')!;
    const before = client.callsTo('loadOlder').length;
    button.click();
    expect(client.callsTo('loadOlder').length).to.equal(before + 1);
    client.set({ loadingOlder: true });
    await settle(el);
    expect(deep(el, 'chat-room-message-list', '[role="status"]')!.textContent).to.contain('Loading older');
  });

  it('chat-room-message-list - names the sender once for consecutive messages from others', async () => {
    const carol = { id: 'carol', name: 'Carol' };
    const { el } = await mount({ messages: [message(1), message(2), message(3, { from: carol }), message(4, { own: true })] });
    const senders = messageElements(el).map((m) => deep(m, '[part="sender"]')?.textContent ?? null);
    expect(senders).to.deep.equal(['Bob', null, 'Carol', null]);
  });
});
