/**
 * The bus between relay instances: core NATS (@nats-io/transport-node v3), one subject per
 * conversation. An instance publishes its hub's events to NATS only and delivers what its
 * subscriptions receive — its own events included, because NATS echoes to the publisher —
 * so every client gets each event exactly once however many instances run.
 *
 * Core NATS is at-most-once, and that is acceptable: the store is the source of truth.
 * While NATS is unreachable the instance keeps serving its own clients (it delivers its
 * own events directly instead of publishing them); once it is back, the hub is told to
 * `resync` every subscribed conversation, and other instances are told to resync the
 * conversations whose events they could not receive from us.
 *
 * Cluster-wide events (presence) travel on one more subject, `<prefix>.relays`, that every
 * instance subscribes to from the start.
 *
 * Wire format: JSON, `{"v":1,"e":<event>}` or `{"v":1,"gap":"<bus id>"}` on a conversation's
 * subject, `{"v":1,"c":<cluster event>}` on the cluster subject. Events are small
 * (a frame is at most 64 KiB), the hub serializes JSON for clients anyway, V8's JSON.parse
 * beats a JS binary decoder on these shapes, and `nats sub 'chat.conv.>'` stays readable.
 * The version lets instances of different releases share a subject during a rolling
 * upgrade: what a newer release sends that an older one does not understand is skipped.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, type ConnectionOptions, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ID_PATTERN } from '../../protocol/index.js';
import type { Logger } from '../hub/index.js';
import type { Bus, BusEvent, BusHandlers, ClusterEvent } from './types.js';

const WIRE_VERSION = 1;


/**
 * The subject of a conversation. Valid ids are used as they are (readable in NATS tools);
 * anything else — which the protocol's validation should make impossible — is base64url
 * encoded under another prefix, so it can neither break the subject nor collide with a
 * valid id.
 */
export function conversationSubject(prefix: string, conv: string): string {
  // Protocol ids have no `.` (token separator), `*` or `>` (wildcards), no whitespace.
  if (ID_PATTERN.test(conv)) return `${prefix}.conv.${conv}`;
  return `${prefix}.convx.${Buffer.from(conv, 'utf8').toString('base64url') || '_'}`;
}

/** The subject every instance listens to for cluster-wide events (presence). */
export function clusterSubject(prefix: string): string {
  // `relays` is a single token: it can collide with neither `conv.<id>` nor `convx.<b64>`.
  return `${prefix}.relays`;
}

export interface NatsBusOptions {
  /** First subject token, to share one NATS account between several chat deployments. */
  subjectPrefix?: string;
  /** How long `subscribe` waits for the server to confirm; after that it resolves anyway. */
  flushTimeoutMs?: number;
  reconnectTimeWaitMs?: number;
  /** Client-side liveness check: a half-open TCP connection is noticed after pingInterval × maxPingOut. */
  pingIntervalMs?: number;
  /** How long the first connection may take before startup fails. */
  connectTimeoutMs?: number;
}

interface Envelope {
  v: number;
  e?: BusEvent;
  gap?: string;
  c?: ClusterEvent;
}

export class NatsBus implements Bus {
  /** Identifies this bus in gap notices, so it ignores its own. */
  private readonly _id = randomUUID();
  private readonly _subs = new Map<string, { sub: Subscription; ready: Promise<void> }>();
  /** Conversations whose events we delivered only locally while NATS was away. */
  private readonly _unpublished = new Set<string>();
  private _connected = true;
  private _closed = false;
  private readonly _prefix: string;
  private readonly _flushTimeoutMs: number;
  private readonly _statusLoop: Promise<void>;
  private readonly _clusterSub: Subscription;

  private constructor(
    private readonly _nc: NatsConnection,
    private readonly _handlers: BusHandlers,
    private readonly _log: Logger,
    options: NatsBusOptions,
  ) {
    this._prefix = options.subjectPrefix ?? 'chat';
    this._flushTimeoutMs = options.flushTimeoutMs ?? 5000;
    this._statusLoop = this._watchStatus();
    this._clusterSub = this._nc.subscribe(clusterSubject(this._prefix), {
      callback: (error, msg) => {
        if (error) this._log.error({ err: error }, 'NATS cluster subscription failed');
        else this._receiveCluster(msg.data);
      },
    });
  }

  /**
   * Connects to `url` (comma-separated for several servers; `nats://user:pass@host` or
   * `nats://token@host` for credentials). Fails if no server answers at startup, so a
   * misconfigured relay stops instead of running without fan-out; later outages are
   * ridden out with endless reconnects.
   */
  static async connect(url: string, handlers: BusHandlers, logger: Logger, options: NatsBusOptions = {}): Promise<NatsBus> {
    const nc = await connect({
      ...parseNatsUrl(url),
      name: `chat-relay ${hostname()} ${process.pid}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 500,
      reconnectJitter: 500,
      pingInterval: options.pingIntervalMs ?? 10_000,
      maxPingOut: 3,
      timeout: options.connectTimeoutMs ?? 5000,
    });
    logger.info({ server: nc.getServer() }, 'connected to NATS');
    const bus = new NatsBus(nc, handlers, logger, options);
    // The cluster subject is in effect before the hub starts announcing itself on it.
    await bus._confirm('cluster');
    return bus;
  }

  /** Whether events currently go through NATS (false while it is away and events stay local). */
  get connected(): boolean {
    return this._connected;
  }

  subscribe(conv: string): Promise<void> {
    const existing = this._subs.get(conv);
    if (existing) return existing.ready;
    let sub: Subscription;
    try {
      sub = this._nc.subscribe(conversationSubject(this._prefix, conv), {
        callback: (error, msg) => {
          if (error) this._log.error({ err: error, conv }, 'NATS subscription failed');
          else this._receive(conv, msg.data);
        },
      });
    } catch (error) {
      // Only after close (shutdown): the hub is closing its sessions anyway.
      this._log.warn({ err: error, conv }, 'NATS subscribe on a closed connection');
      return Promise.resolve();
    }
    // Disconnected: the client re-subscribes on reconnect, and the gap it missed is
    // repaired by the resync that follows, so joining need not wait for NATS.
    const ready = this._connected ? this._confirm(conv) : Promise.resolve();
    this._subs.set(conv, { sub, ready });
    return ready;
  }

  unsubscribe(conv: string): void {
    const entry = this._subs.get(conv);
    if (!entry) return;
    this._subs.delete(conv);
    try {
      entry.sub.unsubscribe();
    } catch (error) {
      this._log.debug({ err: error, conv }, 'NATS unsubscribe after close');
    }
  }

  publish(conv: string, event: BusEvent): void {
    if (this._closed) return;
    if (!this._connected) {
      this._unpublished.add(conv);
      if (this._subs.has(conv)) this._dispatch(conv, event);
      return;
    }
    try {
      this._nc.publish(conversationSubject(this._prefix, conv), JSON.stringify({ v: WIRE_VERSION, e: event } satisfies Envelope));
    } catch (error) {
      // Only a closed connection or an oversized payload end up here; the store has the
      // message, and clients fill the seq gap from history.
      this._log.warn({ err: error, conv }, 'NATS publish failed');
    }
  }

  broadcast(event: ClusterEvent): void {
    // While NATS is away nobody would hear it; the next snapshot after the reconnect restates it.
    if (this._closed || !this._connected) return;
    try {
      this._nc.publish(clusterSubject(this._prefix), JSON.stringify({ v: WIRE_VERSION, c: event } satisfies Envelope));
    } catch (error) {
      this._log.warn({ err: error, kind: event.kind }, 'NATS broadcast failed');
    }
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    this._subs.clear();
    // drain() flushes what we published; it waits for a server, so it is bounded.
    const drained = this._nc.drain().catch(() => undefined);
    const timer = setTimeout(() => void this._nc.close(), 2000);
    await drained;
    clearTimeout(timer);
    await this._nc.close().catch(() => undefined);
    await this._statusLoop;
  }

  /** Resolves once the server has the subscription (a PING/PONG after the SUB), or gives up waiting. */
  private async _confirm(conv: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this._nc.flush(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this._log.warn({ conv }, 'NATS did not confirm a subscription in time; continuing');
            resolve();
          }, this._flushTimeoutMs);
        }),
      ]);
    } catch (error) {
      // The connection dropped meanwhile: reconnecting re-subscribes and triggers a resync.
      this._log.debug({ err: error, conv }, 'NATS flush failed');
    } finally {
      clearTimeout(timer);
    }
  }

  private _receive(conv: string, data: Uint8Array): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as Envelope;
    } catch {
      this._log.warn({ conv }, 'NATS message is not JSON; skipped');
      return;
    }
    if (typeof envelope !== 'object' || envelope === null || envelope.v !== WIRE_VERSION) return;
    if (envelope.e) this._dispatch(conv, envelope.e);
    else if (typeof envelope.gap === 'string' && envelope.gap !== this._id) this._gap([conv]);
  }

  private _receiveCluster(data: Uint8Array): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as Envelope;
    } catch {
      this._log.warn({ subject: clusterSubject(this._prefix) }, 'NATS cluster message is not JSON; skipped');
      return;
    }
    if (typeof envelope !== 'object' || envelope === null || envelope.v !== WIRE_VERSION || typeof envelope.c !== 'object' || envelope.c === null) return;
    try {
      this._handlers.onBroadcast(envelope.c);
    } catch (error) {
      this._log.error({ err: error }, 'bus cluster handler failed');
    }
  }

  private _dispatch(conv: string, event: BusEvent): void {
    // A throwing handler must not unwind into the NATS parser, which would drop the connection.
    try {
      this._handlers.onEvent(conv, event);
    } catch (error) {
      this._log.error({ err: error, conv }, 'bus event handler failed');
    }
  }

  private _gap(convs: readonly string[]): void {
    if (convs.length === 0) return;
    try {
      this._handlers.onGap(convs);
    } catch (error) {
      this._log.error({ err: error }, 'bus gap handler failed');
    }
  }

  private async _watchStatus(): Promise<void> {
    for await (const status of this._nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this._connected = false;
          this._log.warn({ server: status.server }, 'NATS disconnected: serving local clients only until it is back');
          break;
        case 'reconnect':
          this._log.info({ server: status.server }, 'NATS reconnected: resyncing subscribed conversations');
          await this._afterReconnect();
          break;
        case 'error':
          this._log.error({ err: status.error }, 'NATS error');
          break;
        case 'staleConnection':
        case 'ldm':
          this._log.warn({ status: status.type }, 'NATS connection going away');
          break;
        case 'close':
          return;
        default:
          break;
      }
    }
  }

  private async _afterReconnect(): Promise<void> {
    // Make sure the server has processed the re-sent SUBs before clients re-join, so no
    // event published after their catch-up read can miss them.
    await this._confirm('*');
    if (this._closed) return;
    this._connected = true;
    const notices = [...this._unpublished];
    this._unpublished.clear();
    for (const conv of notices) {
      try {
        this._nc.publish(conversationSubject(this._prefix, conv), JSON.stringify({ v: WIRE_VERSION, gap: this._id } satisfies Envelope));
      } catch (error) {
        this._log.warn({ err: error, conv }, 'NATS gap notice failed');
      }
    }
    this._gap([...this._subs.keys()]);
    try {
      this._handlers.onReconnect();
    } catch (error) {
      this._log.error({ err: error }, 'bus reconnect handler failed');
    }
  }
}

/** NATS_URL → client options: several servers, and credentials taken out of the URL. */
export function parseNatsUrl(raw: string): Pick<ConnectionOptions, 'servers' | 'user' | 'pass' | 'token'> {
  const servers: string[] = [];
  const credentials: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
    const withScheme = /^[a-z]+:\/\//i.test(part) ? part : `nats://${part}`;
    const url = new URL(withScheme);
    if (url.username && url.password) {
      credentials.user = decodeURIComponent(url.username);
      credentials.pass = decodeURIComponent(url.password);
    } else if (url.username) {
      credentials.token = decodeURIComponent(url.username);
    }
    url.username = '';
    url.password = '';
    servers.push(`${url.protocol}//${url.host}`);
  }
  if (servers.length === 0) throw new Error('NATS_URL names no server');
  return { servers, ...credentials };
}
