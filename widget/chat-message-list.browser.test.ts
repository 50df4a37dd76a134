import { expect, fixture, html, nextFrame, waitUntil } from '@open-wc/testing';
import { FakeClient, message } from './test/fake-client.js';
import { deep, deepAll, log, messageElements, mount, scrollTo, settle } from './test/helpers.js';
import { afterEach, describe, it } from './test/mocha.js';
import type { ChatClientOptions, ChatMessage, ChatSnapshot } from './client/index.js';
import type { ChatRoom } from './chat-room.js';

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

function part(el: ChatRoom, name: string): HTMLElement | null {
  return deep(el, 'chat-room-message-list', `[part="${name}"]`);
}

/** The last message element is entirely inside the log's box. */
function lastFullyVisible(el: ChatRoom): boolean {
  const last = messageElements(el).at(-1)!;
  const box = log(el).getBoundingClientRect();
  const at = last.getBoundingClientRect();
  return at.top >= box.top - 1 && at.bottom <= box.bottom + 1;
}

/** Like mount(), but the element starts display:none (the usual launcher panel). */
async function mountHidden(snapshot: Partial<ChatSnapshot>): Promise<{ el: ChatRoom; client: FakeClient }> {
  const clients: FakeClient[] = [];
  const factory = (options: ChatClientOptions) => {
    const client = new FakeClient(options, snapshot);
    clients.push(client);
    return client;
  };
  const el = await fixture<ChatRoom>(
    html`<chat-room relay="ws://relay.test/ws" conversation="c1" user="alice" style="display: none" .clientFactory=${factory}></chat-room>`,
  );
  await settle(el);
  return { el, client: clients[0]! };
}

const frames = async (n: number) => {
  for (let i = 0; i < n; i++) await nextFrame();
};

describe('chat-room-message-list', () => {
  afterEach(() => setVisibility(null));

  it('chat-room-message-list - reads receipts for the highest seq on screen', async () => {
    const { client } = await mount({ messages: range(1, 3) });
    await waitUntil(() => client.callsTo('markRead').length > 0, 'no markRead');
    expect(highestRead(client.callsTo('markRead'))).to.equal(3);
  });

  it('chat-room-message-list - messages scrolled out of view are not read; scrolling down reads them', async () => {
    const { el, client } = await mount({ messages: range(1, 200), firstUnreadSeq: 20 });
    await waitUntil(() => client.callsTo('markRead').length > 0, 'no markRead');
    const seen = highestRead(client.callsTo('markRead'));
    expect(seen).to.be.at.least(20);
    expect(seen).to.be.below(200);
    // Scrolling down renders and brings the rest on screen, a window at a time.
    for (let i = 0; i < 20 && highestRead(client.callsTo('markRead')) < 200; i++) {
      await scrollTo(log(el), log(el).scrollHeight);
      await settle(el);
    }
    expect(highestRead(client.callsTo('markRead'))).to.equal(200);
  });

  it('chat-room-message-list - no read receipts while the page is hidden; sent when it becomes visible', async () => {
    setVisibility('hidden');
    const { el, client } = await mount({ messages: range(1, 5) });
    await frames(5);
    expect(client.callsTo('markRead')).to.deep.equal([]);
    client.set({ messages: range(1, 6) });
    await settle(el);
    expect(client.callsTo('markRead')).to.deep.equal([]);
    setVisibility('visible');
    expect(highestRead(client.callsTo('markRead'))).to.equal(6);
  });

  it('chat-room-message-list - no read receipts while the widget is visibility:hidden; sent once it is shown', async () => {
    const { el, client } = await mount({ messages: range(1, 5) });
    await waitUntil(() => highestRead(client.callsTo('markRead')) === 5, 'first messages not read');
    el.style.visibility = 'hidden';
    client.set({ messages: range(1, 8) });
    await settle(el);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(highestRead(client.callsTo('markRead'))).to.equal(5);
    el.style.visibility = '';
    await waitUntil(() => highestRead(client.callsTo('markRead')) === 8, 'not read once visible', { timeout: 5000 });
  });

  it('chat-room-message-list - a display:none widget loads no older pages and reads nothing; shown, it opens at the newest message, read', async () => {
    const { el, client } = await mountHidden({ messages: range(301, 325), hasOlder: true });
    await frames(10);
    await settle(el);
    expect(client.callsTo('loadOlder'), 'a hidden widget downloads no history').to.deep.equal([]);
    expect(client.callsTo('markRead')).to.deep.equal([]);
    el.style.display = '';
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(lastFullyVisible(el)).to.equal(true);
    await waitUntil(() => highestRead(client.callsTo('markRead')) === 325, 'the newest message was not read');
    // The 25 messages fill the list: no older page is needed until the user scrolls up.
    expect(client.callsTo('loadOlder')).to.deep.equal([]);
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
    const divider = part(el, 'divider')!;
    expect(divider.nextElementSibling?.getAttribute('data-seq')).to.equal('120');
    const box = log(el).getBoundingClientRect();
    const at = divider.getBoundingClientRect();
    expect(at.top).to.be.within(box.top, box.bottom);
  });

  it('chat-room-message-list - opens at the newest message and renders only a window of a long history', async () => {
    const { el } = await mount({ messages: range(1, 1000) });
    expect(atBottom(log(el))).to.equal(true);
    expect(lastFullyVisible(el)).to.equal(true);
    const rendered = messageElements(el);
    expect(rendered.length).to.be.at.most(60);
    expect(rendered.at(-1)!.dataset['seq']).to.equal('1000');
  });

  it('chat-room-message-list - a list taller than the first messages fill gets what is missing before the first paint, not a page more', async () => {
    const room = document.createElement('chat-room') as ChatRoom;
    room.clientFactory = (options: ChatClientOptions) => new FakeClient(options, { messages: range(1, 1000) });
    room.setAttribute('relay', 'ws://relay.test/ws');
    room.setAttribute('conversation', 'c1');
    room.setAttribute('user', 'alice');
    room.style.height = '1400px';
    // The first frame that shows the newest message: what it paints, before the rest of the window is rendered above.
    const painted = new Promise<{ count: number; full: boolean }>((resolve) => {
      const tick = () => {
        const list = room.shadowRoot?.querySelector('chat-room-message-list')?.shadowRoot;
        const box = list?.querySelector('[part="list"]');
        const newest = list?.querySelector('chat-room-message[data-seq="1000"]');
        if (box && newest && newest.getBoundingClientRect().height > 0 && !list!.querySelector('chat-room-message[data-seq="900"]')) {
          const at = newest.getBoundingClientRect();
          if (at.bottom <= box.getBoundingClientRect().bottom + 1) {
            resolve({ count: list!.querySelectorAll('chat-room-message').length, full: box.scrollHeight > box.clientHeight });
            return;
          }
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    document.body.append(room);
    try {
      const { count, full } = await painted;
      expect(full).to.equal(true);
      // Ten first, then the estimate of what is missing: far fewer than ten and a page of forty.
      expect(count).to.be.above(10);
      expect(count).to.be.below(50);
    } finally {
      room.remove();
    }
  });

  it('chat-room-message-list - stays at the bottom while the content grows after opening (late layout, images)', async () => {
    const { el } = await mount({ messages: range(1, 60) });
    expect(atBottom(log(el))).to.equal(true);
    const style = document.createElement('style');
    style.textContent = 'chat-room::part(bubble) { padding-bottom: 40px; }';
    document.head.append(style);
    try {
      await frames(3);
      expect(atBottom(log(el))).to.equal(true);
      expect(lastFullyVisible(el)).to.equal(true);
    } finally {
      style.remove();
    }
  });

  it('chat-room-message-list - stays at the bottom when new messages arrive there', async () => {
    const { el, client } = await mount({ messages: range(1, 100) });
    client.set({ messages: range(1, 110) });
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(part(el, 'new-messages')).to.equal(null);
    expect(part(el, 'to-bottom')).to.equal(null);
  });

  it('chat-room-message-list - a reader scrolled up is not moved: "N new messages" pill with the count, which scrolls down', async () => {
    const { el, client } = await mount({ messages: range(1, 100) });
    await scrollTo(log(el), log(el).scrollTop - 400);
    const anchor = messageElements(el).find((m) => m.getBoundingClientRect().top >= log(el).getBoundingClientRect().top)!;
    const before = anchor.getBoundingClientRect().top;
    client.set({ messages: range(1, 101) });
    await settle(el);
    client.set({ messages: range(1, 102) });
    await settle(el);
    expect(Math.abs(anchor.getBoundingClientRect().top - before)).to.be.below(2);
    const pill = part(el, 'new-messages')!;
    expect(pill.textContent!.trim()).to.equal('2 new messages ↓');
    pill.click();
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(part(el, 'new-messages')).to.equal(null);
  });

  it('chat-room-message-list - a scroll-to-bottom button whenever not at the bottom', async () => {
    const { el } = await mount({ messages: range(1, 100) });
    expect(part(el, 'to-bottom')).to.equal(null);
    await scrollTo(log(el), log(el).scrollTop - 300);
    await settle(el);
    const button = part(el, 'to-bottom')!;
    expect(button.getAttribute('aria-label')).to.equal('Scroll to the newest message');
    button.click();
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(part(el, 'to-bottom')).to.equal(null);
  });

  it('chat-room-message-list - own send scrolls to the bottom even when scrolled up', async () => {
    const { el, client } = await mount({ messages: range(1, 100) });
    await scrollTo(log(el), 0);
    await settle(el);
    client.send('hello');
    await settle(el);
    expect(atBottom(log(el))).to.equal(true);
    expect(messageElements(el).at(-1)!.dataset['status']).to.equal('sending');
  });

  it('chat-room-message-list - scrolling up renders older cached messages first, then asks the relay for older ones', async () => {
    const { el, client } = await mount({ messages: range(101, 200), hasOlder: true });
    expect(client.callsTo('loadOlder')).to.have.length(0);
    for (let i = 0; i < 10 && client.callsTo('loadOlder').length === 0; i++) {
      await scrollTo(log(el), 0);
      await settle(el);
    }
    expect(messageElements(el)[0]!.dataset['seq'], 'every cached message rendered before asking').to.equal('101');
    expect(client.callsTo('loadOlder').length).to.be.greaterThan(0);
  });

  it('chat-room-message-list - keeps what is on screen in place while older ones render above and an older page is prepended', async () => {
    const { el, client } = await mount({ messages: range(101, 200), hasOlder: true });
    await scrollTo(log(el), 200);
    await settle(el);
    const anchorId = messageElements(el).find((m) => m.getBoundingClientRect().top >= log(el).getBoundingClientRect().top)!.dataset['messageId'];
    const anchorTop = () =>
      messageElements(el)
        .find((m) => m.dataset['messageId'] === anchorId)!
        .getBoundingClientRect().top;
    const before = anchorTop();
    client.set({ messages: range(51, 200), hasOlder: true });
    await settle(el);
    expect(Math.abs(anchorTop() - before)).to.be.below(2);
  });

  it('chat-room-message-list - shows a loading line while older messages load, and a button to load them', async () => {
    const { el, client } = await mount({ messages: range(101, 120), hasOlder: true });
    const button = part(el, 'load-older') as HTMLButtonElement;
    const before = client.callsTo('loadOlder').length;
    button.click();
    expect(client.callsTo('loadOlder').length).to.equal(before + 1);
    client.set({ loadingOlder: true });
    await settle(el);
    expect(deep(el, 'chat-room-message-list', '[role="status"]')!.textContent).to.contain('Loading older');
  });

  it('chat-room-message-list - groups consecutive messages of one sender: one name, tight spacing; a pause or another sender starts a group', async () => {
    const carol = { id: 'carol', name: 'Carol' };
    const t0 = Date.UTC(2025, 0, 1, 12, 0, 0);
    const { el } = await mount({
      messages: [
        message(1, { ts: t0 }),
        message(2, { ts: t0 + 60_000 }),
        message(3, { ts: t0 + 60_000 * 8 }),
        message(4, { from: carol, ts: t0 + 60_000 * 9 }),
        message(5, { own: true, ts: t0 + 60_000 * 10 }),
        message(6, { own: true, ts: t0 + 60_000 * 11 }),
      ],
    });
    const elements = messageElements(el);
    const senders = elements.map((m) => deep(m, '[part="sender"]')?.textContent ?? null);
    expect(senders).to.deep.equal(['Bob', null, 'Bob', 'Carol', null, null]);
    expect(elements.map((m) => m.hasAttribute('grouped'))).to.deep.equal([false, true, false, false, false, true]);
  });

  it('chat-room-message-list - day separators: Today, Yesterday, then the date', async () => {
    const now = new Date();
    const today = new Date(now.getFullYear(), now.getMonth(), now.getDate(), 0, 30).getTime();
    const day = 86_400_000;
    const { el } = await mount({
      messages: [
        message(1, { ts: today - 3 * day }),
        message(2, { ts: today - day }),
        message(3, { ts: today - day + 60_000 }),
        message(4, { ts: today }),
      ],
    });
    const days = deepAll(el, 'chat-room-message-list', '[part="day"]').map((d) => d.textContent!.trim());
    expect(days).to.have.length(3);
    expect(days.slice(1)).to.deep.equal(['Yesterday', 'Today']);
    expect(days[0]).to.equal(el.locale.day(today - 3 * day));
    // In the element's language.
    el.lang = 'de';
    await waitUntil(() => deepAll(el, 'chat-room-message-list', '[part="day"]').at(-1)?.textContent?.trim() === 'Heute', 'not German');
  });

  it('chat-room-message-list - a quote pointing to a message outside the rendered window brings it on screen', async () => {
    const { el } = await mount({ messages: range(1, 300) });
    expect(messageElements(el).some((m) => m.dataset['seq'] === '10')).to.equal(false);
    const last = messageElements(el).at(-1)!;
    const event = new CustomEvent('chat-room-show-message', { detail: { id: 'm10' }, bubbles: true, composed: true, cancelable: true });
    last.dispatchEvent(event);
    expect(event.defaultPrevented).to.equal(true);
    await waitUntil(() => messageElements(el).some((m) => m.dataset['seq'] === '10'), 'not rendered');
    await settle(el);
    const target = messageElements(el).find((m) => m.dataset['seq'] === '10')!;
    const box = log(el).getBoundingClientRect();
    const at = target.getBoundingClientRect();
    expect(at.top).to.be.within(box.top, box.bottom);
  });

  it('chat-room-message-list - a quote pointing to a message not loaded yet loads older pages until it is there', async () => {
    const { el, client } = await mount({ messages: range(101, 150), hasOlder: true });
    client.loadOlder = async () => {
      const oldest = client.snapshot.messages[0]!.seq!;
      client.set({ messages: [...range(oldest - 20, oldest - 1), ...client.snapshot.messages], hasOlder: oldest - 20 > 1 });
    };
    const list = deep(el, 'chat-room-message-list') as HTMLElement & { showMessage(id: string): Promise<boolean> };
    expect(await list.showMessage('m42')).to.equal(true);
    await settle(el);
    const target = messageElements(el).find((m) => m.dataset['seq'] === '42')!;
    const box = log(el).getBoundingClientRect();
    expect(target.getBoundingClientRect().top).to.be.within(box.top, box.bottom);
    expect(await list.showMessage('nope')).to.equal(false);
  });
});
