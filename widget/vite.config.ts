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
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { minifySync } from 'rolldown/utils';
import { minify as terser, type SourceMapOptions } from 'terser';
import { defineConfig, type Plugin } from 'vite';

// Real paths: module ids are real paths, and a checkout may sit behind a symlink.
const root = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
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

/**
 * localforage from its ES sources instead of its UMD dist (which carries a browserify runtime,
 * the `lie` Promise polyfill and the WebSQL driver): the WebSQL driver is left out (WebSQL is
 * gone from browsers; localforage skips a driver it cannot use anyway, so the order stays
 * IndexedDB, then localStorage), and `utils/promise.js` becomes the native Promise (it only
 * `require`s `lie` where Promise is missing, and every browser that runs this bundle, ES2022,
 * has one). Each edit must match the pinned source: an upgrade that changes it fails the build
 * here instead of shipping a half-edited localforage.
 */
function slimLocalforage(): Plugin {
  const src = `${realpathSync(fileURLToPath(new URL('../node_modules/localforage/src', import.meta.url)))}/`;
  const edits: [string, string][] = [
    ["import websqlDriver from './drivers/websql';\n", ''],
    ['    WEBSQL: websqlDriver,\n', ''],
    ['    DefaultDrivers.WEBSQL._driver,\n', ''],
  ];
  return {
    name: 'chat-room:slim-localforage',
    enforce: 'pre',
    resolveId(source) {
      return source === 'localforage' ? `${src}localforage.js` : null;
    },
    load(id) {
      if (id === `${src}utils/promise.js`) return 'export default Promise;';
      if (id !== `${src}localforage.js`) return null;
      let code = readFileSync(id, 'utf8');
      for (const [from, to] of edits) {
        if (!code.includes(from)) throw new Error(`slim localforage: ${JSON.stringify(from)} not found in localforage.js`);
        code = code.replace(from, to);
      }
      return code;
    },
  };
}

/**
 * Shortens the project's private members (house rule: `_name`), the largest run of long names
 * left after minification. rolldown's own `mangleProps` needs a single output chunk, so each
 * chunk goes through oxc's minifier (rolldown's, the same engine) with one shared cache: a class
 * used from two chunks gets the same short names in both.
 *
 * Only names that are safe to rename are touched: a `_name` the project's code (or localforage's,
 * built from its sources into the same chunk) reads as a property (`x._name`), that no other
 * dependency spells anywhere (Lit's `_$…` internals…), and that never appears right after a
 * quote (`'_x' in y`, `LibraryMethods.concat('_initStorage')`) except as the name a decorator
 * is applied to (`__decorate([state()], X.prototype, "_open", void 0)`): that string becomes the
 * short name too, so Lit's reactive `@state()` and `@query()` members are renamed whole (none is
 * an attribute, and no code reads them by name). No object stored in IndexedDB or localStorage,
 * sent over the wire or posted between tabs has a `_` key (those are protocol and plain data
 * types), so nothing persisted or shared between builds changes.
 */
/** The member a TypeScript decorator is applied to: `__decorate([…], X.prototype, "_name", void 0)`. */
const DECORATED = /(?<=\.prototype,\s*)"(_[A-Za-z]\w*)"(?=,\s*void 0\))/g;

function manglePrivates(): Plugin {
  /** Read from outside the bundle: the e2e tab-sharing test asks a widget which role its session has. */
  const reserved = new Set(['_sessionUsed']);
  const members = new Set<string>();
  const cache: Record<string, string | false> = {};
  return {
    name: 'chat-room:mangle-privates',
    enforce: 'post',
    transform(code, id) {
      const ours = (id.startsWith(root) && !id.includes('/node_modules/')) || /node_modules[\\/]localforage[\\/]src[\\/]/.test(id);
      if (!ours) {
        for (const [name] of code.matchAll(/(?<![\w$])_[A-Za-z]\w*/g)) reserved.add(name);
        return null;
      }
      for (const access of code.match(/\._[A-Za-z]\w*/g) ?? []) members.add(access.slice(1));
      for (const quoted of code.replace(DECORATED, '').match(/['"`]_[A-Za-z]\w*/g) ?? []) reserved.add(quoted.slice(1));
      return null;
    },
    renderChunk(code, chunk) {
      const names = [...members].filter((name) => !reserved.has(name));
      if (names.length === 0) return null;
      const result = minifySync(chunk.fileName, code, {
        module: true,
        compress: false,
        mangle: false,
        codegen: false,
        sourcemap: true,
        mangleProps: { include: new RegExp(`^(?:${names.join('|')})$`), cache },
      });
      if (result.errors.length > 0) this.error(`mangling ${chunk.fileName}: ${result.errors.map((e) => e.message).join('; ')}`);
      Object.assign(cache, result.mangleCache);
      // The decorated member's name as the decorator gets it (same length or shorter, and the last thing on its line).
      const out = result.code.replace(DECORATED, (whole, name: string) => {
        const short = cache[name];
        return typeof short === 'string' ? whole.replace(name, short) : whole;
      });
      return { code: out, map: result.map };
    },
  };
}

/**
 * A terser pass over the minified chunks (after rolldown's minifier, which it does not replace:
 * oxc then terser is ~300 bytes smaller than terser alone): terser's compressor and its
 * frequency-ordered names take ~1 KB (gzip -9) more off. Safe options only (no `unsafe*`),
 * ES modules (exported names kept). The source maps are chained, so they still point at the
 * sources.
 */
function terserPass(): Plugin {
  return {
    name: 'chat-room:terser',
    async generateBundle(_options, bundle) {
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const comment = /\n\/\/# sourceMappingURL=\S+\s*$/.exec(chunk.code)?.[0] ?? '';
        const sourceMap: SourceMapOptions | false = chunk.map ? { content: JSON.stringify(chunk.map), asObject: true } : false;
        const result = await terser(chunk.code.slice(0, chunk.code.length - comment.length), {
          module: true,
          ecma: 2020,
          compress: { passes: 2 },
          mangle: true,
          sourceMap,
        });
        if (result.code === undefined) this.error(`terser: no output for ${chunk.fileName}`);
        chunk.code = result.code + comment;
        if (chunk.map && result.map) {
          // terser's map already leads back to the sources (through the one it was given).
          const map = (typeof result.map === 'string' ? JSON.parse(result.map) : result.map) as { sources: (string | null)[]; names: string[]; mappings: string };
          const { names, mappings } = map;
          const sources = map.sources.map((source) => source ?? '');
          const before = chunk.map;
          const sourcesContent = sources.map((source) => before.sourcesContent[before.sources.indexOf(source)] ?? '');
          // Sources terser found unused are gone: the ignore list (dependencies) is by index.
          const ignored = new Set(before.ignoreList?.map((i) => before.sources[i]));
          const ignoreList = sources.flatMap((source, i) => (ignored.has(source) ? [i] : []));
          Object.assign(chunk.map, { names, mappings, sources, sourcesContent, ignoreList });
          const asset = bundle[`${chunk.fileName}.map`];
          if (asset?.type === 'asset') asset.source = JSON.stringify({ ...JSON.parse(String(asset.source)), names, mappings, sources, sourcesContent, ignoreList });
        }
      }
    },
  };
}

/**
 * localforage goes into the widget's chunk: every inline widget needs it at once, and in one file
 * it costs ~200 bytes less (gzip shares one dictionary) and no request of its own. The widget
 * chunk is what widget/index.ts loads statically and the entry (widget/loader.ts) does not: what
 * both need stays in the entry, as before, and the language catalogues stay chunks of their own.
 */
function widgetChunk(): (id: string, ctx: { getModuleInfo(id: string): { importedIds: readonly string[] } | null }) => string | null {
  const index = `${root}/widget/index.ts`;
  const loader = `${root}/widget/loader.ts`;
  let graphs: { widget: Set<string>; entry: Set<string> } | undefined;
  return (id, ctx) => {
    if (/node_modules[\\/]localforage[\\/]/.test(id)) return 'widget';
    if (!graphs) {
      const walk = (from: string, into = new Set<string>()) => {
        if (into.has(from)) return into;
        into.add(from);
        for (const next of ctx.getModuleInfo(from)?.importedIds ?? []) walk(next, into);
        return into;
      };
      graphs = { widget: walk(index), entry: walk(loader) };
    }
    return graphs.widget.has(id) && !graphs.entry.has(id) ? 'widget' : null;
  };
}

/** Old chunks would pile up beside new ones (their names carry a hash): the chunk folder starts empty. */
function cleanChunks(): Plugin {
  let dir = outDir;
  return {
    name: 'chat-room:clean-chunks',
    configResolved(config) {
      dir = config.build.outDir;
    },
    buildStart() {
      rmSync(`${dir}/${CHUNK_DIR}`, { recursive: true, force: true });
    },
  };
}

/** Measures the output against widget/size-budget.json and fails the build over a limit. */
function sizeBudget(): Plugin {
  return {
    name: 'chat-room:size-budget',
    writeBundle(options, bundle) {
      // `--outDir` (a measurement into a scratch folder) is honoured.
      const dir = options.dir ?? outDir;
      const budget = JSON.parse(readFileSync(fileURLToPath(new URL('./size-budget.json', import.meta.url)), 'utf8')) as Budget;
      const gz = (file: string) => gzipSync(readFileSync(`${dir}/${file}`), { level: 9 }).length;
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
        `size budget (gzip -9): entry ${kb(entryBytes)} of ${kb(budget.entry)}; complete widget ${kb(complete)} (${complete} bytes) of ${kb(budget.widget)}`,
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
  plugins: [cleanChunks(), slimLocalforage(), manglePrivates(), minifyCssTemplates(), terserPass(), sizeBudget()],
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
        // What both need stays in the entry: a group must not pull the entry's modules in with it.
        codeSplitting: { groups: [{ name: widgetChunk(), debugName: 'widget', includeDependenciesRecursively: false }] },
      },
    },
  },
});
