/**
 * Routes for the people and machines that run the relay: GET /healthz (is it working: the
 * store answers, the bus state), GET /readyz (should a load balancer send it traffic: not
 * once shutdown began) and GET /metrics (Prometheus text format, behind METRICS_TOKEN).
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import type { BearerSecret } from './bearer.js';
import { endWith, json } from './reply.js';

export type BusState = 'local' | 'connected' | 'disconnected';

/** What /healthz asks; main.ts implements it over the store and the bus. */
export interface HealthProbe {
  /** Resolves when the store answered a trivial read; rejects (or never settles) when it cannot be reached. */
  pingStore(): Promise<void>;
  busState(): BusState;
  connections(): number;
}

/** What /metrics serves (relay/metrics implements it with prom-client). */
export interface MetricsSource {
  exposition(): Promise<{ text: string; contentType: string }>;
}

/** The store must answer /healthz's probe within this long, or it counts as unreachable. */
export const STORE_PROBE_TIMEOUT_MS = 2000;

/** Runs `then` on a live response, corked; nothing when the client went away meanwhile. */
function later(res: HttpResponse): (then: () => void) => void {
  let aborted = false;
  res.onAborted(() => (aborted = true));
  return (then) => {
    if (!aborted) res.cork(then);
  };
}

function withTimeout(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

/**
 * 200 while the store answers (the bus may be down: a relay without NATS still serves its own
 * clients, and says so in `bus`), 503 when it does not. Never cached.
 */
export function serveHealth(res: HttpResponse, probe: HealthProbe, head: boolean): void {
  const answer = later(res);
  let ping: Promise<void>;
  try {
    ping = probe.pingStore();
  } catch (error) {
    ping = Promise.reject(error);
  }
  void withTimeout(ping, STORE_PROBE_TIMEOUT_MS).then((storeOk) => {
    const body = {
      status: storeOk ? 'ok' : 'unavailable',
      store: storeOk ? 'ok' : 'unreachable',
      bus: probe.busState(),
      connections: probe.connections(),
    };
    answer(() => json(res, storeOk ? '200 OK' : '503 Service Unavailable', body, { head, headers: noStore }));
  });
}

/** 200 until shutdown begins, then 503 at once, so that a load balancer stops sending new clients here. */
export function serveReady(res: HttpResponse, draining: boolean, head: boolean): void {
  json(res, draining ? '503 Service Unavailable' : '200 OK', { status: draining ? 'shutting_down' : 'ready' }, { head, headers: noStore });
}

/** The metrics, to anyone when no token is set, else only with `Authorization: Bearer <METRICS_TOKEN>`. */
export function serveMetrics(res: HttpResponse, req: HttpRequest, metrics: MetricsSource, token: BearerSecret | undefined, head: boolean): void {
  if (token && !token.matches(req.getHeader('authorization'))) {
    json(res, '401 Unauthorized', { error: { code: 'unauthorized', message: 'metrics need Authorization: Bearer <METRICS_TOKEN>' } }, {
      head,
      headers: (r) => r.writeHeader('WWW-Authenticate', 'Bearer'),
    });
    return;
  }
  const answer = later(res);
  metrics.exposition().then(
    ({ text, contentType }) =>
      answer(() => {
        res.writeStatus('200 OK').writeHeader('Content-Type', contentType);
        noStore(res);
        endWith(res, text, { head });
      }),
    (error: unknown) => answer(() => json(res, '500 Internal Server Error', { error: { code: 'internal', message: `metrics failed: ${(error as Error).message}` } }, { head })),
  );
}

function noStore(res: HttpResponse): void {
  res.writeHeader('Cache-Control', 'no-store');
}
