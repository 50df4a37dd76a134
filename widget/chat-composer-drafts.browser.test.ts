import { expect, fixture, html } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { FakeClient } from './test/fake-client.js';
import { deep, mount, settle } from './test/helpers.js';
import { beforeEach, describe, it } from './test/mocha.js';
import type { ChatRoom } from './chat-room.js';
import type { ChatComposer } from './chat-composer.js';

const KEY = 'chat-room:draft:ws://relay.test/ws|c1';

function input(el: ChatRoom): HTMLTextAreaElement {
  return deep<HTMLTextAreaElement>(el, 'chat-room-composer', 'textarea')!;
}

describe('chat-room-composer drafts and states', () => {
  beforeEach(() => {
    localStorage.clear();
  });

  it('drafts - unsent text is kept per relay and conversation across a reload, and removed once sent', async () => {
    const first = await mount();
    first.el.focus();
    await sendKeys({ type: 'half a thought' });
    // Removing the element (a reload, a page change) saves at once, without waiting for the debounce.
    first.el.remove();
    expect(localStorage.getItem(KEY)).to.equal('half a thought');

    const again = await mount();
    expect(input(again.el).value).to.equal('half a thought');
    again.el.focus();
    await sendKeys({ press: 'Enter' });
    expect(again.client.callsTo('send').map(([text]) => text)).to.deep.equal(['half a thought']);
    expect(localStorage.getItem(KEY)).to.equal(null);
    again.el.remove();
    const third = await mount();
    expect(input(third.el).value).to.equal('');
  });

  it('drafts - switching conversation saves one draft and shows the other', async () => {
    localStorage.setItem('chat-room:draft:ws://relay.test/ws|c2', 'for c2');
    const { el } = await mount();
    el.focus();
    await sendKeys({ type: 'for c1' });
    el.conversation = 'c2';
    await settle(el);
    expect(input(el).value).to.equal('for c2');
    expect(localStorage.getItem(KEY)).to.equal('for c1');
    el.conversation = 'c1';
    await settle(el);
    expect(input(el).value).to.equal('for c1');
  });

  it('drafts - a page without storage still chats (nothing kept)', async () => {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = () => {
      throw new DOMException('quota', 'QuotaExceededError');
    };
    try {
      const { el, client } = await mount();
      el.focus();
      await sendKeys({ type: 'still works' });
      el.remove();
      const again = await mount();
      expect(input(again.el).value).to.equal('');
      again.el.focus();
      await sendKeys({ type: 'x' });
      await sendKeys({ press: 'Enter' });
      expect(client.callsTo('send')).to.have.length(0);
      expect(again.client.callsTo('send').map(([text]) => text)).to.deep.equal(['x']);
    } finally {
      Storage.prototype.setItem = setItem;
    }
  });

  it('disabled - the room can turn the composer off: no typing, sending or attaching, and it says why', async () => {
    const { el, client } = await mount();
    const composer = deep<ChatComposer>(el, 'chat-room-composer')!;
    composer.disabled = true;
    await settle(el);
    expect(composer.hasAttribute('disabled')).to.equal(true);
    expect(input(el).disabled).to.equal(true);
    expect(input(el).placeholder).to.equal('You cannot write here.');
    expect(deep<HTMLButtonElement>(el, 'chat-room-composer', '[part="send-button"]')!.disabled).to.equal(true);
    expect(deep<HTMLButtonElement>(el, 'chat-room-composer', '[part="attach-button"]')!.disabled).to.equal(true);
    composer.uploadFiles([new File(['a'], 'a.txt')]);
    expect(client.callsTo('upload')).to.have.length(0);
    composer.disabled = false;
    await settle(el);
    expect(input(el).disabled).to.equal(false);
    expect(input(el).placeholder).to.equal('Write a message…');
  });

  it('text direction - the text box and message texts follow their content (dir=auto)', async () => {
    const { el } = await mount({ messages: [{ id: 'm1', conv: 'c1', seq: 1, from: { id: 'bob', name: 'Bob' }, text: 'שלום', ts: 1, own: false }] });
    expect(input(el).getAttribute('dir')).to.equal('auto');
    const text = deep(el, 'chat-room-message-list', 'chat-room-message', '[part="text"]')!;
    expect(text.getAttribute('dir')).to.equal('auto');
    expect(getComputedStyle(text).direction).to.equal('rtl');
  });

  it('drafts - a composer outside <chat-room> (no relay attribute) still works', async () => {
    const client = new FakeClient();
    const { ContextProvider } = await import('@lit/context');
    const { clientContext } = await import('./context.js');
    const host = await fixture<HTMLDivElement>(html`<div></div>`);
    new ContextProvider(host, { context: clientContext, initialValue: client });
    const composer = document.createElement('chat-room-composer');
    host.append(composer);
    await settle(host);
    composer.focus();
    await sendKeys({ type: 'loose' });
    await sendKeys({ press: 'Enter' });
    expect(client.callsTo('send').map(([text]) => text)).to.deep.equal(['loose']);
  });
});
