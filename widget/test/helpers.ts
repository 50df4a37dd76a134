import { fixture, html, nextFrame } from '@open-wc/testing';
import type { LitElement } from 'lit';
import '../index.js';
import type { ChatRoom } from '../chat-room.js';
import type { ChatClientOptions, ChatSnapshot } from '../client/types.js';
import { FakeClient } from './fake-client.js';

export interface Mounted {
  el: ChatRoom;
  client: FakeClient;
  /** Every client the element made, oldest first (a new one per conversation). */
  clients: FakeClient[];
}

/** A <chat-room> driven by FakeClients; `snapshot` seeds the first one. */
export async function mount(snapshot: Partial<ChatSnapshot> = {}, attrs: { conversation?: string } = {}): Promise<Mounted> {
  const clients: FakeClient[] = [];
  const factory = (options: ChatClientOptions) => {
    const client = new FakeClient(options, clients.length === 0 ? snapshot : {});
    clients.push(client);
    return client;
  };
  const el = await fixture<ChatRoom>(
    html`<chat-room
      relay="ws://relay.test/ws"
      conversation=${attrs.conversation ?? 'c1'}
      user="alice"
      name="Alice"
      .clientFactory=${factory}
    ></chat-room>`,
  );
  await settle(el);
  const client = clients[0];
  if (!client) throw new Error('chat-room made no client');
  return { el, client, clients };
}

function litElements(root: Element, into: LitElement[] = []): LitElement[] {
  if ('updateComplete' in root) into.push(root as LitElement);
  const shadow = root.shadowRoot;
  if (shadow) for (const child of shadow.querySelectorAll('*')) litElements(child, into);
  return into;
}

/** Waits until the element and every Lit element in its shadow trees have rendered, and a frame passed. */
export async function settle(el: Element): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await Promise.all(litElements(el).map((e) => e.updateComplete));
    await nextFrame();
  }
}

/** Follows a path of selectors, each one inside the previous match's shadow root. */
export function deep<T extends Element = HTMLElement>(from: Element, ...selectors: string[]): T | null {
  let current: Element | null = from;
  for (const selector of selectors) {
    if (!current) return null;
    current = (current.shadowRoot ?? current).querySelector(selector);
  }
  return current as T | null;
}

export function deepAll<T extends Element = HTMLElement>(from: Element, ...selectors: string[]): T[] {
  const last = selectors.pop();
  const parent = selectors.length ? deep(from, ...selectors) : from;
  if (!parent || !last) return [];
  return [...(parent.shadowRoot ?? parent).querySelectorAll<T>(last)];
}

export function messageElements(el: ChatRoom): HTMLElement[] {
  return deepAll(el, 'chat-room-message-list', 'chat-room-message');
}

export function log(el: ChatRoom): HTMLElement {
  const found = deep(el, 'chat-room-message-list', '[role="log"]');
  if (!found) throw new Error('no log');
  return found;
}

/** The innermost focused element, through shadow roots. */
export function deepActiveElement(): Element | null {
  let active: Element | null = document.activeElement;
  while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
  return active;
}

/** Waits for the scroll event that an assignment to scrollTop causes, so scroll handlers ran. */
export async function scrollTo(element: HTMLElement, top: number): Promise<void> {
  const scrolled = new Promise((resolve) => element.addEventListener('scroll', resolve, { once: true }));
  const before = element.scrollTop;
  element.scrollTop = top;
  if (element.scrollTop !== before) await scrolled;
  await nextFrame();
}

export function filesOf(...files: File[]): DataTransfer {
  const transfer = new DataTransfer();
  for (const file of files) transfer.items.add(file);
  return transfer;
}
