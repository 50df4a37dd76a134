import { expect, fixture, html, oneEvent } from '@open-wc/testing';
import './index.js';
import type { ChatComposer } from './chat-composer.js';
import type { ChatRoom, ChatRoomErrorDetail } from './chat-room.js';
import type { ChatClientOptions } from './client/index.js';
import { FakeClient, message } from './test/fake-client.js';
import { deep, deepActiveElement, mount, settle } from './test/helpers.js';
import { describe, it } from './test/mocha.js';

/** A JWT-shaped token (unsigned: the view only reads `sub` and `exp` to choose its words). */
function token(claims: Record<string, unknown>): string {
  const part = (value: unknown) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${part({ alg: 'HS256' })}.${part(claims)}.signature`;
}

async function mountWithToken(jwt: string): Promise<{ el: ChatRoom; clients: FakeClient[] }> {
  const clients: FakeClient[] = [];
  const factory = (options: ChatClientOptions) => {
    const client = new FakeClient(options, { messages: [message(1)] });
    clients.push(client);
    return client;
  };
  const el = await fixture<ChatRoom>(
    html`<chat-room relay="ws://relay.test/ws" conversation="c1" .token=${jwt} .clientFactory=${factory}></chat-room>`,
  );
  await settle(el);
  return { el, clients };
}

function refusal(el: ChatRoom): HTMLElement | null {
  return deep(el, '[part="refusal"]');
}

function composer(el: ChatRoom): HTMLElement {
  return deep(el, 'chat-room-composer')!;
}

/** Emits a client error and returns the chat-room-error event it caused. */
async function errorFrom(el: ChatRoom, client: FakeClient, code: string, params?: Record<string, string>): Promise<ChatRoomErrorDetail> {
  setTimeout(() => client.emit({ type: 'error', code, ...(params ? { params } : {}) }));
  const event = await oneEvent(el, 'chat-room-error');
  await settle(el);
  return event.detail;
}

describe('chat-room refusals', () => {
  it('chat-room - an expired token refused by the relay: "session expired", Reload, composer disabled, chat-room-error with the reason', async () => {
    const { el, clients } = await mountWithToken(token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }));
    const client = clients[0]!;
    client.set({ connection: 'closed' });
    const detail = await errorFrom(el, client, 'unauthorized');
    expect(detail).to.include({ code: 'unauthorized', refusal: 'expired', message: 'Your session expired — reload to continue.' });
    expect(el.refusal).to.equal('expired');
    expect(refusal(el)!.getAttribute('role')).to.equal('alert');
    expect(refusal(el)!.textContent).to.contain('Your session expired — reload to continue.');
    expect(deep(el, '[part="reload-button"]')!.textContent).to.equal('Reload');
    // Not "Disconnected.": the refusal replaces the connection banner.
    expect(deep(el, 'chat-room-connection')).to.equal(null);
    expect((composer(el) as ChatComposer).disabled).to.equal(true);
    const textarea = deep<HTMLTextAreaElement>(el, 'chat-room-composer', 'textarea')!;
    textarea.focus();
    expect(deepActiveElement()).to.not.equal(textarea);
    // The history already on screen stays readable.
    expect(deep(el, 'chat-room-message-list', 'chat-room-message')).to.not.equal(null);
  });

  it('chat-room - a token refused for another reason says the user could not be signed in', async () => {
    const { el, clients } = await mountWithToken(token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 }));
    const detail = await errorFrom(el, clients[0]!, 'unauthorized');
    expect(detail.refusal).to.equal('unauthorized');
    expect(refusal(el)!.textContent).to.contain('You could not be signed in');
  });

  it('chat-room - a new token after a refusal starts over with a new client', async () => {
    const { el, clients } = await mountWithToken(token({ sub: 'alice', exp: 1 }));
    await errorFrom(el, clients[0]!, 'unauthorized');
    el.token = token({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 });
    await settle(el);
    expect(clients).to.have.length(2);
    expect(clients[0]!.disposed).to.equal(true);
    expect(el.refusal).to.equal(null);
    expect(refusal(el)).to.equal(null);
    expect((composer(el) as ChatComposer).disabled).to.equal(false);
  });

  it('chat-room - a conversation the token does not allow: "no access", no Reload, composer disabled', async () => {
    const { el, client } = await mount();
    const detail = await errorFrom(el, client, 'forbidden');
    expect(detail).to.include({ code: 'forbidden', refusal: 'conversation', message: 'You don’t have access to this conversation.' });
    expect(refusal(el)!.textContent).to.contain('You don’t have access to this conversation.');
    expect(deep(el, '[part="reload-button"]')).to.equal(null);
    expect((composer(el) as ChatComposer).disabled).to.equal(true);
  });

  it('chat-room - forbidden with the connection closed by the relay is the origin refused', async () => {
    const { el, client } = await mount();
    client.set({ connection: 'closed' });
    const detail = await errorFrom(el, client, 'forbidden');
    expect(detail.refusal).to.equal('origin');
    expect(refusal(el)!.textContent).to.contain('This website is not allowed to use this chat.');
  });

  it('chat-room - reasons from the client core win over guesses (origin, conversation, expired)', async () => {
    const { el, client } = await mount();
    expect((await errorFrom(el, client, 'forbidden', { reason: 'origin' })).refusal).to.equal('origin');
    expect((await errorFrom(el, client, 'forbidden', { reason: 'conversation' })).refusal).to.equal('conversation');
    expect((await errorFrom(el, client, 'unauthorized', { reason: 'expired' })).refusal).to.equal('expired');
  });

  it('chat-room - the core\'s snapshot.refusal drives the state: shown, told once (with the event), cleared when the core gets in again', async () => {
    const { el, client } = await mount();
    const details: ChatRoomErrorDetail[] = [];
    el.addEventListener('chat-room-error', (event) => details.push(event.detail));
    client.emit({ type: 'error', code: 'forbidden', params: { reason: 'removed' } });
    client.set({ refusal: { code: 'forbidden', params: { reason: 'removed' } } });
    await settle(el);
    expect(el.refusal).to.equal('removed');
    expect(refusal(el)!.textContent).to.contain('You can no longer write in this conversation.');
    expect(details.map((d) => d.refusal)).to.deep.equal(['removed']);
    client.set({ refusal: null });
    await settle(el);
    expect(el.refusal).to.equal(null);
    expect((composer(el) as ChatComposer).disabled).to.equal(false);
    client.set({ refusal: { code: 'unauthorized', params: { reason: 'invalid' } }, connection: 'closed' });
    await settle(el);
    expect(el.refusal).to.equal('unauthorized');
  });

  it('chat-room - errors that a retry fixes, or about one message, refuse nothing', async () => {
    const { el, client } = await mount();
    for (const code of ['rate_limited', 'unavailable', 'bad_frame', 'storage', 'token_failed']) {
      const detail = await errorFrom(el, client, code);
      expect(detail.refusal, code).to.equal(undefined);
    }
    setTimeout(() => client.emit({ type: 'error', code: 'forbidden', messageId: 'm1' }));
    await oneEvent(el, 'chat-room-error');
    await settle(el);
    expect(el.refusal).to.equal(null);
    expect((composer(el) as ChatComposer).disabled).to.equal(false);
  });

  it('chat-room - an invalid conversation id makes no client and says which id is wrong', async () => {
    const clients: FakeClient[] = [];
    const factory = (options: ChatClientOptions) => {
      const client = new FakeClient(options);
      clients.push(client);
      return client;
    };
    const el = document.createElement('chat-room');
    el.clientFactory = factory;
    el.relay = 'ws://relay.test/ws';
    el.conversation = 'support 42';
    const errored = oneEvent(el, 'chat-room-error');
    document.body.append(el);
    try {
      const { detail } = await errored;
      await settle(el);
      expect(detail).to.include({ code: 'bad_config', refusal: 'conversation' });
      expect(clients).to.have.length(0);
      expect(refusal(el)!.textContent).to.contain('“support 42” is not a valid conversation id');
      expect(deep(el, 'chat-room-composer')).to.equal(null);
    } finally {
      el.remove();
    }
  });

  it('chat-room - JWT mode with an empty token says no token was given (not "set the relay and conversation")', async () => {
    const opened: string[] = [];
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        opened.push(String(url));
      }
    };
    const el = document.createElement('chat-room');
    el.relay = 'ws://127.0.0.1:9/ws';
    el.conversation = 'support-42';
    el.token = '';
    const errored = oneEvent(el, 'chat-room-error');
    document.body.append(el);
    try {
      const { detail } = await errored;
      await settle(el);
      expect(detail).to.include({ code: 'bad_config', refusal: 'token' });
      expect(refusal(el)!.textContent).to.contain('no sign-in token was given');
      expect(deep(el, '.hint')).to.equal(null);
      expect(opened).to.deep.equal([]);
    } finally {
      el.remove();
      window.WebSocket = Native;
    }
  });
});
