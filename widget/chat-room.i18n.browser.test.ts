import { expect, oneEvent, waitUntil } from '@open-wc/testing';
import { deep, mount, settle } from './test/helpers.js';
import { afterEach, describe, it } from './test/mocha.js';
import type { ChatRoom } from './chat-room.js';

const emptyText = (el: ChatRoom) => deep(el, 'chat-room-message-list', '.empty')?.textContent ?? null;
const listLabel = (el: ChatRoom) => deep(el, 'chat-room-message-list', '[part="list"]')!.getAttribute('aria-label');
const root = (el: ChatRoom) => deep(el, '.root')!;

describe('chat-room languages', () => {
  const pageLang = document.documentElement.lang;
  afterEach(() => {
    document.documentElement.lang = pageLang;
    document.documentElement.removeAttribute('dir');
  });

  it('chat-room - lang="de" speaks German: the list, the banner, the words of errors', async () => {
    const { el, client } = await mount();
    el.lang = 'de';
    await waitUntil(() => emptyText(el) === 'Noch keine Nachrichten.', 'not German');
    expect(listLabel(el)).to.equal('Nachrichten');
    client.set({ connection: 'offline' });
    await settle(el);
    expect(deep(el, 'chat-room-connection', '[part="banner"]')!.textContent).to.contain('Sie sind offline');
    setTimeout(() => client.emit({ type: 'error', code: 'rate_limited' }));
    const { detail } = await oneEvent(el, 'chat-room-error');
    expect(detail.message).to.equal('Zu viele Nachrichten: bitte langsamer');
    expect(root(el).getAttribute('lang')).to.equal('de');
  });

  it('chat-room - without lang it follows the page’s <html lang>, also when the page changes it', async () => {
    document.documentElement.lang = 'es';
    const { el } = await mount();
    await waitUntil(() => emptyText(el) === 'Todavía no hay mensajes.', 'not Spanish');
    expect(el.hasAttribute('lang'), 'no lang="" (unknown language) on the element').to.equal(false);
    document.documentElement.lang = 'fr-CA';
    await waitUntil(() => emptyText(el) === 'Aucun message pour l’instant.', 'did not follow the page to French');
    expect(root(el).getAttribute('lang')).to.equal('fr-CA');
    // Its own lang wins over the page's.
    el.lang = 'en';
    await waitUntil(() => emptyText(el) === 'No messages yet.', 'own lang did not win');
  });

  it('chat-room - strings override any word, in any language', async () => {
    const { el } = await mount();
    el.strings = { 'list.empty': 'Say hello to our team 👋' };
    await settle(el);
    expect(emptyText(el)).to.equal('Say hello to our team 👋');
    el.lang = 'de';
    await waitUntil(() => listLabel(el) === 'Nachrichten', 'not German');
    expect(emptyText(el)).to.equal('Say hello to our team 👋');
  });

  it('chat-room - Arabic and Hebrew lay the widget out right to left; English stays left to right on an RTL page', async () => {
    const { el } = await mount();
    el.lang = 'ar';
    await waitUntil(() => emptyText(el) === 'لا توجد رسائل بعد.', 'not Arabic');
    expect(root(el).getAttribute('dir')).to.equal('rtl');
    expect(getComputedStyle(deep(el, 'chat-room-message-list', '[part="list"]')!).direction).to.equal('rtl');
    el.lang = 'he';
    await waitUntil(() => emptyText(el) === 'אין עדיין הודעות.', 'not Hebrew');
    expect(root(el).getAttribute('dir')).to.equal('rtl');
    document.documentElement.dir = 'rtl';
    el.lang = 'en';
    await waitUntil(() => emptyText(el) === 'No messages yet.', 'not English');
    expect(getComputedStyle(deep(el, 'chat-room-message-list', '[part="list"]')!).direction).to.equal('ltr');
  });

  it('chat-room - an unknown language falls back to English', async () => {
    const { el } = await mount();
    el.lang = 'pt-BR';
    await settle(el);
    expect(emptyText(el)).to.equal('No messages yet.');
    expect(el.locale.tag).to.equal('pt-BR');
  });
});
