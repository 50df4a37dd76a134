/**
 * The packages as a user gets them: built, `npm pack`ed, installed into a new project from
 * the tarballs (their dependencies from the registry), then used — the client core from
 * Node against a real relay, the element and its React wrapper bundled by vite — and the
 * relay package started from its own files.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startRelay, type RelayProcess } from './spawn-relay.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['protocol', 'client', 'element', 'relay'] as const;
const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) =>
  execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

describe('packages', () => {
  let work: string;
  let project: string;
  const tarballs: Record<string, string> = {};
  let relay: RelayProcess;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'chat-room-packages-'));
    run(process.execPath, [join(ROOT, 'tools/build-packages.mjs')], ROOT);
    for (const name of PACKAGES) {
      const out = run('npm', ['pack', '--json', '--pack-destination', work], join(ROOT, 'packages', name));
      tarballs[name] = join(work, (JSON.parse(out) as Array<{ filename: string }>)[0]!.filename);
    }
    project = join(work, 'app');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', tarballs.protocol!, tarballs.client!, tarballs.element!, 'ws@^8', 'react@^19', 'react-dom@^19'],
      project,
    );
    relay = await startRelay();
  });
  after(async () => {
    await relay?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  test('packages - each tarball holds its entry points and .d.ts, and no tests', () => {
    const expected: Record<string, string[]> = {
      protocol: ['dist/protocol/index.js', 'dist/protocol/index.d.ts'],
      client: ['dist/widget/client/index.js', 'dist/widget/client/index.d.ts', 'dist/protocol/index.js'],
      element: ['dist/widget/index.js', 'dist/widget/index.d.ts', 'dist/widget/elements.js', 'dist/widget/elements.d.ts', 'dist/widget/react.js', 'dist/widget/react.d.ts', 'bundle/chat-room.js', 'custom-elements.json'],
      relay: ['build/relay/main.js', 'build/relay/token-cli.js', 'dist/chat-room.js', 'demo/index.html'],
    };
    for (const name of PACKAGES) {
      const files = run('tar', ['-tzf', tarballs[name]!], work).split('\n').map((f) => f.replace(/^package\//, ''));
      for (const file of expected[name]!) assert.ok(files.includes(file), `${name} has ${file}`);
      assert.ok(!files.some((f) => /\.test\.|\/test\//.test(f)), `${name} ships no tests`);
    }
  });

  test('packages - @chat-room/client from Node: connects to a real relay and gets its message acknowledged', () => {
    writeFileSync(
      join(project, 'node-client.mjs'),
      `import WebSocket from 'ws';
import * as core from '@chat-room/client';
import { ErrorCode, PROTOCOL_VERSION } from '@chat-room/client/protocol';
const memory = new Map();
const storage = { getItem: async (k) => memory.get(k) ?? null, setItem: async (k, v) => (memory.set(k, v), v), removeItem: async (k) => void memory.delete(k) };
const client = core.createChatClient({ relay: process.env.RELAY, conversation: 'pkg', user: 'node-user', storage, WebSocket });
await client.start();
const sent = client.send('hello from an installed package');
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no ack: ' + JSON.stringify(client.snapshot))), 10000);
  client.subscribe((s) => {
    if (s.messages.some((m) => m.id === sent.id && m.status !== 'sending')) { clearTimeout(timer); resolve(); }
  });
});
console.log(JSON.stringify({ seq: client.snapshot.messages.find((m) => m.id === sent.id).seq, v: PROTOCOL_VERSION, code: ErrorCode.unauthorized }));
client.dispose();
`,
    );
    const out = JSON.parse(run(process.execPath, ['node-client.mjs'], project, { RELAY: relay.wsUrl }).trim().split('\n').at(-1)!) as { seq: number; v: number; code: string };
    assert.deepEqual(out, { seq: 1, v: 1, code: 'unauthorized' });
  });

  test('packages - @chat-room/element and its React wrapper bundle with vite; the types check', () => {
    writeFileSync(join(project, 'index.html'), '<!doctype html><script type="module" src="/main.tsx"></script><div id="root"></div>');
    writeFileSync(
      join(project, 'main.tsx'),
      `import { createRoot } from 'react-dom/client';
import { ChatRoom } from '@chat-room/element/react';
import type { ChatRoomMessageDetail } from '@chat-room/element/react';
import '@chat-room/element';
const onMessage = (event: CustomEvent<ChatRoomMessageDetail>) => console.log(event.detail.message.text);
createRoot(document.getElementById('root')!).render(<ChatRoom relay="wss://chat.example.com/ws" conversation="support-42" onMessage={onMessage} />);
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', jsx: 'react-jsx', strict: true, noEmit: true, skipLibCheck: false, lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
        include: ['main.tsx'],
      }),
    );
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '@types/react@^19', '@types/react-dom@^19'], project);
    run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project);
    run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn', '--outDir', 'out'], project);
    const assets = readdirSync(join(project, 'out/assets'));
    const js = assets.filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(project, 'out/assets', f), 'utf8')).join('\n');
    assert.match(js, /chat-room-message/, 'the React prop maps to the element event');
    assert.match(js, /customElements/, 'the element registers itself');
  });

  test('packages - @chat-room/relay starts from its own files (npx chat-room-relay) and serves the bundle', async () => {
    const app = join(work, 'relay-app');
    mkdirSync(join(app, 'node_modules/@chat-room'), { recursive: true });
    run('tar', ['-xzf', tarballs.relay!, '-C', join(app, 'node_modules/@chat-room')], work);
    const installed = join(app, 'node_modules/@chat-room/relay');
    run('mv', [join(app, 'node_modules/@chat-room/package'), installed], work);
    // The dependencies as npm would install them; linked from this checkout so that no
    // native module is compiled again. Every bare import of the package must be among them.
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; bin: Record<string, string> };
    for (const dep of Object.keys(manifest.dependencies)) {
      const target = join(app, 'node_modules', dep);
      mkdirSync(join(target, '..'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', dep), target);
    }
    const port = await freePort();
    const dataDir = join(app, 'data');
    const child = spawn(process.execPath, [join(installed, manifest.bin['chat-room-relay']!)], {
      cwd: app,
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, NODE_PATH: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    try {
      let health: Response | null = null;
      for (let i = 0; i < 200 && !health?.ok; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
        if (!health?.ok) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(health?.ok, `relay package did not start:\n${output}`);
      const bundle = await fetch(`http://127.0.0.1:${port}/chat-room.js`);
      assert.equal(bundle.status, 200);
      assert.match(await bundle.text(), /chat-room/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
