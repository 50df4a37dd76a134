/**
 * Relay configuration: command-line flags win over environment variables, which win over
 * defaults. Every setting has both forms (e.g. --data-dir / DATA_DIR).
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { Limits } from '../protocol/index.js';
import { MIN_SECRET_BYTES } from './auth/jwt.js';
import { COMMIT_WINDOW_MS } from './store/sqlite.js';
import { DEFAULT_LIMITS, DEFAULT_MAX_TOKEN_TTL_MS, type HubLimits } from './hub/index.js';

export interface RelayConfig {
  port: number;
  host: string;
  dataDir: string;
  jwtSecret: string | undefined;
  /** undefined = any origin (the default for an embeddable widget). */
  allowedOrigins: readonly string[] | undefined;
  maxUploadBytes: number;
  natsUrl: string | undefined;
  databaseUrl: string | undefined;
  logLevel: string;
  /** The hub's caps and budgets (see relay/hub/admission.ts). */
  limits: Partial<HubLimits>;
  /** Tokens must expire within this long of being presented. */
  maxTokenTtlMs: number;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For names the real client, for per-address limits. */
  trustProxy: readonly string[];
  /** Protocol timings, adjustable for tests and unusual deployments. */
  helloTimeoutMs: number;
  typingExpiryMs: number;
  /** Start even if only the slow pure-JS uWebSockets.js fallback loads (not for production). */
  allowUwsFallback: boolean;
  /** SQLite only: under load, a transaction starts at most this often (ms); 0 = commit as soon as the last one is durable. */
  commitWindowMs: number;
  /** Where the widget bundle and the demo pages are served from. */
  widgetBundle: string;
  demoDir: string;
  /** CHAT_API_KEY: the server API's bearer secret; undefined = the API is off (404). */
  apiKey: string | undefined;
  /** METRICS_TOKEN: GET /metrics needs it as a bearer token; undefined = open. */
  metricsToken: string | undefined;
  /** v1.1 presence timings (PROTOCOL.md "Presence"), adjustable for tests. */
  presence: { graceMs: number; heartbeatMs: number; staleMs: number };
  /** WEBHOOK_URL and WEBHOOK_SECRET: both or neither. */
  webhook: { url: string; secret: string; concurrency: number; retryMinMs: number; retryMaxMs: number } | undefined;
}

/** Every setting: its command-line flag and environment variable (README.md "Configuration" lists each). */
export const SETTINGS = {
  port: { flag: 'port', env: 'PORT' },
  host: { flag: 'host', env: 'HOST' },
  dataDir: { flag: 'data-dir', env: 'DATA_DIR' },
  jwtSecret: { flag: 'jwt-secret', env: 'CHAT_JWT_SECRET' },
  allowedOrigins: { flag: 'allowed-origins', env: 'ALLOWED_ORIGINS' },
  maxUploadBytes: { flag: 'max-upload-bytes', env: 'MAX_UPLOAD_BYTES' },
  natsUrl: { flag: 'nats-url', env: 'NATS_URL' },
  databaseUrl: { flag: 'database-url', env: 'DATABASE_URL' },
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL' },
  ratePerSecond: { flag: 'rate-limit', env: 'RATE_LIMIT' },
  rateBurst: { flag: 'rate-burst', env: 'RATE_BURST' },
  maxTokenTtl: { flag: 'max-token-ttl', env: 'MAX_TOKEN_TTL' },
  trustProxy: { flag: 'trust-proxy', env: 'TRUST_PROXY' },
  maxConnectionsPerIp: { flag: 'max-connections-per-ip', env: 'MAX_CONNECTIONS_PER_IP' },
  maxUnauthenticatedPerIp: { flag: 'max-unauthenticated-per-ip', env: 'MAX_UNAUTHENTICATED_PER_IP' },
  maxConnectionsPerUser: { flag: 'max-connections-per-user', env: 'MAX_CONNECTIONS_PER_USER' },
  maxJoinsPerConnection: { flag: 'max-joins-per-connection', env: 'MAX_JOINS_PER_CONNECTION' },
  newConversationsPerMinute: { flag: 'new-conversations-per-minute', env: 'NEW_CONVERSATIONS_PER_MINUTE' },
  readRowsPerSecond: { flag: 'read-rows-per-second', env: 'READ_ROWS_PER_SECOND' },
  sendQueueBytes: { flag: 'send-queue-bytes', env: 'SEND_QUEUE_BYTES' },
  slowClientGraceMs: { flag: 'slow-client-grace-ms', env: 'SLOW_CLIENT_GRACE_MS' },
  allowUwsFallback: { flag: 'allow-uws-fallback', env: 'ALLOW_UWS_FALLBACK' },
  helloTimeoutMs: { flag: 'hello-timeout-ms', env: 'HELLO_TIMEOUT_MS' },
  typingExpiryMs: { flag: 'typing-expiry-ms', env: 'TYPING_EXPIRY_MS' },
  commitWindowMs: { flag: 'commit-window-ms', env: 'COMMIT_WINDOW_MS' },
  widgetBundle: { flag: 'widget-bundle', env: 'WIDGET_BUNDLE' },
  demoDir: { flag: 'demo-dir', env: 'DEMO_DIR' },
  presenceGraceMs: { flag: 'presence-grace-ms', env: 'PRESENCE_GRACE_MS' },
  presenceHeartbeatMs: { flag: 'presence-heartbeat-ms', env: 'PRESENCE_HEARTBEAT_MS' },
  presenceStaleMs: { flag: 'presence-stale-ms', env: 'PRESENCE_STALE_MS' },
  apiKey: { flag: 'api-key', env: 'CHAT_API_KEY' },
  metricsToken: { flag: 'metrics-token', env: 'METRICS_TOKEN' },
  webhookUrl: { flag: 'webhook-url', env: 'WEBHOOK_URL' },
  webhookSecret: { flag: 'webhook-secret', env: 'WEBHOOK_SECRET' },
  webhookConcurrency: { flag: 'webhook-concurrency', env: 'WEBHOOK_CONCURRENCY' },
  webhookRetryMinMs: { flag: 'webhook-retry-min-ms', env: 'WEBHOOK_RETRY_MIN_MS' },
  webhookRetryMaxMs: { flag: 'webhook-retry-max-ms', env: 'WEBHOOK_RETRY_MAX_MS' },
} as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function checkSecret(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw === '') {
    throw new ConfigError('CHAT_JWT_SECRET is set but empty: set a secret of at least 32 bytes, or unset the variable to run in open mode');
  }
  const bytes = Buffer.byteLength(raw);
  if (bytes < MIN_SECRET_BYTES) {
    throw new ConfigError(`CHAT_JWT_SECRET is ${bytes} bytes; it must be at least ${MIN_SECRET_BYTES} (e.g. \`openssl rand -base64 32\`)`);
  }
  return raw;
}

/** A proxy address or CIDR block (as net.BlockList takes them). */
function checkProxy(entry: string): string {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  const prefixOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
  if (family === 0 || !prefixOk || rest.length > 0) {
    throw new ConfigError(`TRUST_PROXY entries must be IP addresses or CIDR blocks, got ${JSON.stringify(entry)}`);
  }
  return entry;
}

/** A bearer secret (CHAT_API_KEY, METRICS_TOKEN): set but empty is a mistake, not "off". */
function checkBearer(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new ConfigError(`${name} is set but empty: set a long random value (e.g. \`openssl rand -hex 32\`), or unset the variable`);
  if (/\s/.test(raw)) throw new ConfigError(`${name} must not contain spaces (it travels as \`Authorization: Bearer <value>\`)`);
  return raw;
}

function checkWebhook(
  url: string | undefined,
  secret: string | undefined,
  tuning: { concurrency: number; retryMinMs: number; retryMaxMs: number },
): RelayConfig['webhook'] {
  if (url === undefined && (secret === undefined || secret === '')) return undefined;
  if (url === undefined) throw new ConfigError('WEBHOOK_SECRET is set without WEBHOOK_URL');
  // Unsigned events would let anyone who finds the receiver's URL post fake ones.
  if (secret === undefined || secret === '') throw new ConfigError('WEBHOOK_URL needs WEBHOOK_SECRET (the receiver verifies X-Chat-Signature with it)');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`WEBHOOK_URL must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`WEBHOOK_URL must be an http(s) URL, got ${JSON.stringify(url)}`);
  if (tuning.retryMaxMs < tuning.retryMinMs) throw new ConfigError('WEBHOOK_RETRY_MAX_MS must not be below WEBHOOK_RETRY_MIN_MS');
  return { url: parsed.href, secret, ...tuning };
}

function presenceTimings(graceMs: number, heartbeatMs: number, staleMs: number): RelayConfig['presence'] {
  // A relay is declared dead only after missing at least one heartbeat and a half.
  if (staleMs < 4 * heartbeatMs) throw new ConfigError(`PRESENCE_STALE_MS (${staleMs}) must be at least four times PRESENCE_HEARTBEAT_MS (${heartbeatMs}): a relay is dropped only after missing several heartbeats`);
  return { graceMs, heartbeatMs, staleMs };
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as `7d`, `12h`, `90m`, `3600s` (a bare number is seconds). */
function duration(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS] : NaN;
  // setTimeout-safe and at least a minute: a shorter lifetime would make renewal a storm.
  if (!Number.isSafeInteger(ms) || ms < 60_000 || ms > 24 * 86_400_000) {
    throw new ConfigError(`${name} must be a duration from 1m to 24d such as 7d, 12h or 3600s, got ${JSON.stringify(raw)}`);
  }
  return ms;
}

export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const options = Object.fromEntries(
    Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]),
  );
  const { values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  const get = (key: keyof typeof SETTINGS): string | undefined => {
    const { flag, env: name } = SETTINGS[key];
    const fromFlag = values[flag];
    return typeof fromFlag === 'string' ? fromFlag : env[name] || undefined;
  };
  // Secrets tell "set but empty" from "absent": an empty one must not mean "off" (or open mode).
  const raw = (key: keyof typeof SETTINGS): string | undefined => {
    const fromFlag = values[SETTINGS[key].flag];
    return typeof fromFlag === 'string' ? fromFlag : env[SETTINGS[key].env];
  };
  const rawSecret = raw('jwtSecret');
  const limit = (key: keyof typeof SETTINGS, fallback: number, min = 1, max = 1_000_000_000) =>
    integer(SETTINGS[key].env, get(key), fallback, min, max);
  const readRows = limit('readRowsPerSecond', DEFAULT_LIMITS.readRowsPerConnection.perSecond);
  const origins = get('allowedOrigins')
    ?.split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter(Boolean);
  return {
    port: integer('PORT', get('port'), 8080, 0, 65535),
    host: get('host') ?? '0.0.0.0',
    dataDir: get('dataDir') ?? './data',
    jwtSecret: checkSecret(rawSecret),
    allowedOrigins: origins && origins.length > 0 ? origins : undefined,
    maxUploadBytes: integer('MAX_UPLOAD_BYTES', get('maxUploadBytes'), 25 * 1024 * 1024, 1, 2 ** 40),
    natsUrl: get('natsUrl'),
    databaseUrl: get('databaseUrl'),
    logLevel: get('logLevel') ?? 'info',
    limits: {
      frameRate: {
        perSecond: limit('ratePerSecond', DEFAULT_LIMITS.frameRate.perSecond, 1, 1_000_000),
        burst: limit('rateBurst', DEFAULT_LIMITS.frameRate.burst, 1, 1_000_000),
      },
      maxConnectionsPerIp: limit('maxConnectionsPerIp', DEFAULT_LIMITS.maxConnectionsPerIp),
      maxUnauthenticatedPerIp: limit('maxUnauthenticatedPerIp', DEFAULT_LIMITS.maxUnauthenticatedPerIp),
      maxConnectionsPerUser: limit('maxConnectionsPerUser', DEFAULT_LIMITS.maxConnectionsPerUser),
      maxJoinsPerConnection: limit('maxJoinsPerConnection', DEFAULT_LIMITS.maxJoinsPerConnection),
      newConversationsPerMinute: limit('newConversationsPerMinute', DEFAULT_LIMITS.newConversationsPerMinute),
      // Per connection as configured; a user's connections together get twice that.
      readRowsPerConnection: { perSecond: readRows, burst: readRows * 5 },
      readRowsPerUser: { perSecond: readRows * 2, burst: readRows * 10 },
      sendQueueBytes: limit('sendQueueBytes', DEFAULT_LIMITS.sendQueueBytes, 64 * 1024, 1024 ** 3),
      slowGraceMs: limit('slowClientGraceMs', DEFAULT_LIMITS.slowGraceMs, 100, 600_000),
    },
    maxTokenTtlMs: duration('MAX_TOKEN_TTL', get('maxTokenTtl'), DEFAULT_MAX_TOKEN_TTL_MS),
    trustProxy: (get('trustProxy') ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map(checkProxy),
    helloTimeoutMs: integer('HELLO_TIMEOUT_MS', get('helloTimeoutMs'), Limits.helloTimeoutMs, 100, 600_000),
    typingExpiryMs: integer('TYPING_EXPIRY_MS', get('typingExpiryMs'), Limits.typingExpiryMs, 100, 600_000),
    allowUwsFallback: ['1', 'true', 'yes'].includes((get('allowUwsFallback') ?? '').toLowerCase()),
    commitWindowMs: integer('COMMIT_WINDOW_MS', get('commitWindowMs'), COMMIT_WINDOW_MS, 0, 1000),
    widgetBundle: get('widgetBundle') ?? new URL('../dist/chat-room.js', rootUrl()).pathname,
    demoDir: get('demoDir') ?? new URL('../demo/', rootUrl()).pathname,
    presence: presenceTimings(
      integer('PRESENCE_GRACE_MS', get('presenceGraceMs'), Limits.presenceGraceMs, 0, 600_000),
      integer('PRESENCE_HEARTBEAT_MS', get('presenceHeartbeatMs'), 5000, 100, 600_000),
      integer('PRESENCE_STALE_MS', get('presenceStaleMs'), Limits.presenceStaleMs, 200, 3_600_000),
    ),
    // Read raw (not through get()): set but empty must be refused, not taken for unset.
    apiKey: checkBearer('CHAT_API_KEY', raw('apiKey')),
    metricsToken: checkBearer('METRICS_TOKEN', raw('metricsToken')),
    webhook: checkWebhook(get('webhookUrl'), raw('webhookSecret'), {
      concurrency: limit('webhookConcurrency', 16, 1, 256),
      retryMinMs: limit('webhookRetryMinMs', 1000, 10, 3_600_000),
      retryMaxMs: limit('webhookRetryMaxMs', 3_600_000, 10, 24 * 3_600_000),
    }),
  };
}

/** The relay/ folder, whether running from source (tsx) or from build/relay. */
function rootUrl(): URL {
  const here = new URL('.', import.meta.url);
  return here.pathname.includes('/build/relay/') ? new URL('../', here) : here;
}

/**
 * Settings that lift every per-client limit, for load tests and benchmarks against a relay
 * you own: thousands of simulated clients share one address and one machine.
 */
export const LIFTED_LIMITS_ENV = {
  RATE_LIMIT: '1000000',
  RATE_BURST: '1000000',
  MAX_CONNECTIONS_PER_IP: '1000000',
  MAX_UNAUTHENTICATED_PER_IP: '1000000',
  MAX_CONNECTIONS_PER_USER: '1000000',
  MAX_JOINS_PER_CONNECTION: '1000000',
  NEW_CONVERSATIONS_PER_MINUTE: '1000000',
  READ_ROWS_PER_SECOND: '100000000',
} as const;
