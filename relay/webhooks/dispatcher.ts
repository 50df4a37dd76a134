/**
 * Delivers the store's durable webhook queue to WEBHOOK_URL (PROTOCOL.md "Webhooks").
 *
 * The store queues an event in the same transaction that stores the message, update or first
 * join; this dispatcher only moves events from the queue to the receiver:
 *   claim (a lease, at most one event per conversation: the oldest) → POST, signed →
 *   2xx: complete (removed; the conversation's next event becomes due)
 *   else: fail (due again after a backoff; the conversation waits for it, keeping seq order).
 * Every relay of a cluster runs one; a lease held by one relay keeps the others off that
 * event, and a relay killed mid-delivery only delays it until its lease runs out (then
 * another relay, or the same one restarted, delivers it again: at least once; receivers
 * deduplicate on the event id).
 *
 * Retries: exponential backoff with full jitter, from 1 s up to 1 h between attempts. An
 * event is never dropped: once it has failed for more than 24 h it is retried exactly every
 * hour, each failure logged at error level and counted (chat_webhook_overdue_total), until
 * the receiver takes it or an operator removes it from the store.
 *
 * One state machine: idle → running → stopping → stopped, changed only by _setState.
 */
import { randomUUID } from 'node:crypto';
import type { WebhookEvent } from '../../protocol/index.js';
import type { Logger } from '../hub/ports.js';
import type { QueuedWebhook, Store } from '../store/types.js';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';

export type WebhookStore = Pick<Store, 'enableWebhooks' | 'claimWebhooks' | 'completeWebhook' | 'failWebhook' | 'webhookBacklog'>;

/** What the dispatcher reports (RelayMetrics implements it). */
export interface WebhookObserver {
  webhookQueueDepth(depth: number): void;
  webhookAttempt(ms: number, outcome: { delivered: true; delayMs: number } | { delivered: false; failure: 'status' | 'timeout' | 'network'; overdue: boolean }): void;
}

export interface WebhookDispatcherOptions {
  store: WebhookStore;
  url: string;
  secret: string;
  logger: Logger;
  observer?: WebhookObserver;
  /** Deliveries in flight at once (over all conversations; one per conversation at most). */
  concurrency?: number;
  /** A POST without an answer within this long counts as failed. */
  timeoutMs?: number;
  /** How long a claimed event is this relay's; longer than the timeout plus the time to complete it. */
  leaseMs?: number;
  /** How often the queue is looked at when nothing woke the dispatcher (another relay's appends, due retries). */
  pollMs?: number;
  /** How often the queue depth is read for the metrics. */
  depthEveryMs?: number;
  /** How often, at most, the queue depth is logged while deliveries fail or the queue is long. */
  reportEveryMs?: number;
  backoff?: { baseMs: number; capMs: number };
  /** After this long undelivered, an event is retried every capMs exactly and every failure is an error. */
  overdueAfterMs?: number;
  random?: () => number;
  now?: () => number;
  fetch?: typeof fetch;
}

export const WEBHOOK_DEFAULTS = {
  concurrency: 16,
  timeoutMs: 5000,
  leaseMs: 10_000,
  pollMs: 250,
  depthEveryMs: 5000,
  reportEveryMs: 60_000,
  backoff: { baseMs: 1000, capMs: 3_600_000 },
  overdueAfterMs: 24 * 3_600_000,
} as const;

/** A queue this long is reported in the log even without failures. */
const LONG_QUEUE = 1000;

type State = { name: 'idle' } | { name: 'running'; loop: Promise<void> } | { name: 'stopping'; loop: Promise<void> } | { name: 'stopped' };

/** The delay before attempt `failures + 1`: full jitter over an exponential ceiling (AWS's "full jitter"). */
export function backoffMs(failures: number, { baseMs, capMs }: { baseMs: number; capMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 40));
  return Math.round(random() * ceiling);
}

export class WebhookDispatcher {
  /** Per process: a restarted relay does not inherit its former self's leases (they simply run out). */
  readonly owner = `relay-${randomUUID()}`;
  private _state: State = { name: 'idle' };
  /** POSTs in flight (at most `concurrency`). */
  private readonly _posting = new Set<Promise<void>>();
  /** Outcomes being written to the store (with the POSTs, at most twice `concurrency` claimed events at once). */
  private readonly _recording = new Set<Promise<void>>();
  private _wake: (() => void) | null = null;
  private _nudged = false;
  private _depthTimer: NodeJS.Timeout | undefined;
  private _claimFailures = 0;
  /** Since the last depth report in the log. */
  private _period = { delivered: 0, failed: 0, since: 0 };
  private readonly _o: Required<Omit<WebhookDispatcherOptions, 'observer'>> & { observer: WebhookObserver | undefined };

  constructor(options: WebhookDispatcherOptions) {
    this._o = {
      ...WEBHOOK_DEFAULTS,
      random: Math.random,
      now: Date.now,
      fetch: globalThis.fetch,
      ...options,
      observer: options.observer,
    };
    if (this._o.leaseMs <= this._o.timeoutMs) throw new Error('the webhook lease must outlast the request timeout');
  }

  get state(): State['name'] {
    return this._state.name;
  }

  /** Starts delivering. The store must already queue events (enableWebhooks, done by main.ts before the hub starts). */
  start(): void {
    if (this._state.name !== 'idle') return;
    // The loop runs while the state is `running`: set first, then started.
    let begin!: () => void;
    const loop = new Promise<void>((resolve) => (begin = resolve)).then(() => this._loop());
    this._setState({ name: 'running', loop });
    begin();
    this._depthTimer = setInterval(() => void this._readDepth(), this._o.depthEveryMs);
    this._depthTimer.unref();
    void this._readDepth();
  }

  /** Something was appended on this relay: look at the queue now rather than at the next poll. */
  nudge(): void {
    this._nudged = true;
    this._wake?.();
  }

  /**
   * Stops claiming, and waits for the deliveries in flight (each bounded by the timeout) so
   * that their outcome is written before the store closes. An event whose outcome could not
   * be written is delivered again later by whoever claims it after the lease.
   */
  async stop(): Promise<void> {
    const state = this._state;
    if (state.name === 'idle') return this._setState({ name: 'stopped' });
    if (state.name !== 'running') return;
    this._setState({ name: 'stopping', loop: state.loop });
    await state.loop;
    await Promise.allSettled([...this._posting]);
    await Promise.allSettled([...this._recording]);
    this._setState({ name: 'stopped' });
  }

  // ------------------------------------------------------------------ the loop

  private async _loop(): Promise<void> {
    while (this._state.name === 'running') {
      // A slot is a POST; its outcome is written after the slot is free (so the store's commit
      // latency does not hold a request slot), bounded as well.
      const concurrency = this._o.concurrency;
      const free = Math.min(concurrency - this._posting.size, 2 * concurrency - this._posting.size - this._recording.size);
      if (free <= 0) {
        await this._sleep(this._o.pollMs);
        continue;
      }
      this._nudged = false;
      let claimed: QueuedWebhook[];
      try {
        claimed = await this._o.store.claimWebhooks(this.owner, this._o.now(), this._o.leaseMs, free);
        this._claimFailures = 0;
      } catch (error) {
        // The store is away (PostgreSQL down): the events wait in it; try again, slower each time.
        this._claimFailures++;
        if (this._claimFailures === 1 || this._claimFailures % 60 === 0) {
          this._o.logger.warn({ err: error, failures: this._claimFailures }, 'webhooks: cannot read the queue; retrying');
        }
        await this._sleep(Math.min(this._o.pollMs * 2 ** Math.min(this._claimFailures, 6), 10_000));
        continue;
      }
      for (const queued of claimed) this._track(this._posting, this._deliver(queued));
      // A full batch: there may be more right now. Otherwise wait for an append, a finished
      // delivery (its conversation's next event is due) or the poll.
      if (claimed.length < free && !this._nudged) await this._sleep(this._o.pollMs);
    }
  }

  /** Keeps `work` in `set` until it settles, then wakes the loop (a slot is free, or a conversation's next event is due). */
  private _track(set: Set<Promise<void>>, work: Promise<void>): void {
    set.add(work);
    void work.finally(() => {
      set.delete(work);
      this.nudge();
    });
  }

  /** Waits `ms`, or less when nudged or stopped. */
  private _sleep(ms: number): Promise<void> {
    if (this._state.name !== 'running') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this._wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this._wake = done;
    });
  }

  // ------------------------------------------------------------------ one delivery

  /** One POST; its outcome is then recorded outside the request slot. */
  private async _deliver(queued: QueuedWebhook): Promise<void> {
    const event: WebhookEvent = queued.event;
    const body = JSON.stringify(event);
    const started = this._o.now();
    let failure: { kind: 'status' | 'timeout' | 'network'; detail: string } | null = null;
    try {
      const response = await this._o.fetch(this._o.url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(this._o.secret, body),
          'user-agent': 'chat-room-relay',
        },
        // A redirect is not followed: the receiver's URL is configured, not discovered.
        redirect: 'manual',
        signal: AbortSignal.timeout(this._o.timeoutMs),
      });
      // The body is not needed: releasing it frees the connection for the next event.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status > 299) failure = { kind: 'status', detail: `HTTP ${response.status}` };
    } catch (error) {
      const name = (error as Error).name;
      failure = name === 'TimeoutError' || name === 'AbortError'
        ? { kind: 'timeout', detail: `no answer within ${this._o.timeoutMs} ms` }
        : { kind: 'network', detail: describe(error) };
    }
    this._track(this._recording, this._record(queued, started, this._o.now(), failure));
  }

  /** Completes the event, or schedules its next attempt; logs and counts either. */
  private async _record(queued: QueuedWebhook, started: number, finished: number, failure: { kind: 'status' | 'timeout' | 'network'; detail: string } | null): Promise<void> {
    const { store, logger, observer } = this._o;
    const event = queued.event;
    const attempt = queued.attempts + 1;
    const context = { event: event.id, type: event.type, conv: event.conv, attempt };
    try {
      if (!failure) {
        await store.completeWebhook(event.id, this.owner);
        this._period.delivered++;
        observer?.webhookAttempt(finished - started, { delivered: true, delayMs: finished - event.ts });
        logger.debug(context, 'webhook delivered');
        return;
      }
      const age = finished - event.ts;
      const overdue = age >= this._o.overdueAfterMs;
      const delay = overdue ? this._o.backoff.capMs : backoffMs(attempt, this._o.backoff, this._o.random);
      await store.failWebhook(event.id, this.owner, finished + delay, failure.detail);
      this._period.failed++;
      observer?.webhookAttempt(finished - started, { delivered: false, failure: failure.kind, overdue });
      const details = { ...context, reason: failure.detail, retryInMs: delay, ageMs: age };
      if (overdue) logger.error(details, 'webhook undelivered for more than 24 h; still retrying every hour (never dropped)');
      else logger.warn(details, 'webhook delivery failed; will retry');
    } catch (error) {
      // The outcome could not be written (store away): the lease runs out and the event is
      // delivered again (a receiver that already has it deduplicates on its id).
      logger.warn({ ...context, err: error }, 'webhook outcome not recorded; the event will be delivered again after its lease');
    }
  }

  private async _readDepth(): Promise<void> {
    let depth: number;
    try {
      depth = await this._o.store.webhookBacklog();
    } catch {
      return; // The store is away; the claim loop says so in the log.
    }
    this._o.observer?.webhookQueueDepth(depth);
    // The depth goes to the log too, at most once a period, when something is wrong: attempts
    // failed, or the queue is long (the receiver is slower than the chat).
    const now = this._o.now();
    const period = this._period;
    if (now - period.since < this._o.reportEveryMs) return;
    if (period.failed > 0 || depth >= LONG_QUEUE) {
      this._o.logger.warn({ depth, delivered: period.delivered, failedAttempts: period.failed, periodMs: now - period.since }, 'webhooks: events waiting in the queue');
    }
    this._period = { delivered: 0, failed: 0, since: now };
  }

  // ------------------------------------------------------------------ the one state change

  private _setState(next: State): void {
    this._state = next;
    if (next.name === 'stopping' || next.name === 'stopped') {
      clearInterval(this._depthTimer);
      this._wake?.();
    }
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
