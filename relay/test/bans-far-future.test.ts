/**
 * A ban whose `until` lies beyond what a JavaScript Date can hold (after the year 275760,
 * more than 8.64e15 ms) is valid on the wire (a non-negative integer, as the schema says):
 * it must work as a ban for good — the user removed and refused with `forbidden` — and never
 * turn into `internal` errors on every later join, or a 500 from the server API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { JwtVerifier } from '../auth/jwt.js';
import { apiCall, conversationPath as path } from './api-client.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const KEY = 'far-future-ban-key-0123456789abcdef';
const SECRET = 'far-future-ban-jwt-secret-0123456789abcdef';
/** Number.MAX_SAFE_INTEGER and a value just past the Date range: both integers the schema takes. */
const FAR = [Number.MAX_SAFE_INTEGER, 8.7e15];

const isRef = (ref: string) => (f: ServerFrame) => 'ref' in f && f.ref === ref;

describe('bans - until beyond the Date range', () => {
  let relay: RelayProcess;
  const signer = new JwtVerifier(SECRET);
  const login = async (user: string, role?: string) =>
    TestClient.login(relay.wsUrl, { token: await signer.sign({ sub: user, convs: ['*'], ...(role ? { role } : {}) }, '10m') });

  before(async () => {
    relay = await startRelay({ env: { CHAT_API_KEY: KEY, CHAT_JWT_SECRET: SECRET } });
  });
  after(() => relay.dispose());

  test('far-future ban - through the server API: 204, the joined user removed with forbidden, a later join refused forbidden', async () => {
    for (const [i, until] of FAR.entries()) {
      const conv = `far-api-${i}`;
      const alice = await login('alice');
      await alice.join(conv);
      const banned = await apiCall(relay.httpUrl, 'PUT', path(conv, '/bans/alice'), { key: KEY, body: { until } });
      assert.equal(banned.status, 204, JSON.stringify(banned.body));
      const removed = await alice.next((f) => f.type === 'error');
      assert.deepEqual([removed.type === 'error' && removed.code, removed.type === 'error' && removed.conv], ['forbidden', conv]);
      alice.send({ type: 'join', conv, ref: 'again' });
      const refused = await alice.next(isRef('again'));
      assert.equal(refused.type === 'error' && refused.code, 'forbidden', JSON.stringify(refused));
      const members = await apiCall(relay.httpUrl, 'GET', path(conv, '/members'), { key: KEY });
      assert.equal((members.body?.['members'] as Array<{ id: string; banned?: boolean }>).find((m) => m.id === 'alice')?.banned, true);
      alice.close();
    }
  });

  test('far-future ban - by a moderator: acknowledged, and the user is refused forbidden (join, history, upload 403)', async () => {
    const mod = await login('mod', 'moderator');
    await mod.join('far-ws');
    mod.send({ type: 'ban', conv: 'far-ws', user: 'bob', until: FAR[1], ref: 'ban' });
    const ack = await mod.next(isRef('ban'));
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    const bob = await login('bob');
    bob.send({ type: 'join', conv: 'far-ws', ref: 'j' });
    const refused = await bob.next(isRef('j'));
    assert.equal(refused.type === 'error' && refused.code, 'forbidden', JSON.stringify(refused));
    bob.send({ type: 'history', conv: 'far-ws', ref: 'h' });
    const history = await bob.next(isRef('h'));
    assert.equal(history.type === 'error' && history.code, 'forbidden', JSON.stringify(history));
    const upload = await fetch(`${relay.httpUrl}/upload?conv=far-ws`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await signer.sign({ sub: 'bob', convs: ['*'] }, '10m')}`, 'content-type': 'text/plain', 'x-file-name': 'a.txt' },
      body: 'x',
    });
    assert.equal(upload.status, 403);
    mod.close();
    bob.close();
  });
});
