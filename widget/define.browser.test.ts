import { expect } from '@open-wc/testing';
import { define } from './define.js';
import { defineChatRoomElements } from './elements.js';
import { describe, it } from './test/mocha.js';

describe('registration', () => {
  it('registration - a second copy of the widget on the page warns instead of throwing; the first definition stays', () => {
    defineChatRoomElements();
    const first = customElements.get('chat-room');
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (message: string) => warnings.push(message);
    try {
      // What a second bundle does: its own, different classes under the same names.
      define('chat-room', class extends HTMLElement {});
      defineChatRoomElements(); // the same classes again: silent
    } finally {
      console.warn = original;
    }
    expect(customElements.get('chat-room')).to.equal(first);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include('<chat-room> is already defined');
  });

  it('registration - every inner element is prefixed chat-room-', () => {
    defineChatRoomElements();
    for (const name of ['chat-room-message', 'chat-room-message-list', 'chat-room-composer', 'chat-room-connection', 'chat-room-typing', 'chat-room-uploads']) {
      expect(customElements.get(name), name).to.not.equal(undefined);
    }
    for (const old of ['chat-message', 'chat-composer', 'chat-message-list']) expect(customElements.get(old), old).to.equal(undefined);
  });
});
