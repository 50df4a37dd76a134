/**
 * The relay's Prometheus metrics (GET /metrics), with prom-client. Its own Registry, not
 * prom-client's global one: two relays in one process (tests) or a library that registers
 * its own metrics globally cannot collide with ours.
 *
 * RelayMetrics implements the hub's HubObserver (the hub never imports prom-client) and
 * the small hooks of the upload route and the webhook dispatcher. Every method is
 * synchronous and cheap: it runs on the hot path of every frame.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HubObserver } from '../hub/ports.js';

/** Seconds; appends are fsynced group commits (ms), a slow disk or PostgreSQL can take seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds from append to the receiver's 2xx: normally well under a second, up to a day of retries. */
const WEBHOOK_DELAY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86_400];
/** Events per group commit (when the store reports its batches). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/**
 * Distinct label values one label may take; later newcomers are counted as `other`. The
 * hub passes decoded frame types and protocol error codes (a small fixed set), so this only
 * guards the registry's memory against a future caller that passes something unbounded.
 */
const MAX_LABEL_VALUES = 64;

class BoundedLabel {
  private readonly _seen = new Set<string>();
  value(raw: string): string {
    if (this._seen.has(raw)) return raw;
    if (this._seen.size >= MAX_LABEL_VALUES) return 'other';
    this._seen.add(raw);
    return raw;
  }
}

/** Why a webhook attempt did not count as delivered. */
export type WebhookFailure = 'status' | 'timeout' | 'network';

export class RelayMetrics implements HubObserver {
  readonly registry = new Registry();
  private readonly _connections: Gauge;
  private readonly _connectionsOpened: Counter;
  private readonly _joined: Gauge;
  private readonly _framesIn: Counter<'type'>;
  private readonly _framesOut: Counter<'type'>;
  private readonly _errors: Counter<'code'>;
  private readonly _appends: Counter;
  private readonly _appendSeconds: Histogram;
  private readonly _batchSize: Histogram;
  private readonly _fanOutSeconds: Histogram;
  private readonly _busReconnects: Counter;
  private readonly _uploads: Counter;
  private readonly _uploadBytes: Counter;
  private readonly _webhookDepth: Gauge;
  private readonly _webhookAttempts: Counter;
  private readonly _webhookDelivered: Counter;
  private readonly _webhookFailures: Counter<'reason'>;
  private readonly _webhookOverdue: Counter;
  private readonly _webhookRequestSeconds: Histogram;
  private readonly _webhookDelaySeconds: Histogram;
  private readonly _typeIn = new BoundedLabel();
  private readonly _typeOut = new BoundedLabel();
  private readonly _codes = new BoundedLabel();

  constructor() {
    const registers = [this.registry];
    // Process figures (CPU, memory, handles, GC) and the event-loop delay
    // (nodejs_eventloop_lag_p50_seconds, _p99_seconds…, sampled every 10 ms as /stats does).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    this._connections = new Gauge({ name: 'chat_connections', help: 'Open WebSocket connections', registers });
    this._connectionsOpened = new Counter({ name: 'chat_connections_opened_total', help: 'WebSocket connections opened', registers });
    this._joined = new Gauge({ name: 'chat_joined_sessions', help: 'Conversations joined, summed over connections', registers });
    this._framesIn = new Counter({ name: 'chat_frames_in_total', help: 'Client frames received, by type (invalid = failed to decode)', labelNames: ['type'], registers });
    this._framesOut = new Counter({ name: 'chat_frames_out_total', help: 'Frames sent, by type (a fan-out counts once per receiver)', labelNames: ['type'], registers });
    this._errors = new Counter({ name: 'chat_errors_total', help: 'error frames sent, by code', labelNames: ['code'], registers });
    this._appends = new Counter({ name: 'chat_appends_total', help: 'Store writes (messages and changes) that finished', registers });
    this._appendSeconds = new Histogram({ name: 'chat_append_duration_seconds', help: 'Time from a store write being asked to its durable commit', buckets: LATENCY_BUCKETS, registers });
    this._batchSize = new Histogram({ name: 'chat_append_batch_size', help: 'Events per group-commit transaction (when the store reports it)', buckets: BATCH_BUCKETS, registers });
    this._fanOutSeconds = new Histogram({ name: 'chat_fanout_delay_seconds', help: 'Time from the store commit to the event reaching this relay\'s receivers', buckets: LATENCY_BUCKETS, registers });
    this._busReconnects = new Counter({ name: 'chat_bus_reconnects_total', help: 'Bus (NATS) reconnects; joined clients were told to resync', registers });
    this._uploads = new Counter({ name: 'chat_uploads_total', help: 'Files stored through POST /upload', registers });
    this._uploadBytes = new Counter({ name: 'chat_upload_bytes_total', help: 'Bytes of the files stored through POST /upload', registers });
    this._webhookDepth = new Gauge({ name: 'chat_webhook_queue_depth', help: 'Webhook events waiting in the durable queue (all relays sharing the store), as last read', registers });
    this._webhookAttempts = new Counter({ name: 'chat_webhook_attempts_total', help: 'Webhook delivery attempts made by this relay', registers });
    this._webhookDelivered = new Counter({ name: 'chat_webhook_delivered_total', help: 'Webhook events acknowledged with a 2xx by the receiver', registers });
    this._webhookFailures = new Counter({ name: 'chat_webhook_failures_total', help: 'Webhook attempts that failed, by reason (status: a non-2xx answer)', labelNames: ['reason'], registers });
    this._webhookOverdue = new Counter({ name: 'chat_webhook_overdue_total', help: 'Failed attempts on events older than 24 h (still retried every hour, never dropped)', registers });
    this._webhookRequestSeconds = new Histogram({ name: 'chat_webhook_request_duration_seconds', help: 'Duration of one webhook POST, whatever its outcome', buckets: LATENCY_BUCKETS, registers });
    this._webhookDelaySeconds = new Histogram({ name: 'chat_webhook_delay_seconds', help: 'Time from the event (its append) to its acknowledged delivery', buckets: WEBHOOK_DELAY_BUCKETS, registers });
  }

  /** The exposition in Prometheus text format, and its Content-Type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  // ------------------------------------------------------------------ HubObserver

  connections(delta: 1 | -1): void {
    this._connections.inc(delta);
    if (delta > 0) this._connectionsOpened.inc();
  }

  joinedSessions(delta: 1 | -1): void {
    this._joined.inc(delta);
  }

  frameIn(type: string): void {
    this._framesIn.inc({ type: this._typeIn.value(type) });
  }

  frameOut(type: string, receivers: number): void {
    if (receivers > 0) this._framesOut.inc({ type: this._typeOut.value(type) }, receivers);
  }

  error(code: string): void {
    this._errors.inc({ code: this._codes.value(code) });
  }

  appended(ms: number): void {
    this._appends.inc();
    this._appendSeconds.observe(ms / 1000);
  }

  fannedOut(ms: number): void {
    this._fanOutSeconds.observe(Math.max(0, ms) / 1000);
  }

  busReconnected(): void {
    this._busReconnects.inc();
  }

  // ------------------------------------------------------------------ store, uploads, webhooks

  /** A group commit of `size` events (stores that report their batches). */
  batch(size: number): void {
    this._batchSize.observe(size);
  }

  uploaded(bytes: number): void {
    this._uploads.inc();
    this._uploadBytes.inc(bytes);
  }

  webhookQueueDepth(depth: number): void {
    this._webhookDepth.set(depth);
  }

  /** One POST finished after `ms`: delivered, or failed for `failure`; `overdue` = the event is older than 24 h. */
  webhookAttempt(ms: number, outcome: { delivered: true; delayMs: number } | { delivered: false; failure: WebhookFailure; overdue: boolean }): void {
    this._webhookAttempts.inc();
    this._webhookRequestSeconds.observe(ms / 1000);
    if (outcome.delivered) {
      this._webhookDelivered.inc();
      this._webhookDelaySeconds.observe(Math.max(0, outcome.delayMs) / 1000);
      return;
    }
    this._webhookFailures.inc({ reason: outcome.failure });
    if (outcome.overdue) this._webhookOverdue.inc();
  }
}
