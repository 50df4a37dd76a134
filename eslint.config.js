// ESLint keeps the import boundaries of DESIGN.md ("Who may import what"), and nothing else:
// no style or formatting rules (tsc checks the types). tools/lint-boundaries.test.ts shows
// that every boundary below rejects a forbidden import and lets an allowed one through.
//
// no-restricted-imports sees the import specifier as written, not the file it resolves to,
// so the local patterns below match relative specifiers at any depth (`../http/x.js`,
// `../../relay/http/x.js`). Boundaries are for source files: tests and their helpers may
// reach across (a test of the client core starts a real relay).
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import platformBoundary from './widget/eslint.platform.js';

const TESTS = ['**/*.test.ts', '**/*.bench.ts', '**/test/**'];

/** @param {string} regex @param {string} message @param {{ allowTypeImports?: boolean }} [extra] */
const forbid = (regex, message, extra = {}) => ({ regex, message, ...extra });

const RELAY_TEST = forbid('(^|/)relay/test(/|$)', 'loadtest/ and tools use public modules (tools/spawn-relay.mjs, tools/services.ts), never relay/test/.');
/** no-restricted-imports does not look at import(): the same boundary for dynamic imports. */
const noDynamicRelayTest = (selector) => ({
  selector,
  message: 'loadtest/ and tools use public modules (tools/spawn-relay.mjs, tools/services.ts), never relay/test/.',
});

/** The view uses the client core through its public index, never its internals (client/early.js aside: see below). */
const VIEW_TO_CLIENT = [
  forbid('^\\./client/(?!index\\.js$|types\\.js$|early\\.js$)', "The view uses the client core through its public index ('./client/index.js'), not its internals."),
  // Existing type-only imports of './client/types.js' (whose types the index
  // re-exports) are tolerated until the view switches to './client/index.js'.
  forbid('^\\./client/types\\.js$', "Import the client's types from './client/index.js'.", { allowTypeImports: true }),
];
const EARLY_READ_IS_THE_ENTRYS = forbid('^\\./client/early\\.js$', "Only the entry (widget/loader.ts) reads the history early; the view uses './client/index.js'.");

export default defineConfig([
  globalIgnores(['**/node_modules/', 'build/', 'dist/', 'coverage/']),

  {
    files: ['**/*.{js,mjs,cjs,ts,mts,cts}'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    // Registered so that eslint-disable comments naming its rules resolve; none is turned on.
    plugins: { '@typescript-eslint': tseslint.plugin },
  },

  {
    name: 'boundaries/protocol',
    files: ['protocol/**'],
    ignores: TESTS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid('^(?!valibot(/|$)|\\./)', 'protocol/ imports only valibot and other protocol files (no relay/, widget/, loadtest/, node: builtins or other packages).'),
          ],
        },
      ],
    },
  },

  {
    name: 'boundaries/relay-hub',
    files: ['relay/hub/**'],
    ignores: TESTS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid('^(uWebSockets\\.js|better-sqlite3|postgres|jose|ws|nats)(/|$)', 'relay/hub/ is the domain: transports, SQL, NATS and JWT come in through ports (store/bus types, handshake).'),
            forbid('^@nats-io/', 'relay/hub/ never talks to NATS: it gets a Bus (relay/bus/types.ts).'),
            forbid('^(node:)?(fs|fs/promises|net|http)$', 'relay/hub/ never touches the disk or the network itself (house rule 10; ports instead).'),
            forbid('^(\\.\\./)+(relay/)?http(/|$)', 'relay/hub/ must not import relay/http/: the routes call the hub, not the other way round.'),
            forbid('^(\\.\\./)+(relay/)?uws(\\.[jt]s)?$', 'relay/hub/ must not import the uWebSockets.js loader.'),
            forbid('^(\\.\\./)+(relay/)?store/(sqlite|postgres)([./]|$)', 'relay/hub/ uses the Store interface (relay/store/types.ts), not an implementation.'),
            forbid('^(\\.\\./)+(relay/)?bus/nats([./]|$)', 'relay/hub/ uses the Bus interface (relay/bus/types.ts), not NatsBus.'),
          ],
        },
      ],
    },
  },

  {
    name: 'boundaries/widget-client',
    files: ['widget/client/**'],
    ignores: TESTS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            forbid('^(lit|lit-html|lit-element|@lit/[^/]+)(/|$)', 'widget/client/ is the client core: no Lit (the view bridges it with a ReactiveController).'),
            forbid('^(\\.\\./)+relay(/|$)', 'widget/client/ talks to the relay over the protocol only; no relay/ imports.'),
          ],
        },
      ],
    },
  },

  {
    name: 'boundaries/widget-view',
    files: ['widget/*.ts'],
    ignores: [...TESTS, 'widget/*.config.*'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...VIEW_TO_CLIENT, EARLY_READ_IS_THE_ENTRYS] }],
    },
  },

  {
    // The entry may import client/early.js (and only that internal): its early history read must
    // not pull the whole core into the small entry through the index (22 KB instead of 3).
    name: 'boundaries/widget-entry',
    files: ['widget/loader.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: VIEW_TO_CLIENT }],
    },
  },

  {
    name: 'boundaries/loadtest-and-tools',
    files: ['loadtest/**', 'tools/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [RELAY_TEST] }],
      'no-restricted-syntax': ['error', noDynamicRelayTest('ImportExpression[source.value=/(^|\\/)relay\\/test(\\/|$)/]')],
    },
  },

  {
    // The command-line tools that live in relay/ (`npm run cluster`, `npm run token`).
    name: 'boundaries/relay-tools',
    files: ['relay/cluster.ts', 'relay/token-cli.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [RELAY_TEST, forbid('^\\./test(/|$)', RELAY_TEST.message)] }],
      'no-restricted-syntax': ['error', noDynamicRelayTest('ImportExpression[source.value=/(^\\.\\/test|(^|\\/)relay\\/test)(\\/|$)/]')],
    },
  },
  // Only widget/client/platform.ts touches browser globals (window, document, navigator…).
  ...platformBoundary,
]);
