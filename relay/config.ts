/**
 * Relay configuration: command-line flags win over environment variables, which win over
 * defaults. Every setting has both forms (e.g. --data-dir / DATA_DIR).
 */
import { parseArgs } from 'node:util';
import { Limits } from '../protocol/index.js';
import { DEFAULT_RATE_LIMIT } from './hub.js';

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
  rateLimit: { perSecond: number; burst: number };
  /** Protocol timings, adjustable for tests and unusual deployments. */
  helloTimeoutMs: number;
  typingExpiryMs: number;
  /** Start even if only the slow pure-JS uWebSockets.js fallback loads (not for production). */
  allowUwsFallback: boolean;
  /** Where the widget bundle and the demo pages are served from. */
  widgetBundle: string;
  demoDir: string;
}

const SETTINGS = {
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
  allowUwsFallback: { flag: 'allow-uws-fallback', env: 'ALLOW_UWS_FALLBACK' },
  helloTimeoutMs: { flag: 'hello-timeout-ms', env: 'HELLO_TIMEOUT_MS' },
  typingExpiryMs: { flag: 'typing-expiry-ms', env: 'TYPING_EXPIRY_MS' },
  widgetBundle: { flag: 'widget-bundle', env: 'WIDGET_BUNDLE' },
  demoDir: { flag: 'demo-dir', env: 'DEMO_DIR' },
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
  const origins = get('allowedOrigins')
    ?.split(',')
    .map((o) => o.trim().replace(/\/$/, ''))
    .filter(Boolean);
  return {
    port: integer('PORT', get('port'), 8080, 0, 65535),
    host: get('host') ?? '0.0.0.0',
    dataDir: get('dataDir') ?? './data',
    jwtSecret: get('jwtSecret'),
    allowedOrigins: origins && origins.length > 0 ? origins : undefined,
    maxUploadBytes: integer('MAX_UPLOAD_BYTES', get('maxUploadBytes'), 25 * 1024 * 1024, 1, 2 ** 40),
    natsUrl: get('natsUrl'),
    databaseUrl: get('databaseUrl'),
    logLevel: get('logLevel') ?? 'info',
    rateLimit: {
      perSecond: integer('RATE_LIMIT', get('ratePerSecond'), DEFAULT_RATE_LIMIT.perSecond, 1, 1_000_000),
      burst: integer('RATE_BURST', get('rateBurst'), DEFAULT_RATE_LIMIT.burst, 1, 1_000_000),
    },
    helloTimeoutMs: integer('HELLO_TIMEOUT_MS', get('helloTimeoutMs'), Limits.helloTimeoutMs, 100, 600_000),
    typingExpiryMs: integer('TYPING_EXPIRY_MS', get('typingExpiryMs'), Limits.typingExpiryMs, 100, 600_000),
    allowUwsFallback: ['1', 'true', 'yes'].includes((get('allowUwsFallback') ?? '').toLowerCase()),
    widgetBundle: get('widgetBundle') ?? new URL('../dist/chat-room.js', rootUrl()).pathname,
    demoDir: get('demoDir') ?? new URL('../demo/', rootUrl()).pathname,
  };
}

/** The relay/ folder, whether running from source (tsx) or from build/relay. */
function rootUrl(): URL {
  const here = new URL('.', import.meta.url);
  return here.pathname.includes('/build/relay/') ? new URL('../', here) : here;
}
