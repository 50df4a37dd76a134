import { ContextProvider } from '@lit/context';
import { expect, fixture, html } from '@open-wc/testing';
import { emulateMedia } from '@web/test-runner-commands';
import { ChatMembers, lastSeenText, MAX_SHOWN, presenceText } from './chat-members.js';
import { clientContext } from './context.js';
import { define } from './define.js';
import { FakeClient } from './test/fake-client.js';
import { settle } from './test/helpers.js';
import { afterEach, describe, it } from './test/mocha.js';
import type { Member } from './client/types.js';

define('chat-room-members', ChatMembers);

const MINUTE = 60_000;

function member(id: string, extra: Partial<Member> = {}): Member {
  return { id, name: id[0]!.toUpperCase() + id.slice(1), delivered: 0, read: 0, ...extra };
}

/** A <chat-room-members> inside a plain element that provides a FakeClient (styled like the widget). */
async function mountMembers(members: Member[]): Promise<{ el: ChatMembers; client: FakeClient }> {
  const client = new FakeClient(undefined, { members });
  const host = await fixture<HTMLDivElement>(html`<div style="--_fg: #1f2328; --_muted: #59636e; --_border: #8c959f; background: #fff; color: #1f2328"></div>`);
  new ContextProvider(host, { context: clientContext, initialValue: client });
  const el = document.createElement('chat-room-members');
  host.append(el);
  await settle(el);
  return { el, client };
}

function rows(el: ChatMembers): HTMLElement[] {
  return [...el.shadowRoot!.querySelectorAll<HTMLElement>('li[data-member]')];
}

describe('chat-room-members', () => {
  afterEach(async () => {
    await emulateMedia({ colorScheme: 'light' });
  });

  it('members - others only, online first with a filled dot, then by last seen; the words for screen readers and in the tooltip', async () => {
    const now = Date.now();
    const { el } = await mountMembers([
      member('alice', { online: true }),
      member('carol', { online: false, seen: now - 5 * MINUTE }),
      member('dan'),
      member('bob', { online: true }),
      member('erin', { online: false, seen: now - 2 * MINUTE }),
    ]);
    const list = rows(el);
    expect(list.map((r) => r.dataset['member'])).to.deep.equal(['bob', 'erin', 'carol', 'dan']);
    expect(el.shadowRoot!.querySelector('ul')!.getAttribute('aria-label')).to.equal('Members');
    const [bob, erin, carol, dan] = list;
    expect(bob!.getAttribute('part')).to.equal('member member-online');
    expect(bob!.querySelector('[part="presence-dot"]')!.classList.contains('online')).to.equal(true);
    expect(bob!.title).to.equal('online');
    expect(bob!.querySelector('.sr-only')!.textContent).to.equal(', online');
    expect(erin!.querySelector('[part="presence-dot"]')!.classList.contains('online')).to.equal(false);
    expect(carol!.title).to.equal('last seen 5 minutes ago');
    expect(carol!.querySelector('.seen')!.textContent).to.equal('5 min. ago');
    expect(dan!.title).to.equal('not seen yet');
    expect(dan!.querySelector('.seen')).to.equal(null);
  });

  it('members - presence events redraw the dot and the words', async () => {
    const { el, client } = await mountMembers([member('alice'), member('bob', { online: true })]);
    expect(rows(el)[0]!.title).to.equal('online');
    client.set({ members: [member('alice'), member('bob', { online: false, seen: Date.now() - 1000 })] });
    await settle(el);
    expect(rows(el)[0]!.title).to.equal('last seen this minute');
    expect(rows(el)[0]!.getAttribute('part')).to.equal('member');
  });

  it('members - banned members are marked; a big room shows the first ones and a count', async () => {
    const many = Array.from({ length: MAX_SHOWN + 3 }, (_, i) => member(`user${String(i).padStart(2, '0')}`));
    const { el } = await mountMembers([member('alice'), member('bob', { banned: true }), ...many]);
    const bob = rows(el).find((r) => r.dataset['member'] === 'bob')!;
    expect(bob.getAttribute('part')).to.equal('member member-banned');
    expect(bob.textContent).to.contain('(banned)');
    expect(rows(el)).to.have.length(MAX_SHOWN);
    expect(el.shadowRoot!.querySelector('.more')!.textContent).to.equal('+4');
  });

  it('members - nothing at all when nobody else is there', async () => {
    const { el } = await mountMembers([member('alice', { online: true })]);
    expect(el.shadowRoot!.querySelector('ul')).to.equal(null);
  });

  it('members - last seen words pick the largest unit that fits', () => {
    const now = Date.UTC(2025, 5, 15, 12);
    expect(lastSeenText(now - 10_000, now, 'long', 'en')).to.equal('this minute');
    expect(lastSeenText(now - 120 * MINUTE, now, 'long', 'en')).to.equal('2 hours ago');
    expect(lastSeenText(now - 26 * 60 * MINUTE, now, 'long', 'en')).to.equal('yesterday');
    expect(lastSeenText(now - 400 * 24 * 60 * MINUTE, now, 'long', 'en')).to.equal('last year');
    expect(lastSeenText(now - 3 * MINUTE, now, 'long', 'de')).to.equal('vor 3 Minuten');
    expect(presenceText(member('x', { online: true }))).to.equal('online');
  });

  it('members - accessible (light and dark)', async () => {
    const { el } = await mountMembers([
      member('alice'),
      member('bob', { online: true }),
      member('carol', { seen: Date.now() - MINUTE }),
      member('dan', { banned: true }),
    ]);
    await expect(el).to.be.accessible();
    await emulateMedia({ colorScheme: 'dark' });
    await expect(el).to.be.accessible();
  });
});
