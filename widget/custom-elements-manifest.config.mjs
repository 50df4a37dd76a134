// `npx custom-elements-manifest analyze --config widget/custom-elements-manifest.config.mjs`
// writes custom-elements.json at the repo root from the JSDoc tags on the view's classes.
export default {
  globs: ['widget/*.ts'],
  exclude: ['widget/*.test.ts', 'widget/vite.config.ts', 'widget/client/**', 'widget/test/**', 'widget/e2e/**'],
  outdir: '.',
  litelement: true,
};
