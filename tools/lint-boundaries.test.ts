/**
 * The import boundaries of eslint.config.js can fail: for each folder, a forbidden import is
 * an error of the boundary rule, and an allowed one passes. Code is linted as if it were
 * a file at `filePath` (which need not exist).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });
const BOUNDARY_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax', 'no-restricted-globals', 'no-restricted-properties']);

/** The boundary errors for `code` at `filePath`; fails on anything else (a parse error, an ignored file). */
async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath, warnIgnored: true });
  assert.ok(result, 'a lint result');
  const other = result.messages.filter((m) => !(m.ruleId && BOUNDARY_RULES.has(m.ruleId)));
  assert.deepEqual(other, [], `${filePath}: only boundary findings expected`);
  return result.messages.map((m) => m.message);
}

async function assertForbidden(filePath: string, code: string): Promise<void> {
  const errors = await boundaryErrors(filePath, code);
  assert.equal(errors.length, 1, `${filePath}: \`${code}\` should be one boundary error, got ${JSON.stringify(errors)}`);
}

async function assertAllowed(filePath: string, code: string): Promise<void> {
  assert.deepEqual(await boundaryErrors(filePath, code), [], `${filePath}: \`${code}\` should pass`);
}

const from = (specifier: string) => `import { x } from '${specifier}';\nexport { x };\n`;
const typeFrom = (specifier: string) => `import type { X } from '${specifier}';\nexport type { X };\n`;

describe('lint boundaries', () => {
  test('widget/client - only platform.ts touches browser globals', async () => {
    for (const code of ['export const w = window.innerWidth;\n', 'export const n = navigator.onLine;\n', 'export const d = globalThis.document;\n', 'export const c = new BroadcastChannel("x");\n']) {
      await assertForbidden('widget/client/example.ts', code);
    }
    await assertAllowed('widget/client/platform.ts', 'export const online = () => navigator.onLine;\n');
  });

  test('protocol - valibot and protocol files only', async () => {
    for (const specifier of ['../relay/hub/index.js', '../widget/client/index.js', '../loadtest/types.js', 'node:fs', 'path', 'zod']) {
      await assertForbidden('protocol/example.ts', from(specifier));
    }
    await assertForbidden('protocol/example.ts', typeFrom('../relay/store/types.js'));
    await assertAllowed('protocol/example.ts', "import * as v from 'valibot';\nimport { Limits } from './codes.js';\nexport { v, Limits };\n");
  });

  test('relay/hub - no transport, SQL, NATS, JWT, disk or network; ports and store/bus types are fine', async () => {
    const forbidden = [
      'uWebSockets.js',
      'better-sqlite3',
      'postgres',
      '@nats-io/transport-node',
      'jose',
      'ws',
      'node:fs',
      'fs',
      'node:fs/promises',
      'node:net',
      'node:http',
      '../http/routes.js',
      '../store/sqlite.js',
      '../store/postgres.js',
      '../bus/nats.js',
      '../uws.js',
    ];
    for (const specifier of forbidden) await assertForbidden('relay/hub/example.ts', from(specifier));
    // Deeper in the folder, the same targets are further up.
    await assertForbidden('relay/hub/parts/example.ts', from('../../store/sqlite.js'));
    await assertForbidden('relay/hub/parts/example.ts', from('../../http/ws.js'));
    await assertAllowed(
      'relay/hub/example.ts',
      [
        "import { randomUUID } from 'node:crypto';",
        "import { ErrorCode } from '../../protocol/index.js';",
        "import type { Bus, BusFactory } from '../bus/types.js';",
        "import { StoreUnavailableError, type Store } from '../store/types.js';",
        "import { Session } from './session.js';",
        'export { randomUUID, ErrorCode, StoreUnavailableError, Session };',
        'export type { Bus, BusFactory, Store };',
      ].join('\n'),
    );
  });

  test('widget/client - no Lit, no relay/; localforage, valibot and the protocol are fine', async () => {
    for (const specifier of ['lit', 'lit/decorators.js', '@lit/context', '../../relay/test/harness.js', '../../relay/hub/index.js']) {
      await assertForbidden('widget/client/example.ts', from(specifier));
    }
    await assertAllowed(
      'widget/client/example.ts',
      "import localforage from 'localforage';\nimport * as v from 'valibot';\nimport { Limits } from '../../protocol/index.js';\nimport { OrderingBuffer } from './ordering.js';\nexport { localforage, v, Limits, OrderingBuffer };\n",
    );
    // Tests may reach across: the client's integration tests start a real relay.
    await assertAllowed('widget/client/example.test.ts', from('../../relay/test/harness.js'));
  });

  test("the view - the client core only through its public index", async () => {
    for (const specifier of ['./client/client.js', './client/ordering.js', './client/connection.js']) {
      await assertForbidden('widget/example.ts', from(specifier));
    }
    await assertForbidden('widget/example.ts', from('./client/types.js'));
    await assertAllowed('widget/example.ts', "import { createChatClient } from './client/index.js';\nimport type { ChatClient } from './client/index.js';\nexport { createChatClient };\nexport type { ChatClient };\n");
    await assertAllowed('widget/example.ts', typeFrom('./client/types.js'));
    // The early history read is the entry's alone.
    await assertForbidden('widget/example.ts', from('./client/early.js'));
    await assertAllowed('widget/loader.ts', from('./client/early.js'));
    await assertForbidden('widget/loader.ts', from('./client/conversation.js'));
  });

  test('loadtest and tools - never relay/test/, statically or dynamically', async () => {
    await assertForbidden('loadtest/example.ts', from('../relay/test/harness.js'));
    await assertForbidden('loadtest/servers/example.ts', from('../../relay/test/services.js'));
    await assertForbidden('loadtest/example.ts', "export const services = await import('../relay/test/services.js');\n");
    await assertForbidden('tools/example.ts', from('../relay/test/harness.js'));
    await assertForbidden('relay/cluster.ts', from('./test/services.js'));
    await assertForbidden('relay/cluster.ts', "export const harness = await import('./test/harness.js');\n");
    await assertAllowed('loadtest/example.ts', `${from('../tools/spawn-relay.mjs')}export const services = await import('../tools/services.js');\n`);
    await assertAllowed('tools/example.ts', from('./spawn-relay.mjs'));
    await assertAllowed('relay/cluster.ts', from('../tools/services.js'));
  });
});
