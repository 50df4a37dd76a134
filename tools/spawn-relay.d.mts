import type { ChildProcess } from 'node:child_process';

export declare const ROOT: string;
export declare const MAX_LOG_LINES: number;

export interface SpawnRelayOptions {
  /** On top of process.env; `undefined` removes a variable. PORT and HOST come from the options, DATA_DIR from `dataDir` when given. */
  env?: Record<string, string | undefined>;
  /** DATA_DIR for the relay; when absent, whatever `env`/process.env says. */
  dataDir?: string;
  /** A fixed port (no retry on another one); 0 or absent = a free port picked here. */
  port?: number | undefined;
  /** Default 127.0.0.1. */
  host?: string;
  /** How long /healthz may take to answer 200; default 20 s. */
  timeoutMs?: number | undefined;
  /** New ports to try when a picked port turns out to be in use; default 2. */
  portRetries?: number;
  /** How a free port is picked; default freePort (tests hand out a busy one to check the retry). */
  pickPort?: (host: string) => Promise<number>;
  /** Every line the relay writes (stdout and stderr), for as long as it runs. */
  onLine?: (line: string) => void;
}

export interface SpawnedRelay {
  port: number;
  host: string;
  child: ChildProcess;
  /** The relay's output lines, the newest MAX_LOG_LINES. */
  logs: string[];
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

export declare function freePort(host?: string): Promise<number>;
export declare function spawnRelay(options?: SpawnRelayOptions): Promise<SpawnedRelay>;

export interface RelayOptions {
  env?: Record<string, string | undefined>;
  /** Reuse a data dir (e.g. to restart on the same store); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Fixed port, e.g. to restart a relay where its clients expect it; 0 = any free port. */
  port?: number | undefined;
  /** How long the relay may take to answer /healthz; default 20 s. */
  timeoutMs?: number | undefined;
}

export interface RelayProcess {
  port: number;
  wsUrl: string;
  httpUrl: string;
  dataDir: string;
  child: ChildProcess;
  /** What the relay logged (JSON lines), the newest MAX_LOG_LINES. */
  logs: string[];
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /**
   * Kills it (if running) and starts a new relay on the same data dir. On a NEW port unless
   * `samePort`: the old port may stay blocked by TIME_WAIT for up to a minute (see
   * RelayServer.listen), which the relay waits out, but tests should not.
   */
  restart(options?: { env?: Record<string, string | undefined>; samePort?: boolean }): Promise<RelayProcess>;
  /** Stops it (if running) and removes the temp dir it created. */
  dispose(): Promise<void>;
}

export declare function startRelay(options?: RelayOptions): Promise<RelayProcess>;
