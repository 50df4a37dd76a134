/**
 * README.md "Configuration" is where a newcomer learns the settings: every flag and variable
 * the relay reads (relay/config.ts SETTINGS) must have its row there, flag and variable both.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../tools/spawn-relay.mjs';
import { SETTINGS } from '../config.js';

test('README settings - every setting of relay/config.ts has a row in the Configuration table, with its variable and its flag', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Configuration');
  assert.ok(start > 0, 'README has a Configuration section');
  const rows = readme
    .slice(start)
    .split('\n')
    .filter((line) => line.startsWith('| `'));
  const missing = Object.values(SETTINGS).filter(
    ({ flag, env }) => !rows.some((row) => row.includes(`\`${env}\``) && row.includes(`\`--${flag}\``)),
  );
  assert.deepEqual(missing, [], 'settings without a README row');
});
