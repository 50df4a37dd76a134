import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Member } from '../../protocol/index.js';
import { deriveStatus } from './status.js';

const member = (id: string, delivered: number, read: number, name = id.toUpperCase(), since?: number): Member => ({
  id,
  name,
  delivered,
  read,
  ...(since !== undefined ? { since } : {}),
});
const me = member('me', 0, 0);

test('status - not acked is sending; rejected is failed', () => {
  assert.deepEqual(deriveStatus({}, 'me', [me, member('bob', 99, 99)]), { status: 'sending', readBy: [] });
  assert.deepEqual(deriveStatus({ seq: 3, failed: true }, 'me', [me, member('bob', 99, 99)]), { status: 'failed', readBy: [] });
});

test('status - acked but not on every other device yet is sent', () => {
  const members = [me, member('bob', 5, 5), member('carol', 2, 0)];
  assert.equal(deriveStatus({ seq: 3 }, 'me', members).status, 'sent');
});

test('status - delivered once every other member has it, read once every other member read it', () => {
  const members = [me, member('bob', 5, 5), member('carol', 4, 2)];
  assert.equal(deriveStatus({ seq: 4 }, 'me', members).status, 'delivered');
  assert.equal(deriveStatus({ seq: 2 }, 'me', members).status, 'read');
  assert.equal(deriveStatus({ seq: 5 }, 'me', members).status, 'sent');
});

test('status - the user’s own cursors never count', () => {
  const members = [member('me', 0, 0), member('bob', 9, 9)];
  assert.equal(deriveStatus({ seq: 9 }, 'me', members).status, 'read');
  assert.equal(deriveStatus({ seq: 9 }, 'bob', members).status, 'sent');
});

test('status - with no other members an acked message stays sent', () => {
  assert.deepEqual(deriveStatus({ seq: 1 }, 'me', [member('me', 50, 50)]), { status: 'sent', readBy: [] });
  assert.deepEqual(deriveStatus({ seq: 1 }, 'me', []), { status: 'sent', readBy: [] });
});

test('status - readBy names the other members whose read cursor covers the message', () => {
  const members = [member('me', 9, 9), member('bob', 7, 7, 'Bob'), member('carol', 7, 3, 'Carol'), member('dan', 9, 9, 'Dan')];
  assert.deepEqual(deriveStatus({ seq: 5 }, 'me', members), { status: 'delivered', readBy: ['Bob', 'Dan'] });
  assert.deepEqual(deriveStatus({ seq: 3 }, 'me', members), { status: 'read', readBy: ['Bob', 'Carol', 'Dan'] });
});

test('status - a read cursor implies delivery even if delivered lags behind', () => {
  assert.equal(deriveStatus({ seq: 4 }, 'me', [me, member('bob', 1, 4)]).status, 'read');
  assert.equal(deriveStatus({ seq: 4 }, 'me', [me, member('bob', 1, 4), member('carol', 0, 4)]).status, 'read');
  assert.equal(deriveStatus({ seq: 4 }, 'me', [me, member('bob', 1, 4), member('carol', 4, 0)]).status, 'delivered');
});

test('status - only members who joined before the message count: a later member never turns read back to sent', () => {
  const before = [me, member('bob', 5, 5, 'Bob', 0)];
  assert.equal(deriveStatus({ seq: 5 }, 'me', before).status, 'read');
  // Carol joins when the head is 7: messages up to 7 do not wait for her.
  const after = [...before, member('carol', 0, 0, 'Carol', 7)];
  assert.deepEqual(deriveStatus({ seq: 5 }, 'me', after), { status: 'read', readBy: ['Bob'] });
  assert.equal(deriveStatus({ seq: 7 }, 'me', after).status, 'sent', 'bob has not got 7');
  // A message after she joined waits for her too.
  const caughtUp = [me, member('bob', 9, 9, 'Bob', 0), member('carol', 8, 0, 'Carol', 7)];
  assert.equal(deriveStatus({ seq: 8 }, 'me', caughtUp).status, 'delivered');
  assert.equal(deriveStatus({ seq: 9 }, 'me', caughtUp).status, 'sent');
});

test('status - with only later members an acked message stays sent', () => {
  assert.equal(deriveStatus({ seq: 3 }, 'me', [me, member('bob', 9, 9, 'Bob', 3)]).status, 'sent');
});
