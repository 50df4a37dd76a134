/** The settings of the host integration (API key, metrics token, webhooks): mistakes refuse to start, with the reason. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../config.js';

const load = (env: Record<string, string>, argv: string[] = []) => loadConfig(argv, env);

describe('ops - configuration of the API, metrics and webhooks', () => {
  test('ops config - all off by default', () => {
    const config = load({});
    assert.equal(config.apiKey, undefined);
    assert.equal(config.metricsToken, undefined);
    assert.equal(config.webhook, undefined);
  });

  test('ops config - values from the environment and flags (the flag wins)', () => {
    const config = load(
      { CHAT_API_KEY: 'env-key', METRICS_TOKEN: 'm', WEBHOOK_URL: 'http://127.0.0.1:9/hook', WEBHOOK_SECRET: 's' },
      ['--api-key', 'flag-key', '--webhook-concurrency', '3'],
    );
    assert.equal(config.apiKey, 'flag-key');
    assert.equal(config.metricsToken, 'm');
    assert.deepEqual(config.webhook, { url: 'http://127.0.0.1:9/hook', secret: 's', concurrency: 3, retryMinMs: 1000, retryMaxMs: 3_600_000 });
  });

  test('ops config - an empty key or token, a webhook without a secret or with a bad URL are refused', () => {
    const refused: Array<[Record<string, string>, RegExp]> = [
      [{ CHAT_API_KEY: '' }, /CHAT_API_KEY is set but empty/],
      [{ METRICS_TOKEN: ' ' }, /METRICS_TOKEN is set but empty/],
      [{ CHAT_API_KEY: 'a b' }, /must not contain spaces/],
      [{ WEBHOOK_URL: 'http://example.com/' }, /needs WEBHOOK_SECRET/],
      [{ WEBHOOK_SECRET: 's' }, /without WEBHOOK_URL/],
      [{ WEBHOOK_URL: 'ftp://example.com/', WEBHOOK_SECRET: 's' }, /http\(s\) URL/],
      [{ WEBHOOK_URL: 'not a url', WEBHOOK_SECRET: 's' }, /http\(s\) URL/],
      [{ WEBHOOK_URL: 'http://x/', WEBHOOK_SECRET: 's', WEBHOOK_CONCURRENCY: '0' }, /WEBHOOK_CONCURRENCY/],
      [{ WEBHOOK_URL: 'http://x/', WEBHOOK_SECRET: 's', WEBHOOK_RETRY_MIN_MS: '5000', WEBHOOK_RETRY_MAX_MS: '1000' }, /WEBHOOK_RETRY_MAX_MS/],
      [{ PRESENCE_HEARTBEAT_MS: '5000', PRESENCE_STALE_MS: '6000' }, /PRESENCE_STALE_MS/],
    ];
    for (const [env, reason] of refused) {
      assert.throws(() => load(env), (error: unknown) => error instanceof ConfigError && reason.test(error.message), JSON.stringify(env));
    }
  });
});
