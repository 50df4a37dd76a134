/**
 * Builds the embeddable bundle: ONE ES module at dist/chat-room.js with Lit, @lit/context,
 * localforage and valibot inside, so a page needs nothing but the script tag.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  // The bundle is served by the relay and loaded from other origins: no public dir, no HTML.
  publicDir: false,
  define: {
    // Lit's dev-mode warnings and checks stay out of the production bundle.
    'process.env.NODE_ENV': JSON.stringify('production'),
  },
  resolve: {
    conditions: ['browser', 'production'],
  },
  build: {
    outDir: fileURLToPath(new URL('../dist', import.meta.url)),
    emptyOutDir: false,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: true,
    lib: {
      entry: fileURLToPath(new URL('./index.ts', import.meta.url)),
      formats: ['es'],
      fileName: () => 'chat-room.js',
    },
    rolldownOptions: {
      // Everything is bundled: an embedding page has no import map.
      external: [],
      output: {
        // Library mode leaves whitespace in unless the output minifier is asked for.
        minify: true,
        codeSplitting: false,
      },
    },
  },
});
