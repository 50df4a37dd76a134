import { expect, fixture, html, waitUntil } from '@open-wc/testing';
import './index.js';
import type { ChatRoom } from './chat-room.js';
import { deep, messageElements } from './test/helpers.js';
import { describe, it } from './test/mocha.js';

async function relayUrl(): Promise<string> {
  const { wsUrl } = (await (await fetch('/__relay')).json()) as { wsUrl: string };
  return wsUrl;
}

describe('chat-room with the real client core and a relay', () => {
  it('chat-room - two elements on one page chat through the relay: text, ticks up to read', async () => {
    const relay = await relayUrl();
    const conversation = `wtr-${crypto.randomUUID()}`;
    const wrapper = await fixture<HTMLElement>(html`<div style="display: flex; gap: 8px">
      <chat-room id="alice" relay=${relay} conversation=${conversation} user="alice" name="Alice" style="height: 300px"></chat-room>
      <chat-room id="bob" relay=${relay} conversation=${conversation} user="bob" name="Bob" style="height: 300px"></chat-room>
    </div>`);
    const alice = wrapper.querySelector<ChatRoom>('#alice')!;
    const bob = wrapper.querySelector<ChatRoom>('#bob')!;
    await waitUntil(() => alice.client?.snapshot.connection === 'open' && bob.client?.snapshot.connection === 'open', 'not connected', {
      timeout: 15_000,
    });

    const input = deep<HTMLTextAreaElement>(alice, 'chat-room-composer', 'textarea')!;
    input.value = 'over the wire';
    input.dispatchEvent(new InputEvent('input', { bubbles: true, composed: true }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, composed: true, cancelable: true }));

    await waitUntil(() => messageElements(bob).length === 1, 'bob did not get the message', { timeout: 15_000 });
    const [received] = messageElements(bob);
    const [sent] = messageElements(alice);
    expect(received!.dataset['messageId']).to.equal(sent!.dataset['messageId']);
    expect(received!.dataset['seq']).to.equal('1');
    expect(deep(received!, '[part="text"]')!.textContent).to.equal('over the wire');
    await waitUntil(() => messageElements(alice)[0]?.dataset['status'] === 'read', 'never read', { timeout: 15_000 });
    expect(deep(messageElements(alice)[0]!, '[part="status"]')!.title).to.equal('Read by Bob');
  });
});

describe('chat-room sessions', () => {
  it('chat-room - two elements of one user on two conversations share one session and one WebSocket', async () => {
    const relay = await relayUrl();
    const opened: string[] = [];
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(String(url));
      }
    };
    try {
      const user = `dana-${crypto.randomUUID().slice(0, 8)}`;
      const wrapper = await fixture<HTMLElement>(html`<div>
        <chat-room id="one" relay=${relay} conversation="wtr-one-${user}" user=${user} style="height: 200px"></chat-room>
        <chat-room id="two" relay=${relay} conversation="wtr-two-${user}" user=${user} style="height: 200px"></chat-room>
      </div>`);
      const one = wrapper.querySelector<ChatRoom>('#one')!;
      const two = wrapper.querySelector<ChatRoom>('#two')!;
      await waitUntil(() => one.client?.snapshot.members.length === 1 && two.client?.snapshot.members.length === 1, 'not joined', { timeout: 15_000 });
      expect(opened.length).to.equal(1);
      one.client!.send('in one');
      await waitUntil(() => messageElements(one)[0]?.dataset['status'] === 'sent', 'not sent', { timeout: 15_000 });
      expect(messageElements(two).length).to.equal(0);
      // Removing one element keeps the session (and its socket) for the other.
      one.remove();
      two.client!.send('in two');
      await waitUntil(() => messageElements(two)[0]?.dataset['status'] === 'sent', 'not sent after the other left', { timeout: 15_000 });
      expect(opened.length).to.equal(1);
    } finally {
      window.WebSocket = Native;
    }
  });
});

describe('client core in the browser', () => {
  it('client - leaving the page (pagehide) writes the history cache at once, not after the debounce', async () => {
    const { createChatClient } = await import('./client/index.js');
    const { MemoryStorage } = await import('./client/test/memory-storage.js');
    const storage = new MemoryStorage();
    const writes: string[] = [];
    const setItem = storage.setItem.bind(storage);
    storage.setItem = (key, value) => {
      writes.push(key);
      return setItem(key, value);
    };
    const conversation = `wtr-${crypto.randomUUID()}`;
    const client = createChatClient({ relay: await relayUrl(), conversation, user: 'carol', storage });
    await client.start();
    await waitUntil(() => client.snapshot.connection === 'open', 'not connected', { timeout: 15_000 });
    client.send('remember me');
    await waitUntil(() => client.snapshot.messages[0]?.status === 'sent', 'never acked', { timeout: 15_000 });
    const before = writes.filter((key) => key.includes('history')).length;
    window.dispatchEvent(new Event('pagehide'));
    await waitUntil(() => writes.filter((key) => key.includes('history')).length > before, 'cache not written on pagehide', { timeout: 300 });
    client.dispose();
  });
});
