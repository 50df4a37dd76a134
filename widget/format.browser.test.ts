import { expect } from '@open-wc/testing';
import { describe, it } from './test/mocha.js';
import { fullDateTime, humanSize, statusText, timeLabel, typingText } from './format.js';
import { Locale } from './i18n/index.js';
import { message } from './test/fake-client.js';

describe('format', () => {
  it('typingText - names one or two people and counts three or more', () => {
    const alice = { id: 'alice', name: 'Alice' };
    const bob = { id: 'bob', name: 'Bob' };
    const carol = { id: 'carol', name: 'Carol' };
    expect(typingText([])).to.equal('');
    expect(typingText([alice])).to.equal('Alice is typing…');
    expect(typingText([alice, bob])).to.equal('Alice and Bob are typing…');
    expect(typingText([alice, bob, carol])).to.equal('3 people are typing…');
  });

  it('typingText - falls back to the user id when there is no name', () => {
    expect(typingText([{ id: 'u-7', name: '' }])).to.equal('u-7 is typing…');
  });

  it('humanSize - bytes, then binary units: one decimal below ten, then whole units', () => {
    expect(humanSize(0)).to.equal('0 B');
    expect(humanSize(999)).to.equal('999 B');
    expect(humanSize(1536)).to.equal('1.5 KiB');
    expect(humanSize(300 * 1024)).to.equal('300 KiB');
    expect(humanSize(25 * 1024 * 1024)).to.equal('25 MiB');
  });

  it('timeLabel - not forced to two-digit hours; fullDateTime has the date', () => {
    const at = new Date(2025, 0, 6, 9, 5).getTime();
    expect(timeLabel(at, new Locale('en-US'))).to.equal('9:05 AM');
    expect(fullDateTime(at, new Locale('en-US'))).to.equal('Monday, January 6, 2025 at 9:05 AM');
  });

  it('statusText - read names the readers, failed gives the reason', () => {
    expect(statusText(message(1, { own: true, status: 'read', readBy: ['Bob', 'Carol'] }))).to.equal('Read by Bob and Carol');
    expect(statusText(message(1, { own: true, status: 'failed', error: { code: 'text_too_long', params: { max: 10 } } }))).to.equal(
      'Not sent: message is longer than 10 characters',
    );
    expect(statusText(message(1, { own: true, status: 'delivered' }))).to.equal('Delivered');
  });
});
