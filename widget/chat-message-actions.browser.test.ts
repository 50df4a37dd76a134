import { expect, oneEvent, waitUntil } from '@open-wc/testing';
import { emulateMedia, resetMouse, sendKeys, sendMouse } from '@web/test-runner-commands';
import { message } from './test/fake-client.js';
import { deep, deepActiveElement, deepAll, messageElements, mount, settle } from './test/helpers.js';
import { afterEach, beforeEach, describe, it } from './test/mocha.js';
import type { ChatRoom } from './chat-room.js';

const BOB = { id: 'bob', name: 'Bob' };
const CAROL = { id: 'carol', name: 'Carol' };
const members = [
  { id: 'alice', name: 'Alice', delivered: 0, read: 0 },
  { id: 'bob', name: 'Bob', delivered: 0, read: 0 },
  { id: 'carol', name: 'Carol', delivered: 0, read: 0 },
];

function messageEl(el: ChatRoom, id: string): HTMLElement {
  const found = messageElements(el).find((m) => m.dataset['messageId'] === id);
  if (!found) throw new Error(`no message ${id}`);
  return found;
}

function menuButton(el: ChatRoom, id: string): HTMLButtonElement | null {
  return deep<HTMLButtonElement>(messageEl(el, id), '[part="actions-button"]');
}

function menuItems(el: ChatRoom, id: string): string[] {
  return deepAll(messageEl(el, id), '[role="menu"] [role="menuitem"]').map((item) => item.dataset['action'] ?? '');
}

function activePart(): string | null {
  return deepActiveElement()?.getAttribute('data-action') ?? deepActiveElement()?.getAttribute('data-emoji') ?? deepActiveElement()?.getAttribute('part') ?? null;
}

async function openMenu(el: ChatRoom, id: string): Promise<void> {
  menuButton(el, id)!.focus();
  await sendKeys({ press: 'Enter' });
  await settle(el);
}

describe('chat-room-message actions', () => {
  beforeEach(() => {
    // Composer drafts survive in localStorage: another file's unsent text must not turn up here.
    localStorage.clear();
  });

  afterEach(async () => {
    await resetMouse();
    await emulateMedia({ colorScheme: 'light' });
  });

  it('actions - a menu button beside each live message: hidden until hover or focus, a WAI-ARIA menu button', async () => {
    const { el } = await mount({ messages: [message(1), message(2, { own: true })] });
    const button = menuButton(el, 'm1')!;
    expect(button.getAttribute('aria-haspopup')).to.equal('menu');
    expect(button.getAttribute('aria-expanded')).to.equal('false');
    expect(button.getAttribute('aria-label')).to.equal('Message actions');
    if (matchMedia('(hover: none)').matches) {
      // This headless Chromium says it has no hover (a touch screen): then the button always shows.
      expect(getComputedStyle(button).opacity).to.equal('1');
    } else {
      expect(getComputedStyle(button).opacity).to.equal('0');
      const bubble = deep(messageEl(el, 'm1'), '[part~="bubble"]')!.getBoundingClientRect();
      await sendMouse({ type: 'move', position: [Math.round(bubble.x + 5), Math.round(bubble.y + 5)] });
      await settle(el);
      expect(getComputedStyle(button).opacity).to.equal('1');
      await resetMouse();
    }
    button.focus();
    await settle(el);
    expect(getComputedStyle(button).opacity).to.equal('1');
  });

  it('actions - own messages offer reply, react, edit, delete; others reply and react; a moderator may delete any', async () => {
    const { el, client } = await mount({ messages: [message(1), message(2, { own: true })] });
    await openMenu(el, 'm2');
    expect(menuItems(el, 'm2')).to.deep.equal(['reply', 'react', 'edit', 'delete']);
    await sendKeys({ press: 'Escape' });
    await openMenu(el, 'm1');
    expect(menuItems(el, 'm1')).to.deep.equal(['reply', 'react']);
    await sendKeys({ press: 'Escape' });
    client.set({ moderator: true } as never);
    await openMenu(el, 'm1');
    expect(menuItems(el, 'm1')).to.deep.equal(['reply', 'react', 'delete']);
  });

  it('actions - keyboard: Enter opens on the first item, arrows move and wrap, Home/End, Escape closes back to the button', async () => {
    const { el } = await mount({ messages: [message(1, { own: true })] });
    await openMenu(el, 'm1');
    const button = menuButton(el, 'm1')!;
    expect(button.getAttribute('aria-expanded')).to.equal('true');
    const menu = deep(messageEl(el, 'm1'), '[role="menu"]')!;
    expect(button.getAttribute('aria-controls')).to.equal(menu.id);
    expect(activePart()).to.equal('reply');
    await sendKeys({ press: 'ArrowRight' });
    expect(activePart()).to.equal('react');
    await sendKeys({ press: 'ArrowDown' });
    expect(activePart()).to.equal('edit');
    await sendKeys({ press: 'End' });
    expect(activePart()).to.equal('delete');
    await sendKeys({ press: 'ArrowRight' });
    expect(activePart()).to.equal('reply', 'wraps to the first');
    await sendKeys({ press: 'ArrowLeft' });
    expect(activePart()).to.equal('delete', 'wraps to the last');
    await sendKeys({ press: 'Home' });
    expect(activePart()).to.equal('reply');
    await sendKeys({ press: 'Escape' });
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '[role="menu"]')).to.equal(null);
    expect(button.getAttribute('aria-expanded')).to.equal('false');
    expect(activePart()).to.equal('actions-button');
  });

  it('actions - one tab stop for all menu buttons: Tab lands on the newest, arrows and Home/End move between messages', async () => {
    const { el, client } = await mount({ messages: [message(1), message(2, { deleted: true, text: undefined } as never), message(3), message(4)] });
    const stops = () => messageElements(el).filter((m) => deep(m, '[part="actions-button"]')?.getAttribute('tabindex') === '0');
    const focusedMessage = () => messageElements(el).find((m) => m.shadowRoot!.activeElement?.getAttribute('part') === 'actions-button')?.dataset['messageId'];
    expect(stops().map((m) => m.dataset['messageId'])).to.deep.equal(['m4']);
    deep(el, 'chat-room-message-list', '[role="log"]')!.focus();
    await sendKeys({ press: 'Tab' });
    expect(focusedMessage()).to.equal('m4');
    await sendKeys({ press: 'ArrowUp' });
    expect(focusedMessage()).to.equal('m3');
    await sendKeys({ press: 'ArrowUp' });
    expect(focusedMessage(), 'the deleted message has no button: skipped').to.equal('m1');
    await sendKeys({ press: 'ArrowUp' });
    expect(focusedMessage(), 'stays at the top').to.equal('m1');
    await sendKeys({ press: 'End' });
    expect(focusedMessage()).to.equal('m4');
    await sendKeys({ press: 'Home' });
    expect(focusedMessage()).to.equal('m1');
    expect(stops().map((m) => m.dataset['messageId'])).to.deep.equal(['m1']);
    // Tab leaves the list; Shift+Tab comes back to the message the user was on.
    await sendKeys({ press: 'Tab' });
    expect(activePart()).to.equal('attach-button');
    await sendKeys({ down: 'Shift' });
    await sendKeys({ press: 'Tab' });
    await sendKeys({ up: 'Shift' });
    expect(focusedMessage()).to.equal('m1');
    // A new message does not take the stop the user chose.
    client.set({ messages: [...client.snapshot.messages, message(5)] });
    await settle(el);
    expect(stops().map((m) => m.dataset['messageId'])).to.deep.equal(['m1']);
    // The holder deleted: the newest message with a button takes it.
    client.change('m1', { deleted: true, text: undefined });
    await settle(el);
    expect(stops().map((m) => m.dataset['messageId'])).to.deep.equal(['m5']);
  });

  it('actions - a newer message takes the tab stop while the user has not chosen one', async () => {
    const { el, client } = await mount({ messages: [message(1), message(2)] });
    const stops = () => messageElements(el).filter((m) => deep(m, '[part="actions-button"]')?.getAttribute('tabindex') === '0');
    expect(stops().map((m) => m.dataset['messageId'])).to.deep.equal(['m2']);
    client.set({ messages: [...client.snapshot.messages, message(3)] });
    await settle(el);
    expect(stops().map((m) => m.dataset['messageId'])).to.deep.equal(['m3']);
  });

  it('actions - a click elsewhere or Tab away closes the menu', async () => {
    const { el } = await mount({ messages: [message(1), message(2)] });
    menuButton(el, 'm1')!.click();
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '[role="menu"]')).to.not.equal(null);
    const composer = deep(el, 'chat-room-composer', 'textarea')!.getBoundingClientRect();
    await sendMouse({ type: 'click', position: [Math.round(composer.x + 10), Math.round(composer.y + 5)] });
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '[role="menu"]')).to.equal(null);
    await openMenu(el, 'm1');
    await sendKeys({ press: 'Tab' });
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '[role="menu"]')).to.equal(null);
  });

  it('edit - inline: Enter saves through the client, Escape cancels; only own messages', async () => {
    const { el, client } = await mount({ messages: [message(1, { own: true, text: 'helo' })] });
    await openMenu(el, 'm1');
    await sendKeys({ press: 'End' });
    await sendKeys({ press: 'ArrowLeft' });
    expect(activePart()).to.equal('edit');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    const input = deep<HTMLTextAreaElement>(messageEl(el, 'm1'), '[part="edit-input"]')!;
    expect(input.value).to.equal('helo');
    expect(deepActiveElement()).to.equal(input);
    expect(menuButton(el, 'm1'), 'no menu while editing').to.equal(null);
    // Escape: nothing changes.
    await sendKeys({ type: ' there' });
    await sendKeys({ press: 'Escape' });
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '[part="edit-input"]')).to.equal(null);
    expect(deep(messageEl(el, 'm1'), '[part="text"]')!.textContent).to.equal('helo');
    expect(client.callsTo('edit')).to.have.length(0);
    expect(activePart()).to.equal('actions-button');
    // Enter: saved.
    await sendKeys({ press: 'Enter' });
    await settle(el);
    await sendKeys({ press: 'End' });
    await sendKeys({ press: 'ArrowLeft' });
    await sendKeys({ press: 'Enter' });
    await settle(el);
    await sendKeys({ press: 'Backspace' });
    await sendKeys({ press: 'Backspace' });
    await sendKeys({ type: 'llo' });
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(client.callsTo('edit')).to.deep.equal([['m1', 'hello']]);
    expect(deep(messageEl(el, 'm1'), '[part="edit-input"]')).to.equal(null);
  });

  it('edit - the Save button saves, an unchanged or blank text is not sent', async () => {
    const { el, client } = await mount({ messages: [message(1, { own: true, text: 'same' })] });
    await openMenu(el, 'm1');
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-action="edit"]')!.click();
    await settle(el);
    const save = () => deepAll<HTMLButtonElement>(messageEl(el, 'm1'), '.editor-buttons button').find((b) => b.textContent?.trim() === 'Save')!;
    save().click();
    await settle(el);
    expect(client.callsTo('edit'), 'unchanged').to.have.length(0);
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[part="actions-button"]')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-action="edit"]')!.click();
    await settle(el);
    const input = deep<HTMLTextAreaElement>(messageEl(el, 'm1'), '[part="edit-input"]')!;
    input.value = '   ';
    input.dispatchEvent(new InputEvent('input'));
    await settle(el);
    expect(save().disabled).to.equal(true);
    expect(input.getAttribute('aria-invalid')).to.equal('true');
    input.value = 'changed';
    input.dispatchEvent(new InputEvent('input'));
    await settle(el);
    save().click();
    expect(client.callsTo('edit')).to.deep.equal([['m1', 'changed']]);
  });

  it('edit - the edited marker, "saving…" while the edit is pending', async () => {
    const edited = Date.UTC(2025, 0, 1, 13, 0);
    const { el, client } = await mount({ messages: [message(1, { own: true, text: 'new text', edited, pending: ['edit'] } as never)] });
    const marker = () => deep(messageEl(el, 'm1'), '[part="edited"]')!;
    expect(marker().textContent!.trim()).to.equal('saving…');
    expect(marker().title).to.match(/^Edited at /);
    client.change('m1', { pending: [] });
    await settle(el);
    expect(marker().textContent!.trim()).to.equal('edited');
    expect(deep(messageEl(el, 'm1'), '[part="text"]')!.textContent).to.equal('new text');
  });

  it('delete - through the menu; the message becomes a tombstone without actions, text, file or reactions', async () => {
    const { el, client } = await mount({
      messages: [message(1, { own: true, reactions: [{ emoji: '👍', users: ['bob'], mine: false }] } as never), message(2)],
    });
    await openMenu(el, 'm1');
    await sendKeys({ press: 'End' });
    expect(activePart()).to.equal('delete');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(client.callsTo('delete')).to.deep.equal([['m1']]);
    // Optimistic: the core shows the tombstone at once, marked pending.
    client.change('m1', { deleted: true, text: undefined, reactions: undefined, pending: ['delete'] });
    await settle(el);
    const m1 = messageEl(el, 'm1');
    const tombstone = deep(m1, '.tombstone')!;
    expect(tombstone.textContent!.trim()).to.equal('Message deleted');
    expect(tombstone.classList.contains('pending-change')).to.equal(true);
    expect(deep(m1, '[part~="bubble"]')!.getAttribute('part')).to.equal('bubble tombstone');
    expect(deep(m1, '[part="text"]')).to.equal(null);
    expect(deep(m1, '[part="actions-button"]')).to.equal(null);
    expect(deep(m1, '[part="reactions"]')).to.equal(null);
    client.change('m1', { pending: undefined });
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '.tombstone')!.classList.contains('pending-change')).to.equal(false);
  });

  it('reactions - chips with counts, names in the tooltip, mine pressed; a click toggles through the client', async () => {
    const { el, client } = await mount({
      members,
      messages: [
        message(1, {
          reactions: [
            { emoji: '👍', users: ['bob', 'alice'], mine: true },
            { emoji: '🎉', users: ['carol'], mine: false },
          ],
          pending: ['react'],
        } as never),
      ],
    });
    const chips = deepAll<HTMLButtonElement>(messageEl(el, 'm1'), '[part~="reaction"]');
    expect(chips.map((c) => c.dataset['emoji'])).to.deep.equal(['👍', '🎉']);
    expect(chips.map((c) => c.querySelector('.count')!.textContent)).to.deep.equal(['2', '1']);
    expect(chips.map((c) => c.title)).to.deep.equal(['Bob and You', 'Carol']);
    expect(chips.map((c) => c.getAttribute('aria-pressed'))).to.deep.equal(['true', 'false']);
    expect(chips[0]!.getAttribute('part')).to.equal('reaction reaction-mine');
    expect(chips[0]!.getAttribute('aria-label')).to.equal('👍 2: Bob and You');
    // The pending reaction change is the user's: their chip shows it, the others' do not.
    expect(chips.map((c) => c.classList.contains('pending'))).to.deep.equal([true, false]);
    chips[0]!.click();
    chips[1]!.click();
    expect(client.callsTo('react')).to.deep.equal([
      ['m1', '👍', false],
      ['m1', '🎉', true],
    ]);
  });

  it('reactions - the picker: React opens 8 emoji as checkable menu items; Enter reacts; Escape goes back to the menu', async () => {
    const { el, client } = await mount({ messages: [message(1, { reactions: [{ emoji: '❤️', users: ['alice'], mine: true }] } as never)] });
    await openMenu(el, 'm1');
    await sendKeys({ press: 'ArrowRight' });
    expect(activePart()).to.equal('react');
    expect(deepActiveElement()!.getAttribute('aria-haspopup')).to.equal('menu');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    const picker = deep(messageEl(el, 'm1'), '[part="reaction-picker"]')!;
    expect(picker.getAttribute('role')).to.equal('menu');
    const items = [...picker.querySelectorAll<HTMLElement>('[role="menuitemcheckbox"]')];
    expect(items).to.have.length(8);
    expect(items.filter((i) => i.getAttribute('aria-checked') === 'true').map((i) => i.dataset['emoji'])).to.deep.equal(['❤️']);
    expect(activePart()).to.equal('👍');
    await sendKeys({ press: 'Escape' });
    await settle(el);
    expect(deep(messageEl(el, 'm1'), '[part="reaction-picker"]')).to.equal(null);
    expect(activePart()).to.equal('react');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    await sendKeys({ press: 'ArrowRight' });
    expect(activePart()).to.equal('❤️');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(client.callsTo('react')).to.deep.equal([['m1', '❤️', false]]);
    expect(deep(messageEl(el, 'm1'), '[role="menu"]')).to.equal(null);
    expect(activePart()).to.equal('actions-button');
    // With the mouse.
    menuButton(el, 'm1')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-action="react"]')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-emoji="🎉"]')!.click();
    expect(client.callsTo('react')[1]).to.deep.equal(['m1', '🎉', true]);
  });

  it('reply - the composer shows the quoted message; Escape or × cancels; the send carries the reply', async () => {
    const { el, client } = await mount({ messages: [message(1, { text: 'question?' }), message(2, { from: CAROL, text: 'other' })] });
    await openMenu(el, 'm1');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    const preview = () => deep(el, 'chat-room-composer', '[part="reply-preview"]');
    expect(preview()!.querySelector('.quote')!.textContent!.replace(/\s+/g, ' ').trim()).to.equal('Replying to Bob question?');
    expect(activePart(), 'focus moves to the text box').to.equal('input');
    await sendKeys({ press: 'Escape' });
    await settle(el);
    expect(preview()).to.equal(null);
    // Again, cancelled with the button.
    menuButton(el, 'm2')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm2'), '[data-action="reply"]')!.click();
    await settle(el);
    expect(preview()!.textContent).to.contain('Carol');
    deep<HTMLButtonElement>(el, 'chat-room-composer', '[part="reply-cancel"]')!.click();
    await settle(el);
    expect(preview()).to.equal(null);
    // And sent.
    menuButton(el, 'm1')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-action="reply"]')!.click();
    await settle(el);
    await sendKeys({ type: 'answer' });
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(client.callsTo('send')).to.deep.equal([['answer', undefined, { reply: 'm1' }]]);
    expect(preview()).to.equal(null);
    // A send without a reply carries none.
    await sendKeys({ type: 'plain' });
    await sendKeys({ press: 'Enter' });
    expect(client.callsTo('send')[1]).to.deep.equal(['plain', undefined]);
  });

  it('reply - files attached while answering answer the message too, and end the reply', async () => {
    const { el, client } = await mount({ messages: [message(1)] });
    menuButton(el, 'm1')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-action="reply"]')!.click();
    await settle(el);
    const picker = deep<HTMLInputElement>(el, 'chat-room-composer', 'input[type=file]')!;
    const files = new DataTransfer();
    files.items.add(new File(['a'], 'a.txt'));
    picker.files = files.files;
    picker.dispatchEvent(new Event('change', { bubbles: true }));
    await settle(el);
    const [[file, text, options]] = client.callsTo('upload') as [[File, unknown, unknown]];
    expect([file.name, text, options]).to.deep.equal(['a.txt', undefined, { reply: 'm1' }]);
    expect(deep(el, 'chat-room-composer', '[part="reply-preview"]')).to.equal(null);
  });

  it('reply - the reply request does not leak out of <chat-room>', async () => {
    const { el } = await mount({ messages: [message(1)] });
    let leaked = 0;
    const count = () => leaked++;
    el.addEventListener('chat-room-reply', count);
    try {
      menuButton(el, 'm1')!.click();
      await settle(el);
      deep<HTMLButtonElement>(messageEl(el, 'm1'), '[data-action="reply"]')!.click();
      await settle(el);
      expect(deep(el, 'chat-room-composer', '[part="reply-preview"]')).to.not.equal(null);
      expect(leaked).to.equal(0);
    } finally {
      el.removeEventListener('chat-room-reply', count);
    }
  });

  it('reply - a sent reply shows the quote; clicking it asks to show the original, which comes on screen, focused', async () => {
    const many = Array.from({ length: 30 }, (_, i) => message(i + 1, { text: `line ${i + 1}` }));
    const reply = message(31, {
      from: BOB,
      text: 'see above',
      reply: { id: 'm1', seq: 1, from: BOB, text: 'line 1' },
    } as never);
    const deletedQuote = message(32, { reply: { id: 'm2', seq: 2, from: BOB, deleted: true } } as never);
    const { el } = await mount({ messages: [...many, reply, deletedQuote] });
    el.style.height = '300px';
    await settle(el);
    const quote = deep<HTMLButtonElement>(messageEl(el, 'm31'), '[part="quote"]')!;
    expect(quote.textContent!.replace(/\s+/g, ' ').trim()).to.equal('Bob line 1');
    expect(deep(messageEl(el, 'm32'), '[part="quote"]')!.textContent).to.contain('Message deleted');
    const log = deep(el, 'chat-room-message-list', '[role="log"]')!;
    // The list draws only a window of messages: m1 is either not drawn yet or above the view.
    const before = messageElements(el).find((m) => m.dataset['messageId'] === 'm1');
    if (before) expect(before.getBoundingClientRect().bottom).to.be.lessThan(log.getBoundingClientRect().top, 'm1 starts off screen');
    const asked = oneEvent(el, 'chat-room-show-message');
    quote.click();
    const event = await asked;
    expect(event.detail).to.deep.equal({ id: 'm1' });
    await settle(el);
    const target = messageEl(el, 'm1');
    const box = target.getBoundingClientRect();
    const view = log.getBoundingClientRect();
    expect(box.top).to.be.at.least(view.top - 1);
    expect(box.bottom).to.be.at.most(view.bottom + 1);
    expect(deepActiveElement()).to.equal(deep(target, '.bubble'));
  });

  it('reply - when no list takes the request, the message scrolls to the quoted one itself', async () => {
    const many = Array.from({ length: 30 }, (_, i) => message(i + 1));
    const { el } = await mount({ messages: [...many, message(31, { reply: { id: 'm1', seq: 1, from: BOB, text: 'x' } } as never)] });
    el.style.height = '300px';
    await settle(el);
    const list = deep(el, 'chat-room-message-list')!;
    const log = deep(el, 'chat-room-message-list', '[role="log"]')!;
    // Stopped before it reaches the list's own listener: as in a list that does not handle it.
    const stop = (event: Event) => event.stopPropagation();
    list.shadowRoot!.addEventListener('chat-room-show-message', stop);
    try {
      const target = messageEl(el, 'm1');
      expect(target.getBoundingClientRect().bottom).to.be.lessThan(log.getBoundingClientRect().top);
      deep<HTMLButtonElement>(messageEl(el, 'm31'), '[part="quote"]')!.click();
      await settle(el);
      const box = target.getBoundingClientRect();
      const view = log.getBoundingClientRect();
      expect(box.top).to.be.at.least(view.top - 1);
      expect(box.bottom).to.be.at.most(view.bottom + 1);
      expect(deepActiveElement()).to.equal(deep(target, '.bubble'));
    } finally {
      list.shadowRoot!.removeEventListener('chat-room-show-message', stop);
    }
  });

  it('edit - a change the relay refused shows why, with a button that dismisses it', async () => {
    const { el, client } = await mount({
      messages: [message(1, { own: true, changeError: { code: 'forbidden', change: 'edit' } } as never)],
    });
    const line = deep(messageEl(el, 'm1'), '.actions[role="status"]')!;
    expect(line.querySelector('.error')!.textContent).to.equal('Not edited: not allowed here');
    expect(line.querySelector('button')!.textContent).to.equal('Dismiss');
    line.querySelector('button')!.click();
    expect(client.callsTo('dismissChangeError')).to.deep.equal([['m1']]);
  });

  it('links - addresses in the text are links (new tab, no referrer); the text is never HTML', async () => {
    const { el } = await mount({ messages: [message(1, { text: 'see https://example.org/a_(b). or <b>me</b>' })] });
    const text = deep(messageEl(el, 'm1'), '[part="text"]')!;
    expect(text.textContent).to.equal('see https://example.org/a_(b). or <b>me</b>');
    const links = [...text.querySelectorAll('a')];
    expect(links.map((a) => [a.getAttribute('href'), a.textContent, a.target, a.rel, a.getAttribute('part')])).to.deep.equal([
      ['https://example.org/a_(b)', 'https://example.org/a_(b)', '_blank', 'noopener noreferrer nofollow', 'link'],
    ]);
    expect(text.querySelector('b')).to.equal(null);
  });

  it('actions - deleted and failed messages have no menu', async () => {
    const { el } = await mount({
      messages: [
        message(1, { deleted: true, text: undefined } as never),
        { ...message(0, { own: true, status: 'failed', error: { code: 'rate_limited' } }), id: 'x', seq: undefined },
      ],
    });
    expect(menuButton(el, 'm1')).to.equal(null);
    expect(menuButton(el, 'x')).to.equal(null);
  });

  it('languages - lang="de": the menu, tombstone, edited marker, chips and the reply preview speak German', async () => {
    const { el } = await mount({
      members,
      messages: [
        message(1, { own: true, edited: 1, reactions: [{ emoji: '👍', users: ['bob', 'alice'], mine: true }] } as never),
        message(2, { deleted: true, text: undefined } as never),
      ],
    });
    el.lang = 'de';
    await waitUntil(() => deep(messageEl(el, 'm2'), '.tombstone')?.textContent === 'Nachricht gelöscht', 'not German');
    expect(deep(messageEl(el, 'm1'), '[part="edited"]')!.textContent!.trim()).to.not.equal('edited');
    expect(deep<HTMLButtonElement>(messageEl(el, 'm1'), '[part~="reaction"]')!.title).to.equal('Bob und Sie');
    await openMenu(el, 'm1');
    expect(deepAll(messageEl(el, 'm1'), '[role="menuitem"]').map((i) => i.textContent!.trim())[0]).to.equal('Antworten');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(deep(el, 'chat-room-composer', '[part="reply-cancel"]')!.getAttribute('aria-label')).to.not.equal('Cancel reply');
  });

  it('accessible: menu, picker, editor, reactions, quotes, tombstone and reply preview (light and dark)', async () => {
    const { el } = await mount({
      members,
      messages: [
        message(1, { reactions: [{ emoji: '👍', users: ['bob', 'alice'], mine: true }], edited: 1 } as never),
        message(2, { deleted: true, text: undefined } as never),
        message(3, { own: true, reply: { id: 'm1', seq: 1, from: BOB, text: 'message 1' }, reactions: [{ emoji: '🎉', users: ['carol'], mine: false }] } as never),
        message(4, { own: true, text: 'to edit, see www.example.org' }),
        message(5, { text: 'mail me at someone@example.org' }),
      ],
    });
    await openMenu(el, 'm1');
    await sendKeys({ press: 'Enter' });
    await settle(el);
    await openMenu(el, 'm3');
    await sendKeys({ press: 'ArrowRight' });
    await sendKeys({ press: 'Enter' });
    await settle(el);
    expect(deep(messageEl(el, 'm3'), '[part="reaction-picker"]')).to.not.equal(null);
    await expect(el).to.be.accessible();
    await sendKeys({ press: 'Escape' });
    await settle(el);
    expect(deep(messageEl(el, 'm3'), '[part="actions-menu"]')).to.not.equal(null);
    await expect(el).to.be.accessible();
    menuButton(el, 'm4')!.click();
    await settle(el);
    deep<HTMLButtonElement>(messageEl(el, 'm4'), '[data-action="edit"]')!.click();
    await settle(el);
    expect(deep(messageEl(el, 'm4'), '[part="edit-input"]')).to.not.equal(null);
    await expect(el).to.be.accessible();
    await emulateMedia({ colorScheme: 'dark' });
    await settle(el);
    await expect(el).to.be.accessible();
  });
});
