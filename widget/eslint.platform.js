// The client core runs in Node and in the browser: only platform.ts may touch the browser's
// globals (DESIGN.md "Where things live"). A flat-config array for eslint.config.js to spread.
const BROWSER_GLOBALS = ['window', 'document', 'navigator', 'BroadcastChannel', 'localStorage', 'indexedDB', 'location'];

export default [
  {
    files: ['widget/client/**/*.ts'],
    ignores: ['widget/client/platform.ts', 'widget/client/**/*.test.ts', 'widget/client/test/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...BROWSER_GLOBALS.map((name) => ({
          name,
          message: `The client core reaches ${name} only through widget/client/platform.ts.`,
        })),
      ],
      // `globalThis.document` and the like, which no-restricted-globals does not see.
      'no-restricted-properties': [
        'error',
        ...BROWSER_GLOBALS.map((property) => ({
          object: 'globalThis',
          property,
          message: `The client core reaches ${property} only through widget/client/platform.ts.`,
        })),
      ],
    },
  },
];
