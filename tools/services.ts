/**
 * Throwaway infrastructure for tests, benchmarks, the load harness and `npm run cluster`: a
 * nats-server and a PostgreSQL server, each on a free port with its data in a temp dir,
 * removed on dispose. Here rather than in relay/test/, which tools may not import.
 * Both can be stopped and started again on the same port, which is how the fault tests
 * simulate an outage that clients and relays must ride out.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePort } from './spawn-relay.mjs';

const run = promisify(execFile);

/**
 * Servers still running when this process exits (a test that threw, a forgotten dispose):
 * stopped synchronously on exit, so no postgres or nats-server outlives its test run.
 */
const leftovers = new Map<object, () => void>();
process.once('exit', () => {
  for (const stop of leftovers.values()) {
    try {
      stop();
    } catch {
      // Best effort: the process is going away.
    }
  }
});

/** A port nothing listens on right now (the OS picks it, so parallel runs do not collide). */
export { freePort };

// ------------------------------------------------------------------ NATS

export interface NatsServer {
  url: string;
  port: number;
  /** Whether the server process is running (false between stop() and start()). */
  readonly running: boolean;
  /** Kills the server (SIGKILL: an abrupt outage, not a graceful lame-duck shutdown). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startNats(options: { port?: number } = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-nats-'));
  let port = options.port ?? 0;
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    // -p -1 lets nats-server pick a free port itself (no race with other processes);
    // restarts reuse the port it got, because relays reconnect to the same URL.
    const proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port === 0 ? -1 : port)], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    const log: string[] = [];
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => fail('did not start in 10 s'), 10_000);
      const fail = (why: string) => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new Error(`nats-server ${why}:\n${log.join('\n')}`));
      };
      proc.once('error', (error) => fail(error.message));
      proc.once('exit', (code) => fail(`exited with ${code}`));
      // Keeps reading after startup too, so a full pipe never blocks the server.
      createInterface({ input: proc.stderr! }).on('line', (line) => {
        if (log.length < 200) log.push(line);
        const match = /Listening for client connections on [^\s]+:(\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          resolve(Number(match[1]));
        }
      });
    });
  };
  await launch();
  const token = {};
  leftovers.set(token, () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const server: NatsServer = {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGKILL');
      await exited;
    },
    async start() {
      if (server.running) return;
      await launch();
    },
    async dispose() {
      leftovers.delete(token);
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

// ------------------------------------------------------------------ PostgreSQL

export interface PostgresServer {
  /** URL of the `postgres` database (superuser, trust auth on 127.0.0.1). */
  url: string;
  port: number;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Fast shutdown: open connections are terminated, like a crash from the clients' view. */
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

export interface PostgresOptions {
  /** Turns off fsync: only for tests, where a power cut is not part of the scenario. */
  fast?: boolean;
  port?: number;
}

function postgresBin(name: string): string {
  const base = '/usr/lib/postgresql';
  if (process.env.PG_BIN) return join(process.env.PG_BIN, name);
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const path = join(base, version, 'bin', name);
    if (existsSync(path)) return path;
  }
  return name; // on PATH, e.g. a non-Debian install
}

/** PostgreSQL refuses to run as root: when we are root, its commands run as `postgres`. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

async function pgRun(command: string, args: string[]): Promise<string> {
  const [file, argv] = asPostgres(postgresBin(command), args);
  const { stdout } = await run(file, argv, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-pg-'));
  const dataDir = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await pgRun('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  let port = options.port ?? 0;
  let running = false;
  let dbCounter = 0;

  const launch = async (): Promise<void> => {
    const settings = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=200',
      ...(options.fast ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ].join(' ');
    await pgRun('pg_ctl', ['-D', dataDir, '-l', join(dir, 'postgres.log'), '-o', settings, '-w', '-t', '30', 'start']);
    running = true;
  };
  // The port is only known free when checked; another process can take it before
  // postgres binds it, so a failed start is retried on a fresh port.
  for (let attempt = 0; ; attempt++) {
    if (options.port === undefined) port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 2 || options.port !== undefined) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const token = {};
  leftovers.set(token, () => {
    if (running) {
      const [file, argv] = asPostgres(postgresBin('pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      execFileSync(file, argv, { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const psql = async (sql: string): Promise<void> => {
    await pgRun('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', sql]);
  };

  const server: PostgresServer = {
    get url() {
      return `postgres://postgres@127.0.0.1:${port}/postgres`;
    },
    get port() {
      return port;
    },
    async createDatabase(name) {
      const db = name ?? `chat_${process.pid}_${Date.now()}_${dbCounter++}`;
      await psql(`CREATE DATABASE "${db}"`);
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    async stop() {
      if (!running) return;
      await pgRun('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    async start() {
      if (running) return;
      await launch();
    },
    async dispose() {
      leftovers.delete(token);
      if (running) {
        await pgRun('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        running = false;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
