/**
 * `npm run cluster` as README.md ("Running several relays") tells a newcomer to try it: two
 * relays on the ports given, sharing a throwaway PostgreSQL and NATS; settings from its
 * environment (here CHAT_API_KEY) reach both relays, so a message posted through the server
 * API of one reaches a WebSocket client of the other; SIGTERM stops everything and removes
 * the temp dirs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { freePort, ROOT } from '../../tools/spawn-relay.mjs';
import { apiCall, conversationPath as path } from './api-client.js';
import { TestClient } from './harness.js';

const KEY = 'cluster-script-key-0123456789abcdef';

describe('npm run cluster', () => {
  let child: ChildProcess;
  let exited: Promise<number | null>;
  const lines: string[] = [];
  let ports: [number, number];

  before(async () => {
    ports = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env, CHAT_API_KEY: KEY };
    for (const name of ['CHAT_JWT_SECRET', 'DATABASE_URL', 'NATS_URL', 'WEBHOOK_URL', 'WEBHOOK_SECRET', 'METRICS_TOKEN', 'ALLOWED_ORIGINS']) delete env[name];
    // What `npm run cluster -- --ports a,b` runs.
    child = spawn(process.execPath, ['--import', 'tsx', 'relay/cluster.ts', '--ports', ports.join(',')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const running = new Promise<void>((resolve, reject) => {
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          lines.push(line);
          if (lines.length > 2000) lines.shift();
          if (line.includes('chat-room cluster is running')) resolve();
        });
      }
      void exited.then((code) => reject(new Error(`npm run cluster exited (${code}):\n${lines.slice(-30).join('\n')}`)));
    });
    await running;
    // The summary follows the heading: wait for its data line.
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => /^\s+data\s/.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('cluster script - the environment reaches both relays: an API post on one reaches a client of the other; SIGTERM cleans up', async () => {
    const [one, two] = ports;
    const bob = await TestClient.login(`ws://127.0.0.1:${two}/ws`, { user: 'bob', name: 'Bob' });
    await bob.join('cluster-script');
    const posted = await apiCall(`http://127.0.0.1:${one}`, 'POST', path('cluster-script', '/messages'), {
      key: KEY,
      body: { id: 'hello-1', from: { id: 'bot', name: 'Bot' }, text: 'across relays' },
    });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    const msg = await bob.next((f) => f.type === 'msg' && f.id === 'hello-1', 15_000);
    assert.equal(msg.type === 'msg' && msg.text, 'across relays');
    const members = await apiCall(`http://127.0.0.1:${two}`, 'GET', path('cluster-script', '/members'), { key: KEY });
    assert.equal(members.status, 200, 'the API is on on the second relay too');
    bob.close();

    const dataDir = /^\s+data\s+(\S+)/m.exec(lines.join('\n'))?.[1];
    assert.ok(dataDir && existsSync(dataDir), `the data dir is printed and exists:\n${lines.slice(-20).join('\n')}`);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(lines.some((l) => l.includes('temp dirs removed')));
    assert.equal(existsSync(dataDir), false, 'temp dirs removed');
  });
});
