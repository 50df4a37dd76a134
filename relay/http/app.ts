/**
 * The relay's uWS app: routes only. Each route file copies what it needs out of the request
 * synchronously (uWS request objects die when the handler returns) and hands it to the hub,
 * the authenticator or the file store; no chat rules live here.
 */
import { connect } from 'node:net';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { FileStore } from '../files/store.js';
import type { Authenticator, Hub, Logger } from '../hub/index.js';
import { listenExclusive, type Uws } from '../uws.js';
import { TrustedProxies } from './client-address.js';
import { Cors } from './cors.js';
import { serveFile } from './download.js';
import { refuseAmbiguousFraming } from './framing.js';
import { endWith, notFound } from './reply.js';
import { serveDemo, WidgetBundle } from './static.js';
import { isLoopback, LoopDelay } from './loop-delay.js';
import type { BearerSecret } from './bearer.js';
import { serveHealth, serveMetrics, serveReady, type HealthProbe, type MetricsSource } from './ops.js';
import { handleUpload } from './upload.js';
import { handleApi } from './api.js';
import type { ServerApi } from '../api/server-api.js';
import { registerWebSocket } from './ws.js';

export interface ServerOptions {
  uws: Uws;
  hub: Hub;
  auth: Authenticator;
  files: FileStore;
  logger: Logger;
  allowedOrigins: readonly string[] | undefined;
  maxUploadBytes: number;
  widgetBundle: string;
  demoDir: string;
  /** Proxies (IPs or CIDRs) whose X-Forwarded-For names the client (TRUST_PROXY); none by default. */
  trustProxy?: readonly string[];
  /** What /healthz reports; without it, only that the relay answers (store and bus not checked). */
  health?: HealthProbe;
  /** GET /metrics; absent = no such route. */
  metrics?: MetricsSource;
  /** METRICS_TOKEN: /metrics then needs `Authorization: Bearer <token>`. */
  metricsToken?: BearerSecret;
  /** The server API (CHAT_API_KEY set); absent: /api/* answers 404. */
  api?: ServerApi;
  /** Told about every stored upload (metrics). */
  onUpload?: (bytes: number) => void;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
}

export class RelayServer {
  private readonly _app: TemplatedApp;
  private _listenSocket: us_listen_socket | null = null;
  /** Set once shutdown begins: /readyz answers 503 from then on. */
  private _draining = false;

  constructor(private readonly _o: ServerOptions) {
    this._app = _o.uws.App();
    this._routes();
  }

  /**
   * Listens on host:port, alone: a port where another process listens is refused at once
   * (PortInUseError). A port that refuses the bind while nobody listens on it is waited for:
   * after a restart, the previous process's closed connections may hold it in TIME_WAIT (up
   * to 60 s on Linux), and retrying turns that into a short wait instead of a failed restart.
   */
  async listen(host: string, port: number, retryForMs = 90_000): Promise<number> {
    const deadline = Date.now() + retryForMs;
    for (let attempt = 0; ; attempt++) {
      const socket = await listenExclusive(this._app, host, port);
      if (socket) {
        this._listenSocket = socket;
        return this._o.uws.us_socket_local_port(socket as never);
      }
      if (port !== 0 && (await someoneListens(host, port))) {
        throw new PortInUseError(`port ${host}:${port} is in use by another process`);
      }
      if (port === 0 || Date.now() >= deadline) {
        throw new Error(`cannot listen on ${host}:${port}: the port refused the bind for ${Math.round(retryForMs / 1000)} s although nothing listens on it`);
      }
      if (attempt === 0) {
        this._o.logger.warn({ host, port }, 'port busy but nobody listens on it (closed connections of a previous run in TIME_WAIT?); retrying for up to 90 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /**
   * Shutdown began: /readyz says 503 from now on (to a load balancer probing over a kept-alive
   * connection), and no new connection is accepted; open ones are closed by the hub.
   */
  drain(): void {
    this._draining = true;
    this.stopListening();
  }

  /** Stops accepting connections; open ones are closed by the hub. */
  stopListening(): void {
    if (this._listenSocket) this._o.uws.us_listen_socket_close(this._listenSocket);
    this._listenSocket = null;
  }

  private _routes(): void {
    const { uws, hub, files, auth, logger, maxUploadBytes } = this._o;
    const app = this._app;
    const cors = new Cors(this._o.allowedOrigins);
    const bundle = new WidgetBundle(this._o.widgetBundle);
    type Handler = (res: HttpResponse, req: HttpRequest, head: boolean) => void;
    // Every route refuses a body framed two ways before anything else (see framing.ts).
    const guarded = (handler: Handler, head: boolean) => (res: HttpResponse, req: HttpRequest) => {
      if (!refuseAmbiguousFraming(res, req, cors)) handler(res, req, head);
    };
    // HEAD is answered wherever GET is: the same status and headers, Content-Length included, no body.
    const getAndHead = (pattern: string, handler: Handler) => {
      app.get(pattern, guarded(handler, false));
      app.head(pattern, guarded(handler, true));
    };

    registerWebSocket(app, { uws, hub, cors, trustedProxies: new TrustedProxies(this._o.trustProxy ?? []) });
    const health: HealthProbe = this._o.health ?? { pingStore: async () => {}, busState: () => 'local', connections: () => hub.sessionCount };
    getAndHead('/healthz', (res, _req, head) => serveHealth(res, health, head));
    getAndHead('/readyz', (res, _req, head) => serveReady(res, this._draining, head));
    const metrics = this._o.metrics;
    if (metrics) getAndHead('/metrics', (res, req, head) => serveMetrics(res, req, metrics, this._o.metricsToken, head));
    // Event-loop delay for the load harness (loadtest/README.md); `?reset` from this machine
    // only starts a new measurement.
    const loopDelay = new LoopDelay();
    getAndHead('/stats', (res, req, head) => {
      const reset = /(^|&)reset(=|&|$)/.test(req.getQuery() ?? '') && isLoopback(Buffer.from(res.getRemoteAddressAsText()).toString('latin1'));
      res.writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
      endWith(res, JSON.stringify({ connections: hub.sessionCount, event_loop_delay: loopDelay.snapshot(reset) }), { head });
    });
    getAndHead('/chat-room.js', (res, req, head) => bundle.serve(res, req, head));
    getAndHead('/chat-room/:name', (res, req, head) => bundle.serveChunk(res, req, head));
    app.options('/upload', guarded((res, req) => cors.preflight(res, req, 'POST, OPTIONS'), false));
    app.post('/upload', guarded((res, req) => handleUpload(res, req, { files, auth, cors, logger, maxUploadBytes, onStored: this._o.onUpload, refusal: (identity, conv) => hub.uploadRefusal(identity, conv) }), false));
    app.options('/files/:id', guarded((res, req) => cors.preflight(res, req, 'GET, HEAD, OPTIONS'), false));
    getAndHead('/files/:id', (res, req, head) => serveFile(res, req, files, cors, head));
    // Every method, HEAD included, and no CORS (server to server; see api.ts).
    const api = this._o.api ?? null;
    app.any('/api/*', guarded((res, req) => handleApi(res, req, api), false));
    getAndHead('/*', (res, req, head) => serveDemo(res, req, this._o.demoDir, head));
    app.any('/*', guarded((res, req) => notFound(res, req.getMethod() === 'head'), false));
  }
}

/** Whether a TCP connection to host:port succeeds, i.e. some process listens there (a wildcard host is probed on loopback). */
async function someoneListens(host: string, port: number): Promise<boolean> {
  const targets = host === '0.0.0.0' || host === '' ? ['127.0.0.1'] : host === '::' ? ['::1', '127.0.0.1'] : [host];
  for (const target of targets) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: target, port, timeout: 1000 });
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.once('connect', () => done(true));
      socket.once('timeout', () => done(false));
      socket.once('error', () => done(false));
    });
    if (connected) return true;
  }
  return false;
}
