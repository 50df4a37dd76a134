/**
 * `npm run webhook-demo` against a real relay: it verifies and prints the events, refuses
 * unsigned requests, and its support bot answers a message asking for help through the
 * server API, once, and never answers itself.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { freePort, ROOT } from '../../tools/spawn-relay.mjs';
import { signWebhook } from '../webhooks/signature.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

const SECRET = 'demo-webhook-secret-1a2b3c4d';
const KEY = 'demo-api-key-5e6f7a8b9c0d1e2f';

describe('webhooks - the demo receiver and support bot', () => {
  let relay: RelayProcess;
  let demo: ChildProcess;
  let demoUrl: string;
  const lines: string[] = [];
  before(async () => {
    const port = await freePort();
    demoUrl = `http://127.0.0.1:${port}/webhooks`;
    relay = await startRelay({
      env: { CHAT_API_KEY: KEY, WEBHOOK_URL: demoUrl, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_MIN_MS: '100', WEBHOOK_RETRY_MAX_MS: '500' },
    });
    demo = spawn(process.execPath, ['--import', 'tsx', 'tools/webhook-demo.ts'], {
      cwd: ROOT,
      env: { ...process.env, WEBHOOK_DEMO_PORT: String(port), WEBHOOK_SECRET: SECRET, CHAT_API_KEY: KEY, CHAT_RELAY_URL: relay.httpUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [demo.stdout!, demo.stderr!]) createInterface({ input: stream }).on('line', (line) => lines.push(line));
    const deadline = Date.now() + 15_000;
    while (!lines.some((l) => l.includes('webhook demo listening'))) {
      if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`the demo did not start:\n${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    demo?.kill('SIGTERM');
    await relay?.dispose();
  });

  const waitForLine = async (pattern: RegExp) => {
    const deadline = Date.now() + 15_000;
    while (!lines.some((l) => pattern.test(l))) {
      if (Date.now() > deadline) throw new Error(`no line ${pattern} in:\n${lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  test('webhook demo - prints events; the bot answers "help" once, quoting it, and not its own message', async () => {
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice', name: 'Alice' });
    await alice.join('support-1');
    alice.send({ type: 'send', conv: 'support-1', id: 'hello-1', text: 'hello there' });
    alice.send({ type: 'send', conv: 'support-1', id: 'help-1', text: 'Can someone help me?' });
    const answer = await alice.next((f) => f.type === 'msg' && f.from.id === 'support-bot', 20_000);
    assert.equal(answer.type === 'msg' && answer.reply?.id, 'help-1');
    assert.match(answer.type === 'msg' ? answer.text ?? '' : '', /Hi Alice/);
    await waitForLine(/member\.joined support-1: Alice joined/);
    await waitForLine(/message\.created support-1: Alice: hello there/);
    await waitForLine(/message\.created support-1: Alice: Can someone help me\?/);
    // The bot's own message (its text has "help" in it) arrives as an event too, and is not answered.
    await waitForLine(/message\.created support-1: Support bot: Hi Alice/);
    assert.equal(alice.messages('support-1').filter((m) => m.from.id === 'support-bot').length, 1);
    alice.close();
  });

  test('webhook demo - a request without a valid signature is refused with 401 and not printed', async () => {
    const body = JSON.stringify({ id: 'forged', type: 'message.created', conv: 'support-1', ts: Date.now(), data: { id: 'x', text: 'help' } });
    const unsigned = await fetch(demoUrl, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(unsigned.status, 401);
    const wrongSecret = await fetch(demoUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-chat-signature': signWebhook('not-the-secret', body) } });
    assert.equal(wrongSecret.status, 401);
    const tampered = await fetch(demoUrl, { method: 'POST', body: body.replace('help', 'hElp'), headers: { 'content-type': 'application/json', 'x-chat-signature': signWebhook(SECRET, body) } });
    assert.equal(tampered.status, 401);
    assert.ok(!lines.some((l) => l.includes('forged')));
  });
});
