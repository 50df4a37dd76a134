import { expect, fixture, html, oneEvent, waitUntil } from '@open-wc/testing';
import { sendKeys, setViewport } from '@web/test-runner-commands';
import './index.js';
import type { ChatRoom } from './chat-room.js';
import type { ChatClientOptions, ChatSnapshot } from './client/index.js';
import { FakeClient, message } from './test/fake-client.js';
import { deep, deepActiveElement, settle } from './test/helpers.js';
import { afterEach, describe, it } from './test/mocha.js';

async function mountLauncher(
  snapshot: Partial<ChatSnapshot> = {},
  attributes: { heading?: string; side?: string } = {},
): Promise<{ el: ChatRoom; client: FakeClient }> {
  const clients: FakeClient[] = [];
  const factory = (options: ChatClientOptions) => {
    const client = new FakeClient(options, snapshot);
    clients.push(client);
    return client;
  };
  const el = await fixture<ChatRoom>(
    html`<chat-room
      launcher
      relay="ws://relay.test/ws"
      conversation="c1"
      user="alice"
      heading=${attributes.heading ?? ''}
      side=${attributes.side ?? 'end'}
      .clientFactory=${factory}
    ></chat-room>`,
  );
  await settle(el);
  return { el, client: clients[0]! };
}

const button = (el: ChatRoom) => deep<HTMLButtonElement>(el, '[part="launcher"]')!;
const panel = (el: ChatRoom) => deep(el, '[part="panel"]')!;
const textarea = (el: ChatRoom) => deep<HTMLTextAreaElement>(el, 'chat-room-composer', 'textarea')!;
const shown = (element: Element) => element.checkVisibility();

describe('chat-room launcher', () => {
  afterEach(async () => {
    await setViewport({ width: 800, height: 600 });
  });

  it('launcher - a floating button; the panel opens on click with focus inside, Escape closes it and focus returns', async () => {
    const { el } = await mountLauncher({ messages: [message(1)] });
    expect(getComputedStyle(el).position).to.equal('fixed');
    expect(button(el).getAttribute('aria-expanded')).to.equal('false');
    expect(button(el).getAttribute('aria-label')).to.equal('Open chat');
    expect(shown(panel(el))).to.equal(false);
    setTimeout(() => button(el).click());
    const opened = await oneEvent(el, 'chat-room-toggle');
    expect(opened.detail.open).to.equal(true);
    await settle(el);
    expect(el.open).to.equal(true);
    expect(shown(panel(el))).to.equal(true);
    expect(panel(el).getAttribute('role')).to.equal('dialog');
    expect(button(el).getAttribute('aria-expanded')).to.equal('true');
    expect(deepActiveElement()).to.equal(textarea(el));
    await sendKeys({ press: 'Escape' });
    await settle(el);
    expect(el.open).to.equal(false);
    expect(shown(panel(el))).to.equal(false);
    expect(deepActiveElement()).to.equal(button(el));
  });

  it('launcher - the header names the chat and who is online; its close button closes the panel', async () => {
    const { el, client } = await mountLauncher({}, { heading: 'Support' });
    el.show();
    await settle(el);
    expect(deep(el, '[part="title"]')!.textContent).to.equal('Support');
    expect(deep(el, '[part="online"]')).to.equal(null);
    client.set({
      members: [
        { id: 'alice', name: 'Alice', delivered: 0, read: 0, online: true },
        { id: 'bob', name: 'Bob', delivered: 0, read: 0, online: true },
        { id: 'carol', name: 'Carol', delivered: 0, read: 0, online: false },
      ] as ChatSnapshot['members'],
    });
    await settle(el);
    expect(deep(el, '[part="online"]')!.textContent).to.equal('1 online');
    deep<HTMLButtonElement>(el, '[part="close-button"]')!.click();
    await settle(el);
    expect(el.open).to.equal(false);
  });

  it('launcher - the badge counts unread messages; chat-room-unread fires at load and on every change', async () => {
    const counts: number[] = [];
    document.addEventListener('chat-room-unread', (event) => counts.push((event as CustomEvent<{ unread: number }>).detail.unread));
    const { el, client } = await mountLauncher({ unread: 2 } as Partial<ChatSnapshot>);
    expect(el.unread).to.equal(2);
    expect(deep(el, '[part="badge"]')!.textContent).to.equal('2');
    expect(button(el).getAttribute('aria-label')).to.equal('Open chat: 2 unread messages');
    client.set({ unread: 12 } as Partial<ChatSnapshot>);
    await settle(el);
    expect(deep(el, '[part="badge"]')!.textContent).to.equal('9+');
    client.set({ unread: 0 } as Partial<ChatSnapshot>);
    await settle(el);
    expect(deep(el, '[part="badge"]')).to.equal(null);
    expect(counts).to.deep.equal([2, 12, 0]);
  });

  it('launcher - a closed panel loads no history; opening it opens at the newest message', async () => {
    const messages = Array.from({ length: 30 }, (_, i) => message(i + 1));
    const { el, client } = await mountLauncher({ messages, hasOlder: true });
    await settle(el);
    expect(client.callsTo('loadOlder')).to.deep.equal([]);
    expect(client.callsTo('markRead')).to.deep.equal([]);
    el.show();
    await settle(el);
    const log = deep(el, 'chat-room-message-list', '[part="list"]')!;
    expect(log.scrollHeight - log.scrollTop - log.clientHeight).to.be.below(2);
    await waitUntil(() => client.callsTo('markRead').length > 0, 'nothing read once open');
  });

  it('launcher - below 480 px the open panel takes the whole screen', async () => {
    await setViewport({ width: 375, height: 640 });
    const { el } = await mountLauncher();
    el.show();
    await settle(el);
    const box = panel(el).getBoundingClientRect();
    expect(box.left).to.equal(0);
    expect(box.top).to.equal(0);
    expect(box.width).to.equal(375);
    expect(box.height).to.equal(640);
    expect(shown(button(el)), 'the panel has its own close button').to.equal(false);
  });

  it('launcher - side="start" puts it in the other corner, mirrored under RTL', async () => {
    const { el } = await mountLauncher({}, { side: 'start' });
    const left = button(el).getBoundingClientRect().left;
    expect(left).to.be.below(100);
    el.side = 'end';
    await settle(el);
    expect(button(el).getBoundingClientRect().left).to.be.above(600);
    el.lang = 'he';
    el.dir = 'rtl';
    await waitUntil(() => button(el).getAttribute('aria-label') === 'פתיחת הצ׳אט', 'not Hebrew');
    expect(button(el).getBoundingClientRect().left, 'end is the left in RTL').to.be.below(100);
  });

  it('launcher - a page rule sizing chat-room neither moves the button nor blocks the page around it', async () => {
    const style = document.createElement('style');
    style.textContent = 'chat-room { height: 30rem; width: 100%; }';
    document.head.append(style);
    try {
      const { el } = await mountLauncher();
      const box = button(el).getBoundingClientRect();
      expect(window.innerHeight - box.bottom).to.be.within(19, 21);
      const hit = document.elementFromPoint(box.left - 30, box.top - 60);
      expect(hit).to.not.equal(el);
      expect(document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2)).to.equal(el);
    } finally {
      style.remove();
    }
  });

  it('launcher - accessible closed and open', async () => {
    const { el } = await mountLauncher({ messages: [message(1)], unread: 1 } as Partial<ChatSnapshot>);
    await expect(el).to.be.accessible();
    el.show();
    await settle(el);
    await expect(el).to.be.accessible();
  });
});

describe('chat-room notify', () => {
  const title = document.title;
  afterEach(() => {
    document.title = title;
  });

  it('notify - the page title counts unread messages, and goes back when they are read', async () => {
    document.title = 'Support';
    const clients: FakeClient[] = [];
    const el = await fixture<ChatRoom>(
      html`<chat-room
        notify
        relay="ws://relay.test/ws"
        conversation="c1"
        user="alice"
        .clientFactory=${(options: ChatClientOptions) => {
          const client = new FakeClient(options, { unread: 3 } as Partial<ChatSnapshot>);
          clients.push(client);
          return client;
        }}
      ></chat-room>`,
    );
    await settle(el);
    expect(document.title).to.equal('(3) Support');
    clients[0]!.set({ unread: 0 } as Partial<ChatSnapshot>);
    await settle(el);
    expect(document.title).to.equal('Support');
  });

  it('notify - a desktop notification only while the page is hidden; permission asked only from a gesture in the widget', async () => {
    const shown: { title: string; body: string | undefined }[] = [];
    let asked = 0;
    class FakeNotification {
      static permission: NotificationPermission = 'default';
      static requestPermission(): Promise<NotificationPermission> {
        asked++;
        FakeNotification.permission = 'granted';
        return Promise.resolve('granted');
      }
      onclick: (() => void) | null = null;
      constructor(title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body });
      }
      close(): void {}
    }
    const native = Object.getOwnPropertyDescriptor(window, 'Notification');
    Object.defineProperty(window, 'Notification', { configurable: true, writable: true, value: FakeNotification });
    const clients: FakeClient[] = [];
    try {
      const el = await fixture<ChatRoom>(
        html`<chat-room
          notify
          relay="ws://relay.test/ws"
          conversation="c1"
          user="alice"
          .clientFactory=${(options: ChatClientOptions) => {
            const client = new FakeClient(options);
            clients.push(client);
            return client;
          }}
        ></chat-room>`,
      );
      await settle(el);
      expect(asked, 'nothing asked on load').to.equal(0);
      el.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
      expect(asked).to.equal(1);
      clients[0]!.emit({ type: 'message', message: message(7, { text: 'visible page' }) });
      expect(shown, 'no notification while the page is visible').to.deep.equal([]);
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      clients[0]!.emit({ type: 'message', message: message(8, { text: 'Are you there?' }) });
      expect(shown).to.deep.equal([{ title: 'New message from Bob', body: 'Are you there?' }]);
    } finally {
      delete (document as unknown as Record<string, unknown>)['visibilityState'];
      if (native) Object.defineProperty(window, 'Notification', native);
    }
  });

  it('notify - without the attribute the title is left alone', async () => {
    document.title = 'Support';
    const el = await fixture<ChatRoom>(
      html`<chat-room
        relay="ws://relay.test/ws"
        conversation="c1"
        user="alice"
        .clientFactory=${(options: ChatClientOptions) => new FakeClient(options, { unread: 3 } as Partial<ChatSnapshot>)}
      ></chat-room>`,
    );
    await settle(el);
    expect(el.unread).to.equal(3);
    expect(document.title).to.equal('Support');
  });
});
