import { expect } from '@open-wc/testing';
import { fullDateTime } from './format.js';
import { Locale } from './i18n/index.js';
import { message } from './test/fake-client.js';
import { deep, messageElements, mount } from './test/helpers.js';
import { describe, it } from './test/mocha.js';

describe('chat-room-message', () => {
  it('time - the full date is the tooltip once the pointer reaches the time (not formatted for every message drawn)', async () => {
    const { el } = await mount({ messages: [message(1)] });
    const time = deep<HTMLTimeElement>(messageElements(el)[0]!, 'time')!;
    expect(time.dateTime).to.equal(new Date(message(1).ts).toISOString());
    expect(time.title).to.equal('');
    time.dispatchEvent(new PointerEvent('pointerenter'));
    expect(time.title).to.equal(fullDateTime(message(1).ts, new Locale(el.lang || document.documentElement.lang || 'en')));
    expect(time.title).to.contain('2025');
  });
});
