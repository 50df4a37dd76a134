// Component tests of the view in Debian's Chromium (test tools cannot download browsers here).
import { fileURLToPath } from 'node:url';
import rollupCommonjs from '@rollup/plugin-commonjs';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { fromRollup } from '@web/dev-server-rollup';
import { chromeLauncher } from '@web/test-runner-chrome';
import { startRelay } from '../tools/spawn-relay.mjs';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './test/chromium-args.mjs';

const commonjs = fromRollup(rollupCommonjs);
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A real relay for the tests that use the real client core (`*.relay.browser.test.ts`):
 * a child process on a free port with a temp data dir, its URL served at /__relay.
 */
function relayPlugin() {
  /** @type {import('../tools/spawn-relay.d.mts').RelayProcess | undefined} */
  let relay;
  return {
    name: 'chat-relay',
    async serverStart() {
      // 60 s: the relay starts while Chromium launches, on a machine that may be busy.
      relay = await startRelay({ timeoutMs: 60_000 });
    },
    async serverStop() {
      await relay?.dispose();
    },
    serve(context) {
      if (context.path === '/__relay') return { body: JSON.stringify({ wsUrl: relay?.wsUrl }), type: 'json' };
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
