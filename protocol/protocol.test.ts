import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeClientFrame, decodeServerFrame, ErrorCode, Limits, parseClientFrame } from './index.js';

const VALID_FRAMES: object[] = [
  { type: 'hello', v: 1, token: 'abc' },
  { type: 'hello', v: 1, user: 'alice', name: 'Alice', ref: 'r1' },
  { type: 'join', conv: 'c1', after: 0 },
  { type: 'join', conv: 'support:42', after: 7, epoch: 'e1', tail: 50, ref: 3 },
  { type: 'leave', conv: 'c1' },
  { type: 'send', conv: 'c1', id: 'm-1', text: 'hi' },
  { type: 'send', conv: 'c1', id: 'm-2', file: { url: '/files/abcdefghijklmnopqrstuv', name: 'a.png', size: 1, type: 'image/png' } },
  { type: 'history', conv: 'c1', before: 43, limit: 50 },
  { type: 'history', conv: 'c1', after: 40, limit: 200 },
  { type: 'typing', conv: 'c1', active: true },
  { type: 'receipt', conv: 'c1', delivered: 43 },
  { type: 'receipt', conv: 'c1', read: 43 },
  { type: 'ping', ref: 'p' },
];

test('decodeClientFrame - accepts every frame of PROTOCOL.md', () => {
  for (const frame of VALID_FRAMES) {
    const result = decodeClientFrame(frame);
    assert.ok(result.ok, `${JSON.stringify(frame)}: ${result.ok ? '' : result.message}`);
  }
});

test('decodeClientFrame - ignores unknown fields (forward compatible)', () => {
  const result = decodeClientFrame({ type: 'typing', conv: 'c1', active: false, future: 1 });
  assert.ok(result.ok);
  assert.deepEqual(result.frame, { type: 'typing', conv: 'c1', active: false });
});

test('decodeClientFrame - rejects with a precise code and message, keeping ref', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [[], ErrorCode.badFrame, /JSON object/],
    [null, ErrorCode.badFrame, /JSON object/],
    [{ type: 'dance' }, ErrorCode.badFrame, /unknown frame type/],
    [{ conv: 'c1' }, ErrorCode.badFrame, /unknown frame type/],
    [{ type: 'hello', v: 2, user: 'a' }, ErrorCode.unsupportedVersion, /version 2/],
    [{ type: 'join', conv: 'bad conv!' }, ErrorCode.badFrame, /conv/],
    [{ type: 'join', conv: 'x'.repeat(129) }, ErrorCode.badFrame, /conv/],
    [{ type: 'join', conv: 'c1', after: -1 }, ErrorCode.badFrame, /after/],
    [{ type: 'join', conv: 'c1', after: 1.5 }, ErrorCode.badFrame, /after/],
    [{ type: 'send', conv: 'c1', id: 'm1' }, ErrorCode.badFrame, /text or file/],
    [{ type: 'send', conv: 'c1', id: 'm1', text: '   ' }, ErrorCode.badFrame, /text or file/],
    [{ type: 'send', conv: 'c1', id: 'm1', text: 'x'.repeat(Limits.maxTextChars + 1) }, ErrorCode.tooLarge, /longer than/],
    [{ type: 'send', conv: 'c1', id: 'm1', file: { url: 'javascript:alert(1)', name: 'a', size: 1, type: 'x/y' } }, ErrorCode.badFrame, /url/],
    [{ type: 'history', conv: 'c1', limit: 201 }, ErrorCode.badFrame, /limit/],
    [{ type: 'history', conv: 'c1', before: 5, after: 2 }, ErrorCode.badFrame, /not both/],
    [{ type: 'typing', conv: 'c1', active: 'yes' }, ErrorCode.badFrame, /active/],
    [{ type: 'receipt', conv: 'c1' }, ErrorCode.badFrame, /delivered or read/],
    [{ type: 'send', conv: 'c1', id: 'm1', text: 'nul \u0000 inside' }, ErrorCode.badFrame, /NUL/],
    [{ type: 'send', conv: 'c1', id: 'm1', text: 'lone \uD800 surrogate' }, ErrorCode.badFrame, /surrogates/],
    [{ type: 'hello', v: 1, user: 'a', name: 'x\uDC00' }, ErrorCode.badFrame, /surrogates/],
  ];
  for (const [input, code, message] of cases) {
    const result = decodeClientFrame(input);
    assert.equal(result.ok, false, JSON.stringify(input));
    if (result.ok) continue;
    assert.equal(result.code, code, JSON.stringify(input));
    assert.match(result.message, message, JSON.stringify(input));
  }
  const withRef = decodeClientFrame({ type: 'send', conv: 'c1', id: 'm1', ref: 'keep-me' });
  assert.ok(!withRef.ok && withRef.ref === 'keep-me');
});

test('decodeClientFrame - text length counts characters, not UTF-16 units', () => {
  const emoji = '😀'.repeat(Limits.maxTextChars); // 8,000 UTF-16 units, 4,000 characters
  assert.ok(decodeClientFrame({ type: 'send', conv: 'c', id: 'i', text: emoji }).ok);
  assert.ok(!decodeClientFrame({ type: 'send', conv: 'c', id: 'i', text: `${emoji}x` }).ok);
});

test('parseClientFrame - invalid JSON is a bad_frame', () => {
  const result = parseClientFrame('{"type":');
  assert.ok(!result.ok && result.code === ErrorCode.badFrame);
});

test('decodeClientFrame - never throws on arbitrary JSON (fuzz)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const result = decodeClientFrame(value);
      assert.equal(typeof result.ok, 'boolean');
    }),
    { numRuns: 5000 },
  );
});

test('decodeClientFrame - mutated valid frames are accepted or rejected with a known code (fuzz)', () => {
  const codes = new Set<string>(Object.values(ErrorCode));
  const frame = fc.constantFrom(...VALID_FRAMES);
  const mutation = fc.record({ key: fc.constantFrom('type', 'v', 'conv', 'id', 'text', 'after', 'before', 'limit', 'active', 'read', 'ref', 'file'), value: fc.anything() });
  fc.assert(
    fc.property(frame, fc.array(mutation, { maxLength: 3 }), (base, mutations) => {
      const mutated: Record<string, unknown> = { ...base };
      for (const { key, value } of mutations) mutated[key] = value;
      const result = decodeClientFrame(mutated);
      if (!result.ok) assert.ok(codes.has(result.code));
    }),
    { numRuns: 5000 },
  );
});

test('decodeServerFrame - accepts relay frames and rejects malformed ones', () => {
  assert.ok(decodeServerFrame({ type: 'msg', conv: 'c1', seq: 1, id: 'm', from: { id: 'a', name: 'A' }, text: 'x', ts: 1 }).ok);
  assert.ok(decodeServerFrame({ type: 'joined', conv: 'c1', epoch: 'e', head: 0, members: [], typing: [] }).ok);
  assert.ok(!decodeServerFrame({ type: 'msg', conv: 'c1', seq: 0, id: 'm', from: { id: 'a', name: 'A' }, ts: 1 }).ok);
  assert.ok(!decodeServerFrame({ type: 'nope' }).ok);
});

test('v1.1 - edit, delete, react, ban and send with reply are client frames', () => {
  const frames: object[] = [
    { type: 'send', conv: 'c1', id: 'm-3', text: 'yes', reply: 'm-1' },
    { type: 'edit', conv: 'c1', id: 'm-1', text: 'new text', ref: 1 },
    { type: 'delete', conv: 'c1', id: 'm-1' },
    { type: 'react', conv: 'c1', id: 'm-1', emoji: '👍', on: true },
    { type: 'react', conv: 'c1', id: 'm-1', emoji: '👨‍👩‍👧‍👦', on: false },
    { type: 'react', conv: 'c1', id: 'm-1', emoji: '🇩🇪', on: true },
    { type: 'react', conv: 'c1', id: 'm-1', emoji: '❤️', on: true },
    { type: 'ban', conv: 'c1', user: 'bob' },
    { type: 'ban', conv: 'c1', user: 'bob', until: 1_900_000_000_000 },
  ];
  for (const frame of frames) {
    const result = decodeClientFrame(frame);
    assert.ok(result.ok, `${JSON.stringify(frame)}: ${result.ok ? '' : result.message}`);
  }
});

test('v1.1 - invalid changes are bad frames or too large', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ type: 'edit', conv: 'c1', id: 'm1', text: '  ' }, ErrorCode.badFrame, /blank/],
    [{ type: 'edit', conv: 'c1', id: 'm1' }, ErrorCode.badFrame, /text/],
    [{ type: 'edit', conv: 'c1', id: 'm1', text: 'x'.repeat(Limits.maxTextChars + 1) }, ErrorCode.tooLarge, /longer than/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: 'ok', on: true }, ErrorCode.badFrame, /emoji/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: '', on: true }, ErrorCode.badFrame, /emoji/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: '👍 ', on: true }, ErrorCode.badFrame, /emoji/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: '!'.repeat(17), on: true }, ErrorCode.badFrame, /emoji/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: '👍' }, ErrorCode.badFrame, /on/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: '\u200b', on: true }, ErrorCode.badFrame, /visible/],
    [{ type: 'react', conv: 'c1', id: 'm1', emoji: '\u200d\ufe0f', on: true }, ErrorCode.badFrame, /visible/],
    [{ type: 'history', conv: 'c1', after: 1e300 }, ErrorCode.badFrame, /after/],
    [{ type: 'ban', conv: 'c1', user: 'bob', until: 1e300 }, ErrorCode.badFrame, /until/],
    [{ type: 'ban', conv: 'c1', user: 'bad user' }, ErrorCode.badFrame, /user/],
    [{ type: 'ban', conv: 'c1', user: 'bob', until: -5 }, ErrorCode.badFrame, /until/],
    [{ type: 'send', conv: 'c1', id: 'm1', text: 'x', reply: 'not an id' }, ErrorCode.badFrame, /reply/],
  ];
  for (const [input, code, message] of cases) {
    const result = decodeClientFrame(input);
    assert.equal(result.ok, false, JSON.stringify(input));
    if (result.ok) continue;
    assert.equal(result.code, code, JSON.stringify(input));
    assert.match(result.message, message, JSON.stringify(input));
  }
});

test('v1.1 - update, presence and materialised messages are relay frames', () => {
  const by = { id: 'alice', name: 'Alice' };
  assert.ok(decodeServerFrame({ type: 'update', conv: 'c1', seq: 61, id: 'm1', by, ts: 1, edit: { text: 'x' } }).ok);
  assert.ok(decodeServerFrame({ type: 'update', conv: 'c1', seq: 62, id: 'm1', by, ts: 1, delete: true }).ok);
  assert.ok(decodeServerFrame({ type: 'update', conv: 'c1', seq: 63, id: 'm1', by, ts: 1, react: { emoji: '👍', on: true } }).ok);
  assert.ok(!decodeServerFrame({ type: 'update', conv: 'c1', seq: 64, id: 'm1', by, ts: 1 }).ok, 'an update changes something');
  assert.ok(!decodeServerFrame({ type: 'update', conv: 'c1', seq: 64, id: 'm1', by, ts: 1, delete: true, edit: { text: 'x' } }).ok);
  assert.ok(decodeServerFrame({ type: 'presence', conv: 'c1', user: 'bob', online: false, seen: 5 }).ok);
  const message = {
    type: 'msg', conv: 'c1', seq: 3, id: 'm3', from: by, text: 'yes', ts: 1, edited: 2, rev: 9,
    reactions: { '👍': ['alice', 'bob'] },
    reply: { id: 'm1', seq: 1, from: by, deleted: true },
  };
  assert.ok(decodeServerFrame(message).ok);
  const history = { type: 'history', conv: 'c1', more: false, messages: [message, { type: 'update', conv: 'c1', seq: 9, id: 'm3', by, ts: 1, react: { emoji: '👍', on: true } }] };
  assert.ok(decodeServerFrame(history).ok);
  const joined = { type: 'joined', conv: 'c1', epoch: 'e', head: 9, typing: [], members: [{ id: 'bob', name: 'Bob', delivered: 0, read: 0, since: 4, online: true, seen: 7, banned: false }] };
  assert.ok(decodeServerFrame(joined).ok);
});

test('v1.1 - a ban ack (head 0, id ban:<user>) and a moderator welcome decode', () => {
  assert.ok(decodeServerFrame({ type: 'ack', conv: 'c1', id: `ban:${'u'.repeat(128)}`, seq: 0, ts: 1, ref: 'b' }).ok);
  assert.ok(decodeServerFrame({ type: 'welcome', v: 1, user: { id: 'mod', name: 'Mod' }, role: 'moderator' }).ok);
  assert.ok(!decodeServerFrame({ type: 'welcome', v: 1, user: { id: 'mod', name: 'Mod' }, role: 'admin' }).ok);
});
