// Component tests of the view in Debian's Chromium (test tools cannot download browsers here).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import rollupCommonjs from '@rollup/plugin-commonjs';
import { esbuildPlugin } from '@web/dev-server-esbuild';
import { fromRollup } from '@web/dev-server-rollup';
import { chromeLauncher } from '@web/test-runner-chrome';

const commonjs = fromRollup(rollupCommonjs);
const root = fileURLToPath(new URL('..', import.meta.url));

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
    // TEMPORARY until widget/client/index.ts lands: the view tests inject a fake client anyway.
    {
      name: 'client-core-placeholder',
      serve(context) {
        if (context.path === '/widget/client/index.js' && !existsSync(`${root}widget/client/index.ts`)) {
          return { body: 'export function createChatClient() { throw new Error("client core missing"); }', type: 'js' };
        }
        return undefined;
      },
    },
    // tsconfig: experimentalDecorators and useDefineForClassFields false, as Lit's decorators expect.
    esbuildPlugin({ ts: true, target: 'es2022', tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) }),
    // localforage ships CommonJS only.
    commonjs({ include: ['**/node_modules/localforage/**'], strictRequires: false }),
  ],
  browsers: [
    chromeLauncher({
      launchOptions: {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-dev-shm-usage',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      },
    }),
  ],
};
