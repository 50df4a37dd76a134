/**
 * The webhook receiver printed in README.md ("A receiver in Node") is run as written (only
 * its port changed to a free one) against a real relay: it must take signed events, refuse
 * unsigned ones and ignore a repeat. So the README cannot drift from what the relay sends.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { freePort, ROOT } from '../../tools/spawn-relay.mjs';
import { signWebhook } from '../webhooks/signature.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const SECRET = 'readme-webhook-secret-0f1e2d3c';

async function readmeReceiver(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('A receiver in Node');
  assert.ok(start > 0, 'README has the receiver example');
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(start));
  assert.ok(block, 'the example is a js block');
  assert.match(block[1]!, /\.listen\(3001\)/);
  return block[1]!.replace('.listen(3001)', '.listen(Number(process.env.PORT), "127.0.0.1")');
}

describe('webhooks - the README receiver', () => {
  let relay: RelayProcess;
  let receiver: ChildProcess;
  let url: string;
  let dir: string;
  const lines: string[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chat-readme-receiver-'));
    const file = join(dir, 'receiver.mjs');
    await writeFile(file, await readmeReceiver());
    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    receiver = spawn(process.execPath, [file], { env: { ...process.env, PORT: String(port), WEBHOOK_SECRET: SECRET }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [receiver.stdout!, receiver.stderr!]) createInterface({ input: stream }).on('line', (line) => lines.push(line));
    // Listening once a request gets an answer.
    const deadline = Date.now() + 10_000;
    while ((await fetch(url, { method: 'POST', body: '{}' }).then((r) => r.status, () => 0)) !== 401) {
      if (Date.now() > deadline) throw new Error(`the README receiver did not start:\n${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    relay = await startRelay({ env: { WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET } });
  });
  after(async () => {
    receiver?.kill();
    await relay?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('README receiver - takes the relay\'s signed events, refuses a forged one, handles a repeat once', async () => {
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    await alice.join('readme');
    alice.send({ type: 'send', conv: 'readme', id: 'r1', text: 'from the readme test' });
    await alice.next((f) => f.type === 'ack');
    const deadline = Date.now() + 15_000;
    while (!lines.some((l) => l.startsWith('message.created readme'))) {
      assert.ok(Date.now() < deadline, `no event printed:\n${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(lines.some((l) => l.startsWith('member.joined readme')));

    const body = JSON.stringify({ id: 'forged-1', type: 'message.created', conv: 'readme', ts: Date.now(), data: {} });
    assert.equal((await fetch(url, { method: 'POST', body })).status, 401);
    assert.equal((await fetch(url, { method: 'POST', body, headers: { 'x-chat-signature': signWebhook('wrong', body) } })).status, 401);
    const signed = { method: 'POST', body: body.replace('forged-1', 'genuine-1'), headers: { 'x-chat-signature': signWebhook(SECRET, body.replace('forged-1', 'genuine-1')) } };
    assert.equal((await fetch(url, signed)).status, 204);
    assert.equal((await fetch(url, signed)).status, 204);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(lines.filter((l) => l.startsWith('message.created readme')).length, 2, lines.join('\n'));
    alice.close();
  });
});
