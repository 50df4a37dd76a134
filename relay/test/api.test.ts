/**
 * The server API on a real relay (SQLite, in-process bus): authorisation, validation, the
 * routes of PROTOCOL.md "Server API", idempotent writes, and that what the API does reaches
 * WebSocket clients like a frame would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ServerFrame } from '../../protocol/index.js';
import { apiCall, conversationPath as path } from './api-client.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const KEY = 'api-key-for-tests-4f1d2c3b5a697887';

describe('api - off without CHAT_API_KEY', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_API_KEY: undefined } });
  });
  after(() => relay.dispose());

  test('api off - every /api route answers 404, with or without a key, and nothing is stored', async () => {
    for (const [method, route] of [
      ['GET', path('c1', '/messages')],
      ['POST', path('c1', '/messages')],
      ['PATCH', path('c1', '/messages/m1')],
      ['PUT', path('c1', '/bans/bob')],
      ['GET', '/api/v1/anything'],
    ] as const) {
      const body = method === 'POST' ? { id: 'm1', from: { id: 'bot', name: 'Bot' }, text: 'hi' } : undefined;
      for (const key of [undefined, KEY]) {
        const response = await apiCall(relay.httpUrl, method, route, { key, body });
        assert.equal(response.status, 404, `${method} ${route}`);
      }
    }
    const client = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const joined = await client.join('c1');
    assert.equal(joined.head, 0);
    client.close();
  });
});

describe('api - on', () => {
  let relay: RelayProcess;
  let alice: TestClient;
  before(async () => {
    relay = await startRelay({ env: { CHAT_API_KEY: KEY, LOG_LEVEL: 'debug' } });
    alice = await TestClient.login(relay.wsUrl, { user: 'alice', name: 'Alice' });
    await alice.join('c1');
  });
  after(async () => {
    alice.close();
    await relay.dispose();
  });

  const post = (body: unknown, key = KEY, conv = 'c1') => apiCall(relay.httpUrl, 'POST', path(conv, '/messages'), { key, body });

  test('api - a bad, missing or malformed key gets 401 and changes nothing', async () => {
    const message = { id: 'unauthorised', from: { id: 'bot', name: 'Bot' }, text: 'must not be stored' };
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Bearer ${KEY}x` },
      { authorization: `Bearer ${KEY.slice(0, -1)}` },
      { authorization: KEY },
      { authorization: `Basic ${KEY}` },
      { authorization: `Bearer ${KEY} extra` },
    ];
    for (const headers of attempts) {
      for (const [method, route, body] of [
        ['POST', path('c1', '/messages'), message],
        ['DELETE', path('c1', '/messages/anything'), undefined],
        ['PUT', path('c1', '/bans/alice'), {}],
        ['GET', path('c1', '/members'), undefined],
        ['GET', '/api/v1/no-such-route', undefined],
      ] as const) {
        const response = await apiCall(relay.httpUrl, method, route, { body, headers });
        assert.equal(response.status, 401, `${method} ${route} with ${JSON.stringify(headers)}`);
        assert.deepEqual(response.body, { error: { code: 'unauthorized', message: 'the server API needs Authorization: Bearer <CHAT_API_KEY>' } });
        assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      }
    }
    const history = await apiCall(relay.httpUrl, 'GET', path('c1', '/messages'), { key: KEY });
    assert.equal(history.status, 200);
    assert.ok(!(history.body!.messages as Array<{ id: string }>).some((m) => m.id === 'unauthorised'));
    // alice is not banned, and heard nothing.
    assert.ok(!alice.frames.some((f) => (f.type === 'msg' && f.id === 'unauthorised') || f.type === 'error'));
  });

  test('api - malformed bodies and queries get 400 with a code; too long a text or body 413', async () => {
    const refused: Array<[unknown, number, string]> = [
      ['not json', 400, 'bad_frame'],
      ['[1,2]', 400, 'bad_frame'],
      [{}, 400, 'bad_frame'],
      [{ id: 'x1', text: 'no sender' }, 400, 'bad_frame'],
      [{ id: 'x1', from: { id: 'bot' }, text: 'a sender without a name' }, 400, 'bad_frame'],
      [{ id: 'bad id!', from: { id: 'bot', name: 'Bot' }, text: 'hi' }, 400, 'bad_frame'],
      [{ id: 'x1', from: { id: 'bot', name: 'Bot' } }, 400, 'bad_frame'],
      [{ id: 'x1', from: { id: 'bot', name: 'Bot' }, text: '   ' }, 400, 'bad_frame'],
      [{ id: 'x1', from: { id: 'bot', name: 'Bot' }, text: 'hi', reply: 'no-such-message' }, 400, 'bad_frame'],
      [{ id: 'x1', from: { id: 'bot', name: 'Bot' }, text: 'x'.repeat(4001) }, 413, 'too_large'],
      [JSON.stringify({ id: 'x1', from: { id: 'bot', name: 'Bot' }, text: 'x'.repeat(70_000) }), 413, 'too_large'],
    ];
    for (const [body, status, code] of refused) {
      const response = await post(body);
      assert.equal(response.status, status, JSON.stringify(body).slice(0, 80));
      const error = (response.body as { error: { code: string; message: string } }).error;
      assert.equal(error.code, code);
      assert.equal(typeof error.message, 'string');
    }
    for (const query of ['?limit=0', '?limit=201', '?limit=x', '?before=-1', '?before=5&after=1', '?after=1.5']) {
      const response = await apiCall(relay.httpUrl, 'GET', path('c1', `/messages${query}`), { key: KEY });
      assert.equal(response.status, 400, query);
      assert.equal((response.body as { error: { code: string } }).error.code, 'bad_frame');
    }
    const badConv = await apiCall(relay.httpUrl, 'GET', '/api/v1/conversations/bad%20conv/messages', { key: KEY });
    assert.equal(badConv.status, 400);
    const edit = await apiCall(relay.httpUrl, 'PATCH', path('c1', '/messages/whatever'), { key: KEY, body: { text: 42 } });
    assert.equal(edit.status, 400);
    const ban = await apiCall(relay.httpUrl, 'PUT', path('c1', '/bans/bob'), { key: KEY, body: { until: 'tomorrow' } });
    assert.equal(ban.status, 400);
    assert.equal((await apiCall(relay.httpUrl, 'GET', '/api/v1/conversations/c1/nothing', { key: KEY })).status, 404);
    const wrongMethod = await apiCall(relay.httpUrl, 'PUT', path('c1', '/messages'), { key: KEY, body: {} });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'GET, HEAD, POST');
    // None of it reached the conversation.
    assert.ok(!alice.frames.some((f) => f.type === 'msg'));
  });

  test('api - a posted message reaches joined WebSocket clients; a repeat gets 200 with the same body and is not fanned out again', async () => {
    const message = { id: 'api-1', from: { id: 'support-bot', name: 'Support bot' }, text: 'Hello from the backend' };
    const first = await post(message);
    assert.equal(first.status, 201);
    const { id, seq, ts } = first.body as { id: string; seq: number; ts: number };
    assert.equal(id, 'api-1');
    assert.ok(seq >= 1 && ts > 0);
    const frame = await alice.next((f) => f.type === 'msg' && f.id === 'api-1');
    assert.deepEqual(frame, { type: 'msg', conv: 'c1', seq, id: 'api-1', from: { id: 'support-bot', name: 'Support bot' }, text: 'Hello from the backend', ts });
    const repeat = await post(message);
    assert.equal(repeat.status, 200);
    assert.deepEqual(repeat.body, first.body);
    // The same id from another sender is a conflict, not a silent success.
    const conflict = await post({ ...message, from: { id: 'someone-else', name: 'X' } });
    assert.equal(conflict.status, 409);
    assert.equal((conflict.body as { error: { code: string } }).error.code, 'conflict');
    // A later message arrives; the repeat never did.
    await post({ id: 'api-2', from: { id: 'support-bot', name: 'Support bot' }, text: 'second', reply: 'api-1' });
    await alice.next((f) => f.type === 'msg' && f.id === 'api-2');
    assert.equal(alice.messages('c1').filter((m) => m.id === 'api-1').length, 1);
    const reply = alice.messages('c1').find((m) => m.id === 'api-2')!;
    assert.equal(reply.reply?.id, 'api-1');
  });

  test('api - history pages: the messages as `history` gives them, before/after/limit', async () => {
    for (let i = 1; i <= 5; i++) assert.equal((await post({ id: `page-${i}`, from: { id: 'bot', name: 'Bot' }, text: `p${i}` }, KEY, 'pages')).status, 201);
    const all = await apiCall(relay.httpUrl, 'GET', path('pages', '/messages'), { key: KEY });
    assert.equal(all.status, 200);
    const messages = all.body!.messages as Array<{ type: string; seq: number; text: string }>;
    assert.deepEqual(messages.map((m) => [m.type, m.seq, m.text]), [1, 2, 3, 4, 5].map((n) => ['msg', n, `p${n}`]));
    assert.equal(all.body!.more, false);
    const older = await apiCall(relay.httpUrl, 'GET', path('pages', '/messages?before=5&limit=2'), { key: KEY });
    assert.deepEqual((older.body!.messages as Array<{ seq: number }>).map((m) => m.seq), [3, 4]);
    assert.equal(older.body!.more, true);
    const newer = await apiCall(relay.httpUrl, 'GET', path('pages', '/messages?after=3'), { key: KEY });
    assert.deepEqual((newer.body!.messages as Array<{ seq: number }>).map((m) => m.seq), [4, 5]);
    const head = await fetch(`${relay.httpUrl}${path('pages', '/messages')}`, { method: 'HEAD', headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('api - edit and delete any message: update frames reach clients; a repeat answers the current rev; unknown 404', async () => {
    alice.send({ type: 'send', conv: 'c1', id: 'alice-1', text: 'typo' });
    await alice.next((f) => f.type === 'ack' && f.id === 'alice-1');
    const edit = await apiCall(relay.httpUrl, 'PATCH', path('c1', '/messages/alice-1'), { key: KEY, body: { text: 'fixed' } });
    assert.equal(edit.status, 200);
    const { seq } = edit.body as { seq: number };
    const update = await alice.next((f) => f.type === 'update' && f.id === 'alice-1');
    assert.equal(update.type === 'update' && update.seq, seq);
    assert.deepEqual(update.type === 'update' && update.edit, { text: 'fixed' });
    const again = await apiCall(relay.httpUrl, 'PATCH', path('c1', '/messages/alice-1'), { key: KEY, body: { text: 'fixed' } });
    assert.deepEqual([again.status, again.body], [200, { seq }]);

    const deleted = await apiCall(relay.httpUrl, 'DELETE', path('c1', '/messages/alice-1'), { key: KEY });
    assert.equal(deleted.status, 200);
    const deleteSeq = (deleted.body as { seq: number }).seq;
    assert.ok(deleteSeq > seq);
    const tombstone = await alice.next((f) => f.type === 'update' && f.id === 'alice-1' && f.delete === true);
    assert.equal(tombstone.type === 'update' && tombstone.seq, deleteSeq);
    const deletedAgain = await apiCall(relay.httpUrl, 'DELETE', path('c1', '/messages/alice-1'), { key: KEY });
    assert.deepEqual([deletedAgain.status, deletedAgain.body], [200, { seq: deleteSeq }]);

    for (const [method, body] of [['PATCH', { text: 'x' }], ['DELETE', undefined]] as const) {
      const missing = await apiCall(relay.httpUrl, method, path('c1', '/messages/no-such-message'), { key: KEY, body });
      assert.equal(missing.status, 404, method);
      assert.equal((missing.body as { error: { code: string } }).error.code, 'not_found');
    }
  });

  test('api - members with presence; a ban removes the user from the conversation at once and shows; unban lets them back', async () => {
    const bob = await TestClient.login(relay.wsUrl, { user: 'bob', name: 'Bob' });
    await bob.join('c1');
    const members = await apiCall(relay.httpUrl, 'GET', path('c1', '/members'), { key: KEY });
    assert.equal(members.status, 200);
    const byId = new Map((members.body!.members as Array<{ id: string; online?: boolean; since?: number }>).map((m) => [m.id, m]));
    assert.equal(byId.get('bob')?.online, true);
    assert.equal(typeof byId.get('bob')?.since, 'number');

    const ban = await apiCall(relay.httpUrl, 'PUT', path('c1', '/bans/bob'), { key: KEY, body: {} });
    assert.equal(ban.status, 204);
    assert.equal(ban.body, null);
    const removed = await bob.next((f) => f.type === 'error' && f.code === 'forbidden');
    assert.equal((removed as Extract<ServerFrame, { type: 'error' }>).conv, 'c1');
    // Banned: cannot join again.
    bob.send({ type: 'join', conv: 'c1', ref: 'rejoin' });
    const refused = await bob.next((f) => 'ref' in f && f.ref === 'rejoin');
    assert.equal(refused.type, 'error');
    const repeat = await apiCall(relay.httpUrl, 'PUT', path('c1', '/bans/bob'), { key: KEY });
    assert.equal(repeat.status, 204);
    const listed = await apiCall(relay.httpUrl, 'GET', path('c1', '/members'), { key: KEY });
    assert.equal((listed.body!.members as Array<{ id: string; banned?: boolean }>).find((m) => m.id === 'bob')?.banned, true);

    assert.equal((await apiCall(relay.httpUrl, 'DELETE', path('c1', '/bans/bob'), { key: KEY })).status, 204);
    assert.equal((await apiCall(relay.httpUrl, 'DELETE', path('c1', '/bans/bob'), { key: KEY })).status, 204);
    const back = await bob.join('c1');
    assert.equal(back.type, 'joined');
    bob.close();
  });

  test('api - no CORS: browsers get no Access-Control headers, preflights are not granted', async () => {
    const preflight = await fetch(`${relay.httpUrl}${path('c1', '/messages')}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
    assert.equal(preflight.headers.get('access-control-allow-headers'), null);
    const get = await apiCall(relay.httpUrl, 'GET', path('c1', '/messages'), { key: KEY, headers: { origin: 'https://evil.example' } });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('access-control-allow-origin'), null);
  });

  test('api - the key never appears in the logs, even at debug level', () => {
    assert.ok(relay.logs.some((line) => line.includes('server API request')), 'requests are logged');
    assert.ok(!relay.logs.some((line) => line.includes(KEY)));
  });
});
