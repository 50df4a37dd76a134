import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RelayMetrics } from '../metrics/metrics.js';
import { startRelay, TestClient, type RelayProcess } from './harness.js';
import { parseExposition, sampleValue } from './metrics-text.js';

describe('metrics - the strict text parser', () => {
  test('metrics - the parser refuses what Prometheus would refuse', () => {
    const ok = '# HELP a_total help\n# TYPE a_total counter\na_total{x="1"} 2\n';
    assert.equal(sampleValue(parseExposition(ok), 'a_total', { x: '1' }), 2);
    const bad = [
      'a_total 1', // no final newline
      '# TYPE a_total counter\na_total 1\na_total 2\n', // a series twice
      '# TYPE a_total counter\na_total{x="\\q"} 1\n', // a bad escape
      'b 1\n', // no TYPE/HELP before the sample
      '# TYPE a counter\n# TYPE a gauge\na 1\n', // TYPE twice
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // buckets fall
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', // +Inf != count
      '# TYPE a gauge\na one\n', // not a number
    ];
    for (const text of bad) assert.throws(() => parseExposition(text), Error, JSON.stringify(text));
  });
});

describe('metrics - registry', () => {
  test('metrics - the exposition parses and every HubObserver call moves its series', async () => {
    const metrics = new RelayMetrics();
    const before = parseExposition((await metrics.exposition()).text);
    assert.equal(sampleValue(before, 'chat_connections'), 0);
    metrics.connections(1);
    metrics.connections(1);
    metrics.connections(-1);
    metrics.joinedSessions(1);
    metrics.frameIn('send');
    metrics.frameIn('send');
    metrics.frameOut('msg', 3);
    metrics.error('rate_limited');
    metrics.appended(4);
    metrics.batch(7);
    metrics.fannedOut(2);
    metrics.busReconnected();
    metrics.uploaded(1234);
    metrics.webhookQueueDepth(5);
    metrics.webhookAttempt(12, { delivered: true, delayMs: 40 });
    metrics.webhookAttempt(5000, { delivered: false, failure: 'timeout', overdue: true });
    const { text, contentType } = await metrics.exposition();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const after = parseExposition(text);
    const value = (name: string, labels?: Record<string, string>) => sampleValue(after, name, labels);
    assert.equal(value('chat_connections'), 1);
    assert.equal(value('chat_connections_opened_total'), 2);
    assert.equal(value('chat_joined_sessions'), 1);
    assert.equal(value('chat_frames_in_total', { type: 'send' }), 2);
    assert.equal(value('chat_frames_out_total', { type: 'msg' }), 3);
    assert.equal(value('chat_errors_total', { code: 'rate_limited' }), 1);
    assert.equal(value('chat_appends_total'), 1);
    assert.equal(value('chat_append_duration_seconds_count'), 1);
    assert.equal(value('chat_append_batch_size_sum'), 7);
    assert.equal(value('chat_fanout_delay_seconds_count'), 1);
    assert.equal(value('chat_bus_reconnects_total'), 1);
    assert.equal(value('chat_uploads_total'), 1);
    assert.equal(value('chat_upload_bytes_total'), 1234);
    assert.equal(value('chat_webhook_queue_depth'), 5);
    assert.equal(value('chat_webhook_attempts_total'), 2);
    assert.equal(value('chat_webhook_delivered_total'), 1);
    assert.equal(value('chat_webhook_failures_total', { reason: 'timeout' }), 1);
    assert.equal(value('chat_webhook_overdue_total'), 1);
    assert.ok(after.has('nodejs_eventloop_lag_p99_seconds'), 'event-loop delay is exported');
  });

  test('metrics - two registries in one process do not collide, and label values are bounded', async () => {
    const a = new RelayMetrics();
    const b = new RelayMetrics();
    a.frameIn('send');
    for (let i = 0; i < 200; i++) b.frameIn(`type-${i}`);
    assert.equal(sampleValue(parseExposition((await a.exposition()).text), 'chat_frames_in_total', { type: 'send' }), 1);
    const families = parseExposition((await b.exposition()).text);
    const series = families.get('chat_frames_in_total')!.samples;
    assert.ok(series.length <= 65, `${series.length} series`);
    assert.equal(sampleValue(families, 'chat_frames_in_total', { type: 'other' }), 200 - 64);
  });
});

describe('metrics - GET /metrics on a relay', () => {
  let relay: RelayProcess;
  const token = 'metrics-token-for-tests-0123456789';
  before(async () => {
    relay = await startRelay({ env: { METRICS_TOKEN: token } });
  });
  after(() => relay.dispose());

  const scrape = async () => {
    const response = await fetch(`${relay.httpUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseExposition(await response.text());
  };

  test('metrics - METRICS_TOKEN is required: none or a wrong one gets 401 and no figures', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, token, `Basic ${token}`]) {
      const response = await fetch(`${relay.httpUrl}/metrics`, { headers: authorization ? { authorization } : {} });
      assert.equal(response.status, 401, String(authorization));
      const body = await response.text();
      assert.doesNotMatch(body, /chat_/);
      assert.doesNotMatch(body, new RegExp(token));
    }
  });

  test('metrics - chat traffic moves the counters: connections, joins, frames in and out by type, errors, appends, batches, fan-out', async () => {
    const before = await scrape();
    const value = (families: typeof before, name: string, labels?: Record<string, string>) => sampleValue(families, name, labels) ?? 0;
    const alice = await TestClient.login(relay.wsUrl, { user: 'alice' });
    const bob = await TestClient.login(relay.wsUrl, { user: 'bob' });
    await alice.join('traffic');
    await bob.join('traffic');
    for (let i = 0; i < 3; i++) {
      alice.send({ type: 'send', conv: 'traffic', id: `t${i}`, text: `hello ${i}` });
      await alice.next((f) => f.type === 'ack' && f.id === `t${i}`);
    }
    await bob.until((frames) => frames.filter((f) => f.type === 'msg').length === 3);
    alice.send({ type: 'send', conv: 'not-joined', id: 'x', text: 'refused' });
    await alice.next((f) => f.type === 'error');
    const during = await scrape();
    assert.equal(value(during, 'chat_connections') - value(before, 'chat_connections'), 2);
    assert.equal(value(during, 'chat_joined_sessions') - value(before, 'chat_joined_sessions'), 2);
    assert.equal(value(during, 'chat_frames_in_total', { type: 'send' }) - value(before, 'chat_frames_in_total', { type: 'send' }), 4);
    assert.equal(value(during, 'chat_frames_in_total', { type: 'join' }) - value(before, 'chat_frames_in_total', { type: 'join' }), 2);
    assert.ok(value(during, 'chat_frames_out_total', { type: 'msg' }) - value(before, 'chat_frames_out_total', { type: 'msg' }) >= 6, 'each message to both');
    assert.equal(value(during, 'chat_frames_out_total', { type: 'ack' }) - value(before, 'chat_frames_out_total', { type: 'ack' }), 3);
    assert.equal(value(during, 'chat_errors_total', { code: 'not_joined' }) - value(before, 'chat_errors_total', { code: 'not_joined' }), 1);
    assert.ok(value(during, 'chat_appends_total') - value(before, 'chat_appends_total') >= 3);
    assert.ok(value(during, 'chat_append_duration_seconds_count') - value(before, 'chat_append_duration_seconds_count') >= 3);
    assert.ok(value(during, 'chat_append_batch_size_sum') - value(before, 'chat_append_batch_size_sum') >= 3, 'the store reports its batches');
    assert.ok(value(during, 'chat_fanout_delay_seconds_count') - value(before, 'chat_fanout_delay_seconds_count') >= 3);
    alice.close();
    bob.close();
    await Promise.all([alice.closed, bob.closed]);
    const deadline = Date.now() + 5000;
    while (value(await scrape(), 'chat_connections') !== value(before, 'chat_connections')) {
      assert.ok(Date.now() < deadline, 'connections back down after the clients left');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(value(await scrape(), 'chat_joined_sessions'), value(before, 'chat_joined_sessions'));
  });

  test('metrics - the scrape parses strictly and the upload counters move with an upload', async () => {
    const first = await scrape();
    const uploads = sampleValue(first, 'chat_uploads_total');
    const bytes = sampleValue(first, 'chat_upload_bytes_total');
    assert.equal(typeof uploads, 'number');
    const response = await fetch(`${relay.httpUrl}/upload?conv=metrics`, {
      method: 'POST',
      body: new Uint8Array(1000),
      headers: { 'X-Chat-User': 'alice', 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(response.status, 201);
    const second = await scrape();
    assert.equal(sampleValue(second, 'chat_uploads_total'), uploads! + 1);
    assert.equal(sampleValue(second, 'chat_upload_bytes_total'), bytes! + 1000);
  });
});
