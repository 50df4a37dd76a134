/**
 * Builds what the relay serves: dist/chat-room.js, a small entry (widget/loader.ts) that loads
 * the widget itself from content-hashed chunks in dist/chat-room/ (Lit, @lit/context and
 * valibot inside; imported relative to the entry's URL, so a page on any origin needs nothing
 * but the script tag), and one chunk per language other than English.
 *
 * The build checks the size budget in widget/size-budget.json (gzip -9, what the relay sends):
 * the entry, and the complete widget (the entry, everything the widget loads for an inline chat,
 * and the largest language). Over a limit, the build fails.
 */
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = fileURLToPath(new URL('../dist', import.meta.url));
const CHUNK_DIR = 'chat-room';

interface Budget {
  /** Bytes (gzip -9) the entry may have. */
  entry: number;
  /** Bytes (gzip -9) the complete widget may have: entry + the widget's chunks + the largest language. */
  widget: number;
  /** Where the complete widget should get to (issue 12: 40 KB); printed, not enforced, until reached. */
  goal: number;
}

/**
 * Lit's css`` templates keep the source's indentation, comments and newlines: collapsed here
 * (only the static text between expressions; CSS does not care about whitespace runs, and
 * spaces before `:` are kept because `a :hover` and `a:hover` differ).
 */
function minifyCssTemplates(): Plugin {
  const minify = (text: string) =>
    text
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\s+/g, ' ')
      .replace(/\s*([{};,])\s*/g, '$1')
      .replace(/:\s+/g, ':')
      .trim();
  return {
    name: 'chat-room:minify-css-templates',
    transform(code, id) {
      if (!/\/widget\/.*\.ts$/.test(id) || !code.includes('css`')) return null;
      let out = '';
      let i = 0;
      for (;;) {
        const start = code.indexOf('css`', i);
        if (start < 0) break;
        out += code.slice(i, start + 4);
        let j = start + 4;
        let text = '';
        // Copy up to the closing backtick; expressions `${…}` are copied as they are (brace depth counted).
        while (j < code.length && code[j] !== '`') {
          if (code[j] === '$' && code[j + 1] === '{') {
            out += minify(text);
            text = '';
            let depth = 0;
            const from = j;
            do {
              if (code[j] === '{') depth++;
              else if (code[j] === '}') depth--;
              j++;
            } while (depth > 0 && j < code.length);
            out += code.slice(from, j);
          } else {
            text += code[j];
            j++;
          }
        }
        out += minify(text) + '`';
        i = j + 1;
      }
      out += code.slice(i);
      return { code: out, map: null };
    },
  };
}

/** Old chunks would pile up beside new ones (their names carry a hash): the chunk folder starts empty. */
function cleanChunks(): Plugin {
  return {
    name: 'chat-room:clean-chunks',
    buildStart() {
      rmSync(`${outDir}/${CHUNK_DIR}`, { recursive: true, force: true });
    },
  };
}

/** Measures the output against widget/size-budget.json and fails the build over a limit. */
function sizeBudget(): Plugin {
  return {
    name: 'chat-room:size-budget',
    writeBundle(_options, bundle) {
      const budget = JSON.parse(readFileSync(fileURLToPath(new URL('./size-budget.json', import.meta.url)), 'utf8')) as Budget;
      const gz = (file: string) => gzipSync(readFileSync(`${outDir}/${file}`), { level: 9 }).length;
      const chunks = Object.values(bundle).filter((item) => item.type === 'chunk');
      const entry = chunks.find((chunk) => chunk.isEntry);
      if (!entry) throw new Error('size budget: no entry chunk');
      // What an inline widget loads: the entry, the chunks it imports dynamically that are not a language, and theirs.
      const languages = chunks.filter((chunk) => /^(de|es|fr|ar|he)$/.test(chunk.name));
      const widget = new Set<string>();
      const visit = (name: string) => {
        if (widget.has(name) || languages.some((l) => l.fileName === name)) return;
        widget.add(name);
        const chunk = chunks.find((c) => c.fileName === name);
        for (const imported of [...(chunk?.imports ?? []), ...(chunk?.dynamicImports ?? [])]) visit(imported);
      };
      visit(entry.fileName);
      const entryBytes = gz(entry.fileName);
      const widgetBytes = [...widget].reduce((sum, file) => sum + gz(file), 0);
      const largestLanguage = Math.max(0, ...languages.map((l) => gz(l.fileName)));
      const complete = widgetBytes + largestLanguage;
      const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
      const lines = [
        `size budget (gzip -9): entry ${kb(entryBytes)} of ${kb(budget.entry)}; complete widget ${kb(complete)} of ${kb(budget.widget)}`,
        `  (${widget.size} files for an inline chat: ${kb(widgetBytes)}, plus the largest language: ${kb(largestLanguage)})`,
      ];
      if (complete > budget.goal) lines.push(`  the goal is ${kb(budget.goal)}: ${kb(complete - budget.goal)} to go`);
      this.info(lines.join('\n'));
      const over: string[] = [];
      if (entryBytes > budget.entry) over.push(`the entry is ${kb(entryBytes)}, over its ${kb(budget.entry)}`);
      if (complete > budget.widget) over.push(`the complete widget is ${kb(complete)}, over its ${kb(budget.widget)}`);
      if (over.length > 0) this.error(`size budget exceeded: ${over.join('; ')} (widget/size-budget.json)`);
    },
  };
}

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
  plugins: [cleanChunks(), minifyCssTemplates(), sizeBudget()],
  build: {
    outDir,
    emptyOutDir: false,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: true,
    lib: {
      entry: fileURLToPath(new URL('./loader.ts', import.meta.url)),
      formats: ['es'],
      fileName: () => 'chat-room.js',
    },
    rolldownOptions: {
      // Everything is bundled: an embedding page has no import map.
      external: [],
      // Lets the bundler put what the entry and the widget share into the entry (no third file to wait for).
      preserveEntrySignatures: 'allow-extension',
      output: {
        // Library mode leaves whitespace in unless the output minifier is asked for.
        minify: true,
        // Chunks sit beside the entry and are imported relative to its URL (the relay serves /chat-room/<name>).
        chunkFileNames: `${CHUNK_DIR}/[name]-[hash].js`,
      },
    },
  },
});
