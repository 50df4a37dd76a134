/**
 * The README's "Tokens" commands, run as printed (a newcomer's first steps in JWT mode): the
 * secret they make must satisfy the relay, and the tokens they print must be accepted by a
 * relay running with that secret — the moderator's with `role: moderator` in `welcome`, so
 * that a newcomer can try bans and moderation without writing their own JWT code.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from '../../tools/spawn-relay.mjs';
import { startRelay, TestClient, type RelayProcess } from './harness.js';

/** The sh block right after the README's "## Tokens" heading. */
async function readmeTokenBlock(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Tokens');
  assert.ok(start > 0, 'README has a Tokens section');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start));
  assert.ok(block, 'the Tokens section has an sh block');
  assert.match(block[1]!, /npm run token/);
  return block[1]!;
}

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A clean environment for the secret: the block must make its own.
    const env = { ...process.env, CHAT_JWT_SECRET: undefined };
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('README - Tokens', () => {
  let secret = '';
  let tokens: string[] = [];
  let relay: RelayProcess | undefined;

  before(async () => {
    const block = await readmeTokenBlock();
    const result = await run(`${block}\nprintf 'SECRET=%s\\n' "$CHAT_JWT_SECRET"\n`);
    assert.equal(result.code, 0, `the README's token commands fail:\n${result.stderr}`);
    secret = /^SECRET=(.+)$/m.exec(result.stdout)?.[1] ?? '';
    tokens = result.stdout.match(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/gm) ?? [];
    relay = await startRelay({ env: { CHAT_JWT_SECRET: secret } });
  });
  after(() => relay?.dispose());

  test('README tokens - the printed commands make a secret the relay takes and tokens it accepts, the second one a moderator', async () => {
    assert.equal(tokens.length, 2, 'one token per npm run token line');
    const [member, moderator] = tokens as [string, string];

    const alice = await TestClient.login(relay!.wsUrl, { token: member });
    const welcome = alice.frames.find((f) => f.type === 'welcome');
    assert.ok(welcome && welcome.type === 'welcome', JSON.stringify(alice.frames));
    assert.equal(welcome.user.id, 'alice');
    assert.equal(welcome.role, undefined);

    const mia = await TestClient.login(relay!.wsUrl, { token: moderator });
    const modWelcome = mia.frames.find((f) => f.type === 'welcome');
    assert.ok(modWelcome && modWelcome.type === 'welcome', JSON.stringify(mia.frames));
    assert.equal(modWelcome.role, 'moderator');

    // The moderator's token works as one: a ban in a conversation its convs allow is acknowledged.
    mia.send({ type: 'ban', conv: 'support-1', user: 'bob', ref: 'b1' });
    const ack = await mia.next((f) => 'ref' in f && f.ref === 'b1');
    assert.deepEqual({ type: ack.type, id: ack.type === 'ack' ? ack.id : undefined }, { type: 'ack', id: 'ban:bob' });
    alice.close();
    mia.close();
  });

  test('README tokens - npm run token refuses a role the relay does not know', async () => {
    const result = await run(`CHAT_JWT_SECRET='${secret}' npm run --silent token -- --user x --conv c1 --role admin`);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--role takes "moderator"/);
  });
});
