/**
 * The relay's uWS app: routes only. Each route file copies what it needs out of the request
 * synchronously (uWS request objects die when the handler returns) and hands it to the hub,
 * the authenticator or the file store; no chat rules live here.
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { FileStore } from '../files/store.js';
import type { Authenticator, Hub, Logger } from '../hub/index.js';
import type { Uws } from '../uws.js';
import { TrustedProxies } from './client-address.js';
import { Cors } from './cors.js';
import { serveFile } from './download.js';
import { notFound } from './reply.js';
import { serveDemo, WidgetBundle } from './static.js';
import { handleUpload } from './upload.js';
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
}

export class RelayServer {
  private readonly _app: TemplatedApp;
  private _listenSocket: us_listen_socket | null = null;

  constructor(private readonly _o: ServerOptions) {
    this._app = _o.uws.App();
    this._routes();
  }

  /**
   * Listens, retrying while the port is busy. This uWS build binds without SO_REUSEADDR,
   * so after a restart the port stays unusable while the previous process's closed
   * connections sit in TIME_WAIT (up to 60 s on Linux); retrying turns that into a short
   * wait instead of a failed restart.
   */
  async listen(host: string, port: number, retryForMs = 90_000): Promise<number> {
    const deadline = Date.now() + retryForMs;
    for (let attempt = 0; ; attempt++) {
      const socket = await new Promise<us_listen_socket | false>((resolve) => this._app.listen(host, port, resolve));
      if (socket) {
        this._listenSocket = socket;
        return this._o.uws.us_socket_local_port(socket as never);
      }
      if (port === 0 || Date.now() >= deadline) throw new Error(`cannot listen on ${host}:${port}`);
      if (attempt === 0) {
        this._o.logger.warn({ host, port }, 'port busy (in use, or closed connections of a previous run in TIME_WAIT); retrying for up to 90 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
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

    registerWebSocket(app, { uws, hub, cors, trustedProxies: new TrustedProxies(this._o.trustProxy ?? []) });
    app.get('/healthz', (res) => {
      res.writeHeader('Content-Type', 'application/json').writeHeader('Cache-Control', 'no-store');
      res.end(JSON.stringify({ status: 'ok', connections: hub.sessionCount }));
    });
    app.get('/chat-room.js', (res, req) => bundle.serve(res, req));
    app.options('/upload', (res, req) => cors.preflight(res, req, 'POST, OPTIONS'));
    app.post('/upload', (res, req) => handleUpload(res, req, { files, auth, cors, logger, maxUploadBytes }));
    app.options('/files/:id', (res, req) => cors.preflight(res, req, 'GET, OPTIONS'));
    app.get('/files/:id', (res, req) => serveFile(res, req, files, cors));
    app.get('/*', (res, req) => serveDemo(res, req, this._o.demoDir));
    app.any('/*', (res) => notFound(res));
  }
}
