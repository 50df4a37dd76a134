import { expect } from '@open-wc/testing';
import { sendKeys } from '@web/test-runner-commands';
import { deep, deepActiveElement, filesOf, mount, settle } from './test/helpers.js';
import { beforeEach, describe, it } from './test/mocha.js';

describe('chat-room-composer', () => {
  beforeEach(() => {
    // Drafts survive in localStorage: one test's unsent text must not turn up in the next.
    localStorage.clear();
  });

  it('chat-room-composer - Enter sends the text and clears the box; Shift+Enter adds a line', async () => {
    const { el, client } = await mount();
    el.focus();
    await sendKeys({ type: 'first line' });
    await sendKeys({ down: 'Shift' });
    await sendKeys({ press: 'Enter' });
    await sendKeys({ up: 'Shift' });
    await sendKeys({ type: 'second line' });
    const input = deep<HTMLTextAreaElement>(el, 'chat-room-composer', 'textarea')!;
    expect(input.value).to.equal('first line\nsecond line');
    expect(client.callsTo('send')).to.have.length(0);
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(client.callsTo('send').map(([text]) => text)).to.deep.equal(['first line\nsecond line']);
    expect(input.value).to.equal('');
    expect(client.callsTo('stoppedTyping').length).to.be.greaterThan(0);
  });

  it('chat-room-composer - typing calls typed(), leaving the box calls stoppedTyping()', async () => {
    const { el, client } = await mount();
    el.focus();
    await sendKeys({ type: 'abc' });
    expect(client.callsTo('typed')).to.have.length(3);
    expect(client.callsTo('stoppedTyping')).to.have.length(0);
    deep<HTMLTextAreaElement>(el, 'chat-room-composer', 'textarea')!.blur();
    expect(client.callsTo('stoppedTyping')).to.have.length(1);
  });

  it('chat-room-composer - send is disabled while the text is empty or blank', async () => {
    const { el, client } = await mount();
    const send = () => deep<HTMLButtonElement>(el, 'chat-room-composer', '[part="send-button"]')!;
    expect(send().disabled).to.equal(true);
    el.focus();
    await sendKeys({ type: '   ' });
    await settle(el);
    expect(send().disabled).to.equal(true);
    await sendKeys({ press: 'Enter' });
    expect(client.callsTo('send')).to.have.length(0);
    await sendKeys({ type: 'x' });
    await settle(el);
    expect(send().disabled).to.equal(false);
    send().click();
    expect(client.callsTo('send').map(([text]) => text)).to.deep.equal(['x']);
  });

  it('chat-room-composer - respects the relay limit on text length', async () => {
    const { el, client } = await mount({ limits: { maxTextChars: 10, maxUploadBytes: 1000 } });
    el.focus();
    await sendKeys({ type: '12345678901' });
    await settle(el);
    expect(deep<HTMLButtonElement>(el, 'chat-room-composer', '[part="send-button"]')!.disabled).to.equal(true);
    expect(deep(el, 'chat-room-composer', '#counter')!.textContent).to.contain('11 / 10');
    expect(deep(el, 'chat-room-composer', 'textarea')!.getAttribute('aria-invalid')).to.equal('true');
    await sendKeys({ press: 'Enter' });
    expect(client.callsTo('send')).to.have.length(0);
    await sendKeys({ press: 'Backspace' });
    await settle(el);
    await sendKeys({ press: 'Enter' });
    expect(client.callsTo('send').map(([text]) => text)).to.deep.equal(['1234567890']);
  });

  it('chat-room-composer - pasting files uploads them instead of inserting text', async () => {
    const { el, client } = await mount();
    const input = deep<HTMLTextAreaElement>(el, 'chat-room-composer', 'textarea')!;
    const file = new File([new Uint8Array([1, 2, 3])], 'shot.png', { type: 'image/png' });
    const paste = new ClipboardEvent('paste', { clipboardData: filesOf(file), bubbles: true, cancelable: true });
    input.dispatchEvent(paste);
    expect(paste.defaultPrevented).to.equal(true);
    const [[uploaded]] = client.callsTo('upload') as [[File]];
    expect(uploaded.name).to.equal('shot.png');
  });

  it('chat-room-composer - files chosen in the picker are uploaded', async () => {
    const { el, client } = await mount();
    const picker = deep<HTMLInputElement>(el, 'chat-room-composer', 'input[type=file]')!;
    picker.files = filesOf(new File(['a'], 'a.txt'), new File(['b'], 'b.txt')).files;
    picker.dispatchEvent(new Event('change', { bubbles: true }));
    expect(client.callsTo('upload').map(([file]) => (file as File).name)).to.deep.equal(['a.txt', 'b.txt']);
  });

  it('chat-room-composer - keyboard only: Tab moves from the log to attach, to the text box; Enter sends', async () => {
    const { el, client } = await mount();
    deep(el, 'chat-room-message-list', '[role="log"]')!.focus();
    await sendKeys({ press: 'Tab' });
    expect(deepActiveElement()?.getAttribute('part')).to.equal('attach-button');
    await sendKeys({ press: 'Tab' });
    expect(deepActiveElement()?.getAttribute('part')).to.equal('input');
    await sendKeys({ type: 'hi' });
    await sendKeys({ press: 'Enter' });
    expect(client.callsTo('send').map(([text]) => text)).to.deep.equal(['hi']);
    expect(deepActiveElement()?.getAttribute('part')).to.equal('input');
  });
});
