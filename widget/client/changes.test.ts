import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MessageFrame, UpdateFrame } from '../../protocol/index.js';
import { applyChange, applyUpdate, quoteOf } from './changes.js';

const msg = (extra: Partial<MessageFrame> = {}): MessageFrame => ({
  type: 'msg',
  conv: 'c1',
  seq: 3,
  id: 'm3',
  from: { id: 'bob', name: 'Bob' },
  text: 'hello',
  ts: 30,
  ...extra,
});

const update = (seq: number, change: Pick<UpdateFrame, 'edit' | 'delete' | 'react'>, by = 'bob'): UpdateFrame => ({
  type: 'update',
  conv: 'c1',
  seq,
  id: 'm3',
  by: { id: by, name: by },
  ts: seq * 10,
  ...change,
});

describe('changes', () => {
  test('changes - an update applies once: rev is its seq, and a replay of it (or an older one) changes nothing', () => {
    const edited = applyUpdate(msg(), update(5, { edit: { text: 'hello!' } }))!;
    assert.deepEqual({ text: edited.text, edited: edited.edited, rev: edited.rev }, { text: 'hello!', edited: 50, rev: 5 });
    assert.equal(applyUpdate(edited, update(5, { edit: { text: 'hello!' } })), null);
    assert.equal(applyUpdate(edited, update(4, { edit: { text: 'older' } })), null);
    assert.equal(applyUpdate(msg(), update(3, { delete: true })), null, 'not above the message itself');
    const reacted = applyUpdate(edited, update(6, { react: { emoji: '👍', on: true } }, 'carol'))!;
    assert.equal(applyUpdate(reacted, update(6, { react: { emoji: '👍', on: true } }, 'carol')), null);
    assert.deepEqual(reacted.reactions, { '👍': ['carol'] });
  });

  test('changes - reactions keep the order of reacting, drop an emoji nobody uses, and vanish when empty', () => {
    let message = msg();
    const react = (user: string, emoji: string, on: boolean) => (message = applyChange(message, { type: 'react', emoji, on }, user, 1));
    react('bob', '👍', true);
    react('carol', '🎉', true);
    react('alice', '👍', true);
    assert.deepEqual(message.reactions, { '👍': ['bob', 'alice'], '🎉': ['carol'] });
    const same = message;
    react('alice', '👍', true);
    assert.equal(message, same, 'putting a reaction that is on changes nothing (same object)');
    react('bob', '👍', false);
    react('carol', '🎉', false);
    assert.deepEqual(message.reactions, { '👍': ['alice'] });
    react('alice', '👍', false);
    assert.equal('reactions' in message, false);
  });

  test('changes - a delete takes text and file away and keeps reactions; nothing edits or reacts to it after', () => {
    const file = { url: '/files/abc', name: 'a.png', size: 1, type: 'image/png' };
    const deleted = applyChange(msg({ file, reactions: { '👍': ['bob'] } }), { type: 'delete' }, 'bob', 1);
    assert.deepEqual({ text: deleted.text, file: deleted.file, deleted: deleted.deleted, reactions: deleted.reactions }, {
      text: undefined,
      file: undefined,
      deleted: true,
      reactions: { '👍': ['bob'] },
    });
    assert.equal(applyChange(deleted, { type: 'edit', text: 'back' }, 'bob', 2), deleted);
    assert.equal(applyChange(deleted, { type: 'react', emoji: '🎉', on: true }, 'bob', 2), deleted);
  });

  test('changes - a quote cuts the text to 200 characters (code points) and says deleted instead of text', () => {
    const long = '😀'.repeat(250);
    const quote = quoteOf(msg({ text: long }));
    assert.equal(Array.from(quote.text!).length, 200);
    assert.deepEqual(quoteOf(msg({ deleted: true, text: undefined })), { id: 'm3', seq: 3, from: { id: 'bob', name: 'Bob' }, deleted: true });
  });
});
