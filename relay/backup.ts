#!/usr/bin/env node
/**
 * `npm run backup -- PATH`: an online backup of the SQLite store (DATA_DIR/chat.db) into
 * PATH, while the relay keeps running. Restore: stop the relay, put the copy in place as
 * DATA_DIR/chat.db, remove chat.db-wal and chat.db-shm, start the relay (README "Backup and
 * restore"). Uploaded files (DATA_DIR/files/) are plain files: copy them with cp or rsync.
 *
 * Uses SQLite's backup API (better-sqlite3's backup()), copying every page in ONE step: the
 * step reads one snapshot, so the copy is consistent even while the relay commits (WAL:
 * the reader does not block the relay's writes). Copied in small steps instead, every
 * commit of the relay in between would restart the copy, which might never finish.
 * The copy is written beside PATH, checked (integrity_check), synced, then renamed into
 * place, so PATH never holds half a backup.
 */
import { closeSync, existsSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

export interface BackupResult {
  path: string;
  bytes: number;
  pages: number;
}

export class BackupError extends Error {
  override name = 'BackupError';
}

/** Copies the store at `source` into `destination` (refused when it exists, unless `overwrite`). */
export async function backupSqlite(source: string, destination: string, { overwrite = false } = {}): Promise<BackupResult> {
  if (!existsSync(source)) throw new BackupError(`no SQLite store at ${source} (set DATA_DIR or --data-dir to the relay's data directory)`);
  const target = resolve(destination);
  if (!existsSync(dirname(target))) throw new BackupError(`the directory ${dirname(target)} does not exist`);
  if (existsSync(target) && !overwrite) throw new BackupError(`${target} exists; pass --force to overwrite it`);
  if (resolve(source) === target) throw new BackupError('the backup must not replace the store itself');
  const partial = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  rmSync(partial, { force: true });
  const db = new Database(source, { fileMustExist: true });
  try {
    // The relay's commit thread may hold the write lock for a moment.
    db.pragma('busy_timeout = 5000');
    const { totalPages } = await db.backup(partial, { progress: () => 0x7fffffff });
    const copy = new Database(partial);
    try {
      const check = copy.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new BackupError(`the copy failed integrity_check: ${String(check)}`);
      // One file that stands alone: nothing of the copy may stay in a -wal beside it.
      copy.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      copy.close();
    }
    for (const leftover of [`${partial}-wal`, `${partial}-shm`]) rmSync(leftover, { force: true });
    const fd = openSync(partial, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, target);
    syncDirectory(dirname(target));
    return { path: target, bytes: statSync(target).size, pages: totalPages };
  } catch (error) {
    for (const path of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(path, { force: true });
    throw error;
  } finally {
    db.close();
  }
}

/** The rename is durable only once the directory is synced. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const USAGE = 'usage: npm run backup -- PATH [--data-dir DIR] [--force]   (DATA_DIR works too; default ./data)';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      options: { 'data-dir': { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    process.exit(2);
  }
  if (process.env['DATABASE_URL']) {
    console.error('DATABASE_URL is set: this relay keeps its data in PostgreSQL; back it up with pg_dump (see README "Backup and restore").');
    process.exit(2);
  }
  const dataDir = values['data-dir'] ?? (process.env['DATA_DIR'] || './data');
  try {
    const result = await backupSqlite(join(dataDir, 'chat.db'), positionals[0]!, { overwrite: values.force === true });
    console.log(`backup written to ${result.path} (${result.bytes} bytes, ${result.pages} pages, integrity ok)`);
  } catch (error) {
    console.error(`backup failed: ${(error as Error).message}`);
    process.exit(1);
  }
}

/** Whether this file is the program (run directly, or through an npm bin symlink), not imported by a test. */
function isMain(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  const strip = (path: string) => path.replace(/\.[jt]s$/, '');
  let real = resolve(script);
  try {
    real = realpathSync(real);
  } catch {
    // tsx may name the file without its extension; compared as is.
  }
  return strip(real) === strip(fileURLToPath(import.meta.url));
}

if (isMain()) void main();
