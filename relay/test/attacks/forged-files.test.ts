/**
 * Defect 8 of the hardening issue: a `send` could reference any /files/<id> with any name,
 * type and size. The relay now checks that the file exists and was uploaded to that
 * conversation, and describes it from its own record.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '../../../protocol/index.js';
import { startRelay, TestClient, type RelayProcess } from '../harness.js';

async function upload(relay: RelayProcess, conv: string, user: string, bytes: number, name: string, type: string) {
  const response = await fetch(`${relay.httpUrl}/upload?conv=${conv}`, {
    method: 'POST',
    headers: { 'X-Chat-User': user, 'Content-Type': type, 'X-File-Name': encodeURIComponent(name) },
    body: new Uint8Array(bytes),
  });
  assert.equal(response.status, 201);
  return (await response.json()) as { url: string; name: string; size: number; type: string };
}

describe('attack - forged file references', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('files - an id nobody uploaded, or a file of another conversation, is refused and nothing is stored', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'mallory' });
    await client.join('mine');
    const elsewhere = await upload(relay, 'theirs', 'victim', 10, 'secret.pdf', 'application/pdf');
    const forged = { url: '/files/AAAAAAAAAAAAAAAAAAAAAA', name: 'invoice.pdf', size: 10, type: 'application/pdf' };
    for (const [id, file] of [['f1', forged], ['f2', elsewhere]] as const) {
      client.send({ type: 'send', conv: 'mine', id, file, ref: id });
      const reply = await client.next((f) => 'ref' in f && f.ref === id);
      assert.ok(reply.type === 'error' && reply.code === ErrorCode.badFrame, JSON.stringify(reply));
    }
    const joined = await client.join('mine');
    assert.equal(joined.head, 0, 'nothing was stored');
    client.close();
  });

  test('files - name, type and size come from the upload record; a text sent right behind keeps its order', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'alice' });
    await client.join('shared');
    const file = await upload(relay, 'shared', 'alice', 1234, 'photo.png', 'image/png');
    client.send({ type: 'send', conv: 'shared', id: 'with-file', file: { ...file, name: 'x.html', type: 'text/html', size: 1 } });
    client.send({ type: 'send', conv: 'shared', id: 'right-after', text: 'see above' });
    await client.until((frames) => frames.filter((f) => f.type === 'msg').length === 2);
    const [first, second] = client.messages('shared');
    assert.deepEqual(first!.file, { url: file.url, name: 'photo.png', size: 1234, type: 'image/png' });
    assert.deepEqual([first!.id, first!.seq, second!.id, second!.seq], ['with-file', 1, 'right-after', 2]);
    client.close();
  });
});
