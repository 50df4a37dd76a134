/**
 * A ban lifted through the server API (`DELETE …/bans/<user>`) is over at once: the
 * connection that the ban removed from the conversation is no longer told "banned" for what
 * it sends there (it gets `not_joined`, like any connection that has not joined), and its
 * join is accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { apiCall, conversationPath as path } from './api-client.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const KEY = 'unban-key-0123456789abcdef0123';
const byRef = (ref: string) => (f: ServerFrame) => 'ref' in f && f.ref === ref;

describe('unban', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_API_KEY: KEY } });
  });
  after(() => relay.dispose());

  test('unban - after DELETE …/bans/<user>, the removed connection gets not_joined (not "banned") and may join again', async () => {
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    await alice.join('unban-1');
    assert.equal((await apiCall(relay.httpUrl, 'PUT', path('unban-1', '/bans/alice'), { key: KEY, body: {} })).status, 204);
    const removed = await alice.next((f) => f.type === 'error');
    assert.equal(removed.type === 'error' && removed.code, 'forbidden');
    alice.send({ type: 'send', conv: 'unban-1', id: 'while-banned', text: 'x', ref: 's1' });
    const banned = await alice.next(byRef('s1'));
    assert.equal(banned.type === 'error' && banned.code, 'forbidden');

    assert.equal((await apiCall(relay.httpUrl, 'DELETE', path('unban-1', '/bans/alice'), { key: KEY })).status, 204);
    alice.send({ type: 'send', conv: 'unban-1', id: 'after-unban', text: 'x', ref: 's2' });
    const answer = await alice.next(byRef('s2'));
    assert.deepEqual(answer.type === 'error' && [answer.code, answer.conv, answer.id], ['not_joined', 'unban-1', 'after-unban'], JSON.stringify(answer));
    await alice.join('unban-1');
    alice.send({ type: 'send', conv: 'unban-1', id: 'after-unban', text: 'x', ref: 's3' });
    assert.equal((await alice.next(byRef('s3'))).type, 'ack');
    alice.close();
  });
});
