#!/usr/bin/env node
/**
 * Builds the installable packages under packages/ from the one source tree:
 *   @chat-room/protocol  protocol/                      (the schema, codes, decoders)
 *   @chat-room/client    protocol/ + widget/client/     (the client core, no UI)
 *   @chat-room/element   protocol/ + widget/            (<chat-room>, its React wrapper, the one-file bundle)
 *   @chat-room/relay     protocol/ + relay/             (the relay, with the bundle and demo it serves)
 * Each package keeps the repository's relative layout (dist/protocol, dist/widget/client…),
 * so the compiled files and their .d.ts import each other exactly as in the source, with no
 * path rewriting. Run `npm run build` first (the widget bundle and the manifest).
 * Usage: node tools/build-packages.mjs            → packages/<name>/ ready for `npm pack`
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, '.tmp/packages-build');

/** package dir → [from (relative to the compiled tree or the root), to (relative to the package), options?] */
/** @type {Record<string, Array<[string, string, { optional?: boolean }?]>>} */
const LAYOUT = {
  protocol: [['@compiled/protocol', 'dist/protocol']],
  client: [
    ['@compiled/protocol', 'dist/protocol'],
    ['@compiled/widget/client', 'dist/widget/client'],
  ],
  element: [
    ['@compiled/protocol', 'dist/protocol'],
    ['@compiled/widget', 'dist/widget'],
    ['dist/chat-room.js', 'bundle/chat-room.js'],
    ['dist/chat-room.js.map', 'bundle/chat-room.js.map'],
    // The chunks the entry loads lazily (launcher, languages), next to it so relative imports resolve.
    ['dist/chat-room', 'bundle/chat-room', { optional: true }],
    ['custom-elements.json', 'custom-elements.json'],
  ],
  relay: [
    ['@compiled/protocol', 'build/protocol'],
    ['@compiled/relay', 'build/relay'],
    ['dist/chat-room.js', 'dist/chat-room.js'],
    ['dist/chat-room', 'dist/chat-room', { optional: true }],
    ['demo', 'demo'],
  ],
};

function build() {
  if (!existsSync(join(root, 'dist/chat-room.js'))) throw new Error('dist/chat-room.js is missing: run `npm run build` first');
  rmSync(compiled, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.packages.json')], { stdio: 'inherit' });
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  for (const [name, entries] of Object.entries(LAYOUT)) {
    const dir = join(root, 'packages', name);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (manifest.version !== version) throw new Error(`packages/${name}/package.json is at ${manifest.version}, the repository at ${version}`);
    for (const generated of ['dist', 'build', 'bundle', 'demo', 'custom-elements.json']) rmSync(join(dir, generated), { recursive: true, force: true });
    for (const [from, to, options] of entries) {
      const source = from.startsWith('@compiled/') ? join(compiled, from.slice('@compiled/'.length)) : join(root, from);
      if (options?.optional && !existsSync(source)) continue;
      // Tests and their helpers are not compiled; widget/client/ is part of the element package's widget/ copy.
      cpSync(source, join(dir, to), { recursive: true });
    }
  }
  rmSync(compiled, { recursive: true, force: true });
}

build();
console.log('packages built: packages/{protocol,client,element,relay}');
