// Component tests of the view in Debian's Chromium (test tools cannot download browsers here).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import rollupCommonjs from '@rollup/plugin-commonjs';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { fromRollup } from '@web/dev-server-rollup';
import { chromeLauncher } from '@web/test-runner-chrome';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/chromium-args.mjs';

const commonjs = fromRollup(rollupCommonjs);
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A real relay for the tests that use the real client core (`*.relay.browser.test.ts`):
 * a child process on a free port with a temp data dir, its URL served at /__relay.
 */
function relayPlugin() {
  let child;
  let dataDir;
  let wsUrl;
  return {
    name: 'chat-relay',
    async serverStart() {
      dataDir = await mkdtemp(join(tmpdir(), 'chat-relay-wtr-'));
      const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' };
      for (const key of ['CHAT_JWT_SECRET', 'ALLOWED_ORIGINS', 'NATS_URL', 'DATABASE_URL']) delete env[key];
      child = spawn(process.execPath, ['--import', 'tsx', join(root, 'relay/main.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const logs = [];
      const port = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`relay did not start:\n${logs.join('\n')}`)), 60_000);
        const onLine = (line) => {
          logs.push(line);
          const match = /"port":(\d+).*relay listening/.exec(line);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        };
        createInterface({ input: child.stdout }).on('line', onLine);
        createInterface({ input: child.stderr }).on('line', onLine);
        child.once('exit', (code) => reject(new Error(`relay exited with ${code}:\n${logs.join('\n')}`)));
      });
      wsUrl = `ws://127.0.0.1:${port}/ws`;
    },
    async serverStop() {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
    serve(context) {
      if (context.path === '/__relay') return { body: JSON.stringify({ wsUrl }), type: 'json' };
      return undefined;
    },
  };
}

export default {
  rootDir: root,
  // *.test.ts belongs to node's runner; e2e and client-core tests have their own runners.
  files: ['widget/**/*.browser.test.ts', '!widget/e2e/**', '!widget/client/**', '!**/node_modules/**'],
  nodeResolve: { exportConditions: ['browser', 'development'] },
  concurrency: 1,
  browserStartTimeout: 120_000,
  testsStartTimeout: 120_000,
  testsFinishTimeout: 300_000,
  testFramework: { config: { timeout: 20_000 } },
  plugins: [
    relayPlugin(),
    // tsconfig: experimentalDecorators and useDefineForClassFields false, as Lit's decorators expect.
    esbuildPlugin({ ts: true, target: 'es2022', tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) }),
    // localforage ships CommonJS only.
    commonjs({ include: ['**/node_modules/localforage/**'], strictRequires: false }),
  ],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_ARGS,
      },
    }),
  ],
};
