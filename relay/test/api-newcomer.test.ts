/**
 * The server API as README.md ("Server API") and protocol/README.md describe it to a
 * newcomer, on a relay in JWT mode: the statuses the docs promise for the cases they name
 * (a deleted message edited: 403; `from.name` required; a conversation nobody used: empty
 * lists), and posting a file the documented way (uploaded with a token the backend signs
 * for its bot, since uploads do not take the API key).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { JwtVerifier } from '../auth/jwt.js';
import { apiCall, conversationPath as path } from './api-client.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const KEY = 'api-newcomer-key-5c0ffee5c0ffee5c0ffee';
const SECRET = 'api-newcomer-jwt-secret-0123456789abcdef';

describe('api - as the READMEs describe it', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay({ env: { CHAT_API_KEY: KEY, CHAT_JWT_SECRET: SECRET } });
  });
  after(() => relay.dispose());

  const call = (method: string, route: string, body?: unknown) => apiCall(relay.httpUrl, method, route, { key: KEY, body });

  test('api docs - an edit of a deleted message is 403 forbidden; a repeated delete is 200 with the same seq', async () => {
    const posted = await call('POST', path('d1', '/messages'), { id: 'm1', from: { id: 'bot', name: 'Bot' }, text: 'hi' });
    assert.equal(posted.status, 201);
    const deleted = await call('DELETE', path('d1', '/messages/m1'));
    assert.equal(deleted.status, 200);
    assert.deepEqual(await call('DELETE', path('d1', '/messages/m1')).then((r) => [r.status, r.body]), [200, deleted.body]);
    const edited = await call('PATCH', path('d1', '/messages/m1'), { text: 'again' });
    assert.equal(edited.status, 403);
    assert.equal((edited.body?.['error'] as { code: string }).code, 'forbidden');
  });

  test('api docs - from.name is required: 400 bad_frame naming the field', async () => {
    const response = await call('POST', path('d1', '/messages'), { id: 'm2', from: { id: 'bot' }, text: 'hi' });
    assert.equal(response.status, 400);
    const error = response.body?.['error'] as { code: string; message: string };
    assert.equal(error.code, 'bad_frame');
    assert.match(error.message, /from\.name/);
  });

  test('protocol README - member: a first join reaches the others as member with since (the head then), then presence', async () => {
    const signer = new JwtVerifier(SECRET);
    const alice = await TestClient.login(relay.wsUrl, { token: await signer.sign({ sub: 'alice', convs: ['*'] }, '5m') });
    await alice.join('member-doc');
    assert.equal((await call('POST', path('member-doc', '/messages'), { id: 'first', from: { id: 'bot', name: 'Bot' }, text: 'hi' })).status, 201);
    const dora = await TestClient.login(relay.wsUrl, { token: await signer.sign({ sub: 'dora', name: 'Dora', convs: ['*'] }, '5m') });
    await dora.join('member-doc');
    const member = await alice.next((f) => f.type === 'member' && f.member.id === 'dora');
    assert.deepEqual(member.type === 'member' && member.member, { id: 'dora', name: 'Dora', delivered: 0, read: 0, since: 1 });
    const presence = await alice.next((f) => f.type === 'presence' && f.user === 'dora');
    assert.deepEqual(presence, { type: 'presence', conv: 'member-doc', user: 'dora', online: true });
    alice.close();
    dora.close();
  });

  test('api docs - a conversation nobody used has empty history and members (200, not 404)', async () => {
    assert.deepEqual(await call('GET', path('never-used', '/messages')).then((r) => [r.status, r.body]), [200, { messages: [], more: false }]);
    assert.deepEqual(await call('GET', path('never-used', '/members')).then((r) => [r.status, r.body]), [200, { members: [] }]);
  });

  test('api docs - a file: uploaded with a token signed for the bot (the API key is refused there), then posted as the upload answered it', async () => {
    const upload = (authorization: string) =>
      fetch(`${relay.httpUrl}/upload?conv=files-1`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'text/plain', 'x-file-name': 'receipt.txt' },
        body: 'order 1234',
      });
    assert.equal((await upload(`Bearer ${KEY}`)).status, 401, 'uploads do not take the API key');
    const token = await new JwtVerifier(SECRET).sign({ sub: 'shop-bot', name: 'Shop', convs: ['files-1'] }, '5m');
    const uploaded = await upload(`Bearer ${token}`);
    assert.equal(uploaded.status, 201);
    const file = (await uploaded.json()) as { url: string; name: string; size: number; type: string };
    const posted = await call('POST', path('files-1', '/messages'), { id: 'receipt-1234', from: { id: 'shop-bot', name: 'Shop' }, file });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const history = await call('GET', path('files-1', '/messages'));
    const [message] = history.body?.['messages'] as Array<{ file?: { url: string; name: string } }>;
    assert.deepEqual({ url: message?.file?.url, name: message?.file?.name }, { url: file.url, name: 'receipt.txt' });
    // The same file in another conversation is refused.
    const elsewhere = await call('POST', path('files-2', '/messages'), { id: 'receipt-1234', from: { id: 'shop-bot', name: 'Shop' }, file });
    assert.equal(elsewhere.status, 400);
  });
});
