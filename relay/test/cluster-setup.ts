/**
 * A whole scaled-out deployment for tests: one nats-server, one PostgreSQL, and relays that
 * use both. Services are shared by the tests of a file; each test gets its own database and
 * its own relays, so a test that kills or breaks something cannot leak into the next.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, type RelayProcess } from './harness.js';
import { startNats, startPostgres, type NatsServer, type PostgresServer } from './services.js';
import { LIFTED_LIMITS_ENV } from '../config.js';

export interface ClusterServices {
  nats: NatsServer;
  pg: PostgresServer;
  dispose(): Promise<void>;
}

export async function startServices(): Promise<ClusterServices> {
  const [nats, pg] = await Promise.all([startNats(), startPostgres({ fast: true })]);
  return {
    nats,
    pg,
    async dispose() {
      await Promise.all([nats.dispose(), pg.dispose()]);
    },
  };
}

export interface Cluster {
  relays: RelayProcess[];
  databaseUrl: string;
  /** The DATA_DIR every relay shares (uploads). */
  dataDir: string;
  dispose(): Promise<void>;
}

/** `count` relays on one fresh database, sharing one DATA_DIR, with per-client limits out of the way. */
export async function startCluster(services: ClusterServices, count = 2, env: Record<string, string> = {}): Promise<Cluster> {
  const databaseUrl = await services.pg.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-cluster-data-'));
  const relayEnv = {
    NATS_URL: services.nats.url,
    DATABASE_URL: databaseUrl,
    ...LIFTED_LIMITS_ENV,
    ...env,
  };
  // One after the other, as operators usually start them; concurrent migrations are covered
  // by postgres.test.ts.
  const relays: RelayProcess[] = [];
  for (let i = 0; i < count; i++) relays.push(await startRelay({ env: relayEnv, dataDir }));
  return {
    relays,
    databaseUrl,
    dataDir,
    async dispose() {
      await Promise.all(relays.map((r) => r.dispose()));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
