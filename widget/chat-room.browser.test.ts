import { expect, oneEvent } from '@open-wc/testing';
import { emulateMedia } from '@web/test-runner-commands';
import { message } from './test/fake-client.js';
import { deep, deepAll, filesOf, messageElements, mount, settle } from './test/helpers.js';
import { afterEach, describe, it } from './test/mocha.js';

describe('chat-room', () => {
  afterEach(async () => {
    await emulateMedia({ colorScheme: 'light' });
  });

  it('chat-room - renders one element per message with data-message-id, data-seq and data-status for own ones', async () => {
    const { el } = await mount({
      messages: [message(1), message(2, { own: true, status: 'delivered' }), message(3)],
    });
    const elements = messageElements(el);
    expect(elements.map((e) => e.dataset['messageId'])).to.deep.equal(['m1', 'm2', 'm3']);
    expect(elements.map((e) => e.dataset['seq'])).to.deep.equal(['1', '2', '3']);
    expect(elements.map((e) => e.dataset['status'] ?? null)).to.deep.equal([null, 'delivered', null]);
    expect(deep(elements[0]!, '.text')?.textContent).to.equal('message 1');
  });

  it('chat-room - an unacked own message has no data-seq but data-status sending', async () => {
    const { el } = await mount({
      messages: [message(1), { ...message(0, { own: true, status: 'sending' }), id: 'local-1', seq: undefined }],
    });
    const last = messageElements(el)[1]!;
    expect(last.dataset['messageId']).to.equal('local-1');
    expect(last.hasAttribute('data-seq')).to.equal(false);
    expect(last.dataset['status']).to.equal('sending');
  });

  it('chat-room - own messages show ✓ sent, ✓✓ delivered and accent ✓✓ read with the readers in the title', async () => {
    const { el } = await mount({
      messages: [
        message(1, { own: true, status: 'sent' }),
        message(2, { own: true, status: 'delivered' }),
        message(3, { own: true, status: 'read', readBy: ['Bob', 'Carol'] }),
      ],
    });
    const [sent, delivered, read] = messageElements(el).map((m) => deep(m, '[part="status"]')!);
    expect(sent!.querySelector('[aria-hidden]')!.textContent).to.equal('✓');
    expect(delivered!.querySelector('[aria-hidden]')!.textContent).to.equal('✓✓');
    expect(read!.querySelector('[aria-hidden]')!.textContent).to.equal('✓✓');
    expect(read!.title).to.equal('Read by Bob and Carol');
    expect(getComputedStyle(read!).color).to.not.equal(getComputedStyle(delivered!).color);
    expect(getComputedStyle(read!).color).to.equal(getComputedStyle(deep(el, 'chat-room-composer', '.send')!).backgroundColor);
  });

  it('chat-room - ticks follow status changes of the same message', async () => {
    const { el, client } = await mount({ messages: [message(1, { own: true, status: 'sent' })] });
    client.set({ messages: [message(1, { own: true, status: 'read', readBy: ['Bob'] })] });
    await settle(el);
    const [element] = messageElements(el);
    expect(element!.dataset['status']).to.equal('read');
    expect(deep(element!, '[part="status"]')!.title).to.equal('Read by Bob');
  });

  it('chat-room - a failed message shows why and offers retry and discard', async () => {
    const { el, client } = await mount({
      messages: [message(1, { own: true, status: 'failed', error: { code: 'forbidden' } })],
    });
    const [element] = messageElements(el);
    expect(element!.dataset['status']).to.equal('failed');
    expect(deep(element!, '.error')!.textContent).to.equal('not allowed here');
    deep<HTMLButtonElement>(element!, '[part="retry-button"]')!.click();
    expect(client.callsTo('retry')).to.deep.equal([['m1']]);
    const discard = deepAll<HTMLButtonElement>(element!, 'button').find((b) => b.textContent === 'Discard');
    discard!.click();
    expect(client.callsTo('discard')).to.deep.equal([['m1']]);
  });

  it('chat-room - images show a thumbnail, other files a download link with name and size', async () => {
    const { el } = await mount({
      messages: [
        message(1, { text: undefined, file: { url: '/files/img1', name: 'cat.png', size: 2048, type: 'image/png' } }),
        message(2, { text: undefined, file: { url: '/files/doc1', name: 'notes.pdf', size: 1536, type: 'application/pdf' } }),
      ],
    });
    const [image, doc] = messageElements(el);
    const img = deep<HTMLImageElement>(image!, 'img')!;
    expect(img.getAttribute('src')).to.equal('http://relay.test/files/img1');
    expect(img.alt).to.equal('cat.png');
    const link = deep<HTMLAnchorElement>(doc!, '[part="file-link"]')!;
    expect(link.getAttribute('href')).to.equal('http://relay.test/files/doc1');
    expect(link.textContent).to.contain('notes.pdf');
    expect(deep(doc!, '.size')!.textContent).to.equal('(1.5 KiB)');
  });

  it('chat-room - typing line names one or two typists and counts more', async () => {
    const { el, client } = await mount();
    const line = () => deep(el, 'chat-room-typing', '[part="typing"]')!.textContent;
    expect(line()).to.equal('');
    client.set({ typing: [{ id: 'bob', name: 'Bob' }] });
    await settle(el);
    expect(line()).to.equal('Bob is typing…');
    client.set({ typing: [{ id: 'bob', name: 'Bob' }, { id: 'carol', name: 'Carol' }] });
    await settle(el);
    expect(line()).to.equal('Bob and Carol are typing…');
    client.set({ typing: [{ id: 'bob', name: 'Bob' }, { id: 'carol', name: 'Carol' }, { id: 'dan', name: 'Dan' }] });
    await settle(el);
    expect(line()).to.equal('3 people are typing…');
    client.set({ typing: [] });
    await settle(el);
    expect(line()).to.equal('');
  });

  it('chat-room - upload progress shows a bar and cancels', async () => {
    const { el, client } = await mount({
      uploads: [{ id: 'u1', name: 'big.bin', size: 1024, loaded: 512, state: 'uploading' }],
    });
    const bar = deep<HTMLProgressElement>(el, 'chat-room-uploads', 'progress')!;
    expect(bar.max).to.equal(1024);
    expect(bar.value).to.equal(512);
    expect(deep(el, 'chat-room-uploads', '.figure')!.textContent).to.equal('50% of 1 KiB');
    client.set({ uploads: [{ id: 'u1', name: 'big.bin', size: 1024, loaded: 900, state: 'uploading' }] });
    await settle(el);
    expect(deep<HTMLProgressElement>(el, 'chat-room-uploads', 'progress')!.value).to.equal(900);
    deepAll<HTMLButtonElement>(el, 'chat-room-uploads', 'button').find((b) => b.textContent === 'Cancel')!.click();
    expect(client.callsTo('cancelUpload')).to.deep.equal([['u1']]);
  });

  it('chat-room - an upload waiting for the connection says so and can be cancelled', async () => {
    const { el, client } = await mount({ uploads: [{ id: 'u1', name: 'later.pdf', size: 2048, loaded: 0, state: 'waiting' }] });
    const item = deep(el, 'chat-room-uploads', '[part="upload"]')!;
    expect(item.dataset['state']).to.equal('waiting');
    expect(item.querySelector('[role="status"]')!.textContent).to.equal('Waiting for the connection to upload');
    expect(deep(el, 'chat-room-uploads', 'progress')).to.not.exist;
    [...item.querySelectorAll('button')].find((b) => b.textContent === 'Cancel')!.click();
    expect(client.callsTo('cancelUpload')).to.deep.equal([['u1']]);
  });

  it('chat-room - a failed upload that a retry can fix offers Retry and Dismiss; finished ones disappear', async () => {
    const { el, client } = await mount({
      uploads: [
        { id: 'u1', name: 'big.iso', size: 99e6, loaded: 0, state: 'failed', error: { code: 'upload_network' } },
        { id: 'u2', name: 'done.txt', size: 10, loaded: 10, state: 'done' },
      ],
    });
    const items = deepAll(el, 'chat-room-uploads', '[part="upload"]');
    expect(items.map((i) => i.dataset['uploadId'])).to.deep.equal(['u1']);
    expect(items[0]!.querySelector('[role="alert"]')!.textContent).to.equal('network error: the file could not be uploaded');
    const buttons = [...items[0]!.querySelectorAll('button')];
    buttons.find((b) => b.textContent === 'Retry')!.click();
    buttons.find((b) => b.textContent === 'Dismiss')!.click();
    expect(client.callsTo('retryUpload')).to.deep.equal([['u1']]);
    expect(client.callsTo('dismissUpload')).to.deep.equal([['u1']]);
  });

  it('chat-room - a file over the limit says so in binary units (25 MiB) and offers no pointless Retry', async () => {
    const { el } = await mount({
      uploads: [
        { id: 'u1', name: 'huge.iso', size: 99e6, loaded: 0, state: 'failed', error: { code: 'file_too_large', params: { maxBytes: 25 * 1024 * 1024, name: 'huge.iso' } } },
      ],
    });
    const [item] = deepAll(el, 'chat-room-uploads', '[part="upload"]');
    expect(item!.querySelector('[role="alert"]')!.textContent).to.equal('huge.iso: file is larger than 25 MiB');
    expect([...item!.querySelectorAll('button')].map((b) => b.textContent)).to.deep.equal(['Dismiss']);
  });

  it('chat-room - banner for offline, reconnecting and back online', async () => {
    const { el, client } = await mount();
    const banner = () => deep(el, 'chat-room-connection', '[part="banner"]')!;
    expect(banner().textContent).to.equal('');
    client.set({ connection: 'offline' });
    await settle(el);
    expect(banner().dataset['connection']).to.equal('offline');
    expect(banner().textContent).to.contain('offline');
    client.set({ connection: 'reconnecting' });
    await settle(el);
    expect(banner().textContent).to.contain('Reconnecting');
    client.set({ connection: 'open' });
    await settle(el);
    expect(banner().dataset['connection']).to.equal('online');
    expect(banner().textContent).to.contain('Back online');
  });

  it('chat-room - changing conversation disposes the old client and renders the new one', async () => {
    const { el, clients } = await mount({ messages: [message(1)] });
    const [first] = clients;
    el.conversation = 'c2';
    await settle(el);
    expect(clients.length).to.equal(2);
    const second = clients[1]!;
    expect(first!.disposed).to.equal(true);
    expect(first!.listenerCount).to.equal(0);
    expect(second.options.conversation).to.equal('c2');
    expect(second.options.user).to.equal('alice');
    expect(second.started).to.equal(true);
    expect(messageElements(el)).to.have.length(0);
    second.set({ messages: [message(7)] });
    first!.set({ messages: [message(1), message(2)] });
    await settle(el);
    expect(messageElements(el).map((m) => m.dataset['seq'])).to.deep.equal(['7']);
  });

  it('chat-room - removing the element disposes its client; adding it back makes a new one', async () => {
    const { el, clients } = await mount();
    const parent = el.parentElement!;
    el.remove();
    expect(clients[0]!.disposed).to.equal(true);
    parent.append(el);
    await settle(el);
    expect(clients).to.have.length(2);
    expect(clients[1]!.started).to.equal(true);
  });

  it('chat-room - re-dispatches client events as bubbling, composed DOM events', async () => {
    const { el, client } = await mount();
    const incoming = message(5);
    setTimeout(() => client.emit({ type: 'message', message: incoming }));
    const messageEvent = await oneEvent(document, 'chat-room-message');
    expect(messageEvent.detail.message).to.equal(incoming);
    expect(messageEvent.composed).to.equal(true);
    setTimeout(() => client.emit({ type: 'status', connection: 'offline' }));
    const statusEvent = await oneEvent(el, 'chat-room-status');
    expect(statusEvent.detail.connection).to.equal('offline');
    setTimeout(() => client.emit({ type: 'error', code: 'forbidden', messageId: 'm9' }));
    const errorEvent = await oneEvent(document, 'chat-room-error');
    expect(errorEvent.detail).to.deep.equal({ code: 'forbidden', message: 'not allowed here', messageId: 'm9' });
    expect(el.refusal, 'an error about one message refuses nothing').to.equal(null);
  });

  it('chat-room - without relay or conversation it makes no client and says what is missing', async () => {
    const { el, clients } = await mount();
    el.relay = '';
    await settle(el);
    expect(clients[0]!.disposed).to.equal(true);
    expect(clients).to.have.length(1);
    expect(deep(el, '.hint')!.textContent).to.contain('relay');
  });

  it('chat-room - dropped files are uploaded', async () => {
    const { el, client } = await mount();
    const file = new File(['hello'], 'hello.txt', { type: 'text/plain' });
    el.dispatchEvent(new DragEvent('dragenter', { dataTransfer: filesOf(file), bubbles: true, cancelable: true }));
    await settle(el);
    expect(deep(el, '[part="drop-zone"]')).to.not.equal(null);
    const drop = new DragEvent('drop', { dataTransfer: filesOf(file), bubbles: true, cancelable: true });
    el.dispatchEvent(drop);
    await settle(el);
    expect(drop.defaultPrevented).to.equal(true);
    expect(deep(el, '[part="drop-zone"]')).to.equal(null);
    const [[uploaded]] = client.callsTo('upload') as [[File]];
    expect(uploaded.name).to.equal('hello.txt');
  });

  it('chat-room - custom properties and parts theme the inner elements', async () => {
    const { el } = await mount({ messages: [message(1, { own: true, status: 'read' })] });
    const style = document.createElement('style');
    style.textContent = 'chat-room::part(bubble) { border-radius: 3px; } chat-room::part(send-button) { color: rgb(1, 2, 3); }';
    document.head.append(style);
    try {
      el.style.setProperty('--chat-room-accent', 'rgb(200, 0, 0)');
      const [element] = messageElements(el);
      expect(getComputedStyle(deep(element!, '[part="status"]')!).color).to.equal('rgb(200, 0, 0)');
      expect(getComputedStyle(deep(element!, '[part="bubble"]')!).borderTopLeftRadius).to.equal('3px');
      expect(getComputedStyle(deep(el, 'chat-room-composer', '[part="send-button"]')!).color).to.equal('rgb(1, 2, 3)');
    } finally {
      style.remove();
    }
  });

  it('chat-room - theme: light by default whatever the system says; dark on request; auto follows the system', async () => {
    const { el } = await mount();
    const light = getComputedStyle(el).backgroundColor;
    await emulateMedia({ colorScheme: 'dark' });
    await settle(el);
    expect(el.theme).to.equal('light');
    expect(getComputedStyle(el).backgroundColor, 'a light host page keeps a light widget').to.equal(light);
    el.theme = 'auto';
    await settle(el);
    const dark = getComputedStyle(el).backgroundColor;
    expect(dark).to.not.equal(light);
    await emulateMedia({ colorScheme: 'light' });
    await settle(el);
    expect(getComputedStyle(el).backgroundColor).to.equal(light);
    el.setAttribute('theme', 'dark');
    await settle(el);
    expect(getComputedStyle(el).backgroundColor).to.equal(dark);
  });

  it('chat-room - accessible with messages, receipts, uploads, typing and banner (light and dark)', async () => {
    const { el } = await mount({
      connection: 'offline',
      firstUnreadSeq: 3,
      hasOlder: true,
      messages: [
        message(1),
        message(2, { own: true, status: 'read', readBy: ['Bob'] }),
        message(3, { file: { url: '/files/a', name: 'a.png', size: 10, type: 'image/png' } }),
        message(4, { file: { url: '/files/b', name: 'b.zip', size: 10, type: 'application/zip' } }),
        { ...message(0, { own: true, status: 'failed', error: { code: 'text_too_long', params: { max: 10 } } }), id: 'x', seq: undefined },
      ],
      typing: [{ id: 'bob', name: 'Bob' }],
      uploads: [
        { id: 'u1', name: 'big.bin', size: 100, loaded: 30, state: 'uploading' },
        { id: 'u2', name: 'bad.bin', size: 100, loaded: 0, state: 'failed', error: { code: 'upload_network' } },
      ],
    });
    await expect(el).to.be.accessible();
    el.theme = 'dark';
    await settle(el);
    await expect(el).to.be.accessible();
  });

  it('chat-room - the message list is a polite, labelled, focusable log', async () => {
    const { el } = await mount();
    const list = deep(el, 'chat-room-message-list', '[part="list"]')!;
    expect(list.getAttribute('role')).to.equal('log');
    expect(list.getAttribute('aria-live')).to.equal('polite');
    expect(list.getAttribute('aria-label')).to.equal('Messages');
    expect(list.tabIndex).to.equal(0);
  });
});
