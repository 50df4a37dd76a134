/**
 * What README.md and protocol/README.md ("Close codes") tell a client about frames the relay
 * cannot read: a binary frame is answered `bad_frame` and the connection stays; a text frame
 * that is not UTF-8 ends the connection without a close frame (1006 at the client: the
 * WebSocket server cuts it before the relay sees it), not with 1007. If the server starts
 * sending 1007, this fails and the docs must say so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

describe('close codes as documented', () => {
  let relay: RelayProcess;
  before(async () => {
    relay = await startRelay();
  });
  after(() => relay.dispose());

  test('close codes docs - binary frame: bad_frame, still open; text that is not UTF-8: closed with 1006 (no close frame)', async () => {
    const client = await TestClient.login(relay.wsUrl, { user: 'alice' });
    client.ws.send(Buffer.from(JSON.stringify({ type: 'ping', ref: 1 })), { binary: true });
    const refused = await client.next((f) => f.type === 'error');
    assert.equal(refused.type === 'error' && refused.code, 'bad_frame');
    client.send({ type: 'ping', ref: 2 });
    assert.deepEqual(await client.next((f) => f.type === 'pong'), { type: 'pong', ref: 2 });

    client.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    assert.equal((await client.closed).code, 1006);
  });
});
