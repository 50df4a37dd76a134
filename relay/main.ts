#!/usr/bin/env node
/**
 * The relay process: reads the configuration, picks the store and the bus, starts the hub
 * and the server, and shuts down gracefully on SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { JwtVerifier } from './auth/jwt.js';
import { Authenticator } from './hub/handshake.js';
import { LocalBus } from './bus/local.js';
import { NatsBus } from './bus/nats.js';
import type { Bus, BusFactory } from './bus/types.js';
import { ConfigError, loadConfig, type RelayConfig } from './config.js';
import { Hub } from './hub/index.js';
import { FileStore } from './files/store.js';
import { PortInUseError, RelayServer } from './http/app.js';
import { BearerSecret } from './http/bearer.js';
import type { BusState, HealthProbe } from './http/ops.js';
import { RelayMetrics } from './metrics/metrics.js';
import { ServerApi } from './api/server-api.js';
import type { HubObserver } from './hub/ports.js';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import { PostgresStore } from './store/postgres.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/types.js';
import { loadUws } from './uws.js';

/** `onBatch`: told the size of every group commit (metrics). */
async function createStore(config: RelayConfig, onBatch: (size: number) => void): Promise<Store> {
  // Several instances share one PostgreSQL; a single relay keeps its embedded SQLite.
  if (config.databaseUrl) return PostgresStore.connect(config.databaseUrl, { onBatch });
  return SqliteStore.open({ path: join(config.dataDir, 'chat.db'), onBatch, commitWindowMs: config.commitWindowMs });
}

/** The bus factory, and the bus it made once the hub started (for /healthz). */
function createBusFactory(config: RelayConfig, logger: pino.Logger): { factory: BusFactory; state: () => BusState } {
  const natsUrl = config.natsUrl;
  if (natsUrl && !config.databaseUrl) {
    logger.warn('NATS_URL without DATABASE_URL: this relay keeps its own SQLite store, so several such relays would hand out the same seqs');
  }
  let bus: Bus | null = null;
  const made = (b: Bus) => (bus = b);
  const factory: BusFactory = natsUrl
    ? async (handlers) => made(await NatsBus.connect(natsUrl, handlers, logger.child({ component: 'nats' })))
    : async (handlers) => made(new LocalBus(handlers));
  const state = (): BusState => {
    if (!(bus instanceof NatsBus)) return 'local';
    return bus.connected ? 'connected' : 'disconnected';
  };
  return { factory, state };
}

function quietly(log: () => void): void {
  try {
    log();
  } catch {
    // Logging failed; there is nowhere left to report that.
  }
}

async function main(): Promise<void> {
  let config: RelayConfig;
  try {
    config = loadConfig();
  } catch (error) {
    console.error(`chat-room relay: ${(error as Error).message}`);
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel, base: { service: 'chat-relay' } });
  const { uws, native } = loadUws(config.allowUwsFallback);
  if (!native) logger.warn('uWebSockets.js native binary missing: running on the SLOW pure-JS fallback (ALLOW_UWS_FALLBACK)');

  const auth = new Authenticator({
    verifier: config.jwtSecret === undefined ? null : new JwtVerifier(config.jwtSecret),
    maxTokenTtlMs: config.maxTokenTtlMs,
  });
  if (auth.openMode) {
    logger.warn(
      'OPEN MODE: no CHAT_JWT_SECRET is set, so every client is who it says it is and may join any conversation. ' +
        'Set CHAT_JWT_SECRET before exposing this relay.',
    );
  }
  // The store opens (SQLite: its commit thread starts) while the rest is set up.
  const metrics = new RelayMetrics();
  const opening = createStore(config, (size) => metrics.batch(size));
  opening.catch(() => undefined);
  const files = new FileStore(config.dataDir);
  await files.init();
  const store = await opening;
  const bus = createBusFactory(config, logger);
  // Webhooks: the store queues every event in the transaction that stores it, from the very
  // first append, so the queue is switched on before the hub can append anything.
  let webhooks: WebhookDispatcher | undefined;
  if (config.webhook) {
    store.enableWebhooks();
    webhooks = new WebhookDispatcher({
      store,
      url: config.webhook.url,
      secret: config.webhook.secret,
      concurrency: config.webhook.concurrency,
      backoff: { baseMs: config.webhook.retryMinMs, capMs: config.webhook.retryMaxMs },
      logger: logger.child({ component: 'webhooks' }),
      observer: metrics,
    });
  }
  const observer: HubObserver = {
    connections: (delta) => metrics.connections(delta),
    joinedSessions: (delta) => metrics.joinedSessions(delta),
    frameIn: (type) => metrics.frameIn(type),
    frameOut: (type, receivers) => metrics.frameOut(type, receivers),
    error: (code) => metrics.error(code),
    appended: (ms) => {
      metrics.appended(ms);
      // A new event is in the queue: deliver it now rather than at the next poll.
      webhooks?.nudge();
    },
    fannedOut: (ms) => metrics.fannedOut(ms),
    busReconnected: () => metrics.busReconnected(),
  };
  const hub = new Hub({
    store,
    busFactory: bus.factory,
    auth,
    logger,
    maxUploadBytes: config.maxUploadBytes,
    files,
    limits: config.limits,
    helloTimeoutMs: config.helloTimeoutMs,
    typingExpiryMs: config.typingExpiryMs,
    presence: config.presence,
    observer,
  });
  await hub.start();
  const health: HealthProbe = {
    // A read of a conversation nobody uses: answered by the database itself, so a dead
    // PostgreSQL (or an unreadable SQLite file) shows here.
    pingStore: async () => void (await store.head('__healthz__')),
    busState: bus.state,
    connections: () => hub.sessionCount,
  };
  const server = new RelayServer({
    uws,
    hub,
    auth,
    files,
    logger,
    allowedOrigins: config.allowedOrigins,
    trustProxy: config.trustProxy,
    maxUploadBytes: config.maxUploadBytes,
    widgetBundle: config.widgetBundle,
    demoDir: config.demoDir,
    health,
    metrics,
    metricsToken: config.metricsToken === undefined ? undefined : new BearerSecret(config.metricsToken),
    onUpload: (bytes) => metrics.uploaded(bytes),
    api:
      config.apiKey === undefined
        ? undefined
        : new ServerApi({ key: new BearerSecret(config.apiKey), commands: hub.server, logger: logger.child({ component: 'api' }) }),
  });
  const port = await server.listen(config.host, config.port);
  logger.info(
    {
      port,
      host: config.host,
      store: config.databaseUrl ? 'postgres' : 'sqlite',
      bus: config.natsUrl ? 'nats' : 'local',
      dataDir: config.dataDir,
      api: config.apiKey !== undefined,
      // The origin only: a URL's path or query may hold a token of the receiver's.
      webhooks: config.webhook ? new URL(config.webhook.url).origin : false,
      metricsToken: config.metricsToken !== undefined,
    },
    `relay listening on http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`,
  );

  webhooks?.start();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Armed first: nothing below, a failing log write included, may keep the process alive.
    const forced = setTimeout(() => {
      quietly(() => logger.error('shutdown took longer than 10 s; exiting'));
      process.exit(1);
    }, 10_000);
    forced.unref();
    // A closed stdout (the parent went away, or output piped into `head`) makes log writes throw.
    quietly(() => logger.info({ signal }, 'shutting down: no new connections, finishing in-flight writes'));
    server.drain();
    let exitCode = 0;
    try {
      // Deliveries in flight finish (each within its timeout) and record their outcome
      // before the store closes; the rest waits in the queue for the next start.
      await webhooks?.stop();
      await hub.shutdown();
      await files.close();
    } catch (error) {
      exitCode = 1;
      quietly(() => logger.error({ err: error }, 'shutdown failed'));
    }
    quietly(() => logger.info('shutdown complete'));
    process.exit(exitCode);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  // A mistake in the setup is said in one line; anything else with its stack.
  if (error instanceof ConfigError || error instanceof PortInUseError) console.error(`chat-room relay: ${error.message}`);
  else console.error('chat-room relay failed to start:', error);
  process.exit(1);
});
