/**
 * Appends/s into SQLite: one transaction per message (what a naive relay does) against
 * group commit (every append of an event-loop turn in one transaction), measured in the
 * same run on the same disk, reported as a ratio. Run: npm run bench:append [-- N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from './sqlite.js';
import type { AppendInput } from './types.js';

const N = Number(process.argv[2] ?? 5000);
const from = { id: 'bench', name: 'Bench' };
const inputs = (conv: string): AppendInput[] =>
  Array.from({ length: N }, (_, i) => ({ conv, id: `m${i}`, from, text: `message number ${i} with some typical chat length text`, ts: Date.now() }));

async function measure(label: string, run: (store: SqliteStore) => Promise<void>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-bench-'));
  const store = new SqliteStore({ path: join(dir, 'bench.db') });
  const started = process.hrtime.bigint();
  await run(store);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  await rm(dir, { recursive: true, force: true });
  const rate = N / seconds;
  console.log(`${label.padEnd(44)} ${N} appends in ${seconds.toFixed(3)} s = ${Math.round(rate).toLocaleString('en')} appends/s`);
  return rate;
}

const perMessage = await measure('one transaction per message', async (store) => {
  for (const input of inputs('c')) store.appendBatch([input]);
});
const grouped = await measure('group commit, all at once (batches ≤ 1000)', async (store) => {
  await Promise.all(inputs('c').map((input) => store.append(input)));
});
const trickle = await measure('group commit, 50 arriving per event-loop turn', async (store) => {
  const all = inputs('c');
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < all.length; i += 50) {
    for (const input of all.slice(i, i + 50)) pending.push(store.append(input));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
});
console.log(`\ngroup commit vs one transaction per message: ${(grouped / perMessage).toFixed(1)}x (all at once), ${(trickle / perMessage).toFixed(1)}x (50 per turn)`);
console.log('SQLite in WAL mode with synchronous=FULL: every commit is an fsync, which is what group commit amortises.');
