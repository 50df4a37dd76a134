/**
 * A webhook receiver for the tests: a real node:http server on a free port that verifies
 * every signature, records every arrival, and can be told to answer 200, answer 500, hold
 * requests without answering, or stop listening altogether (and listen again on the same port).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { WebhookEvent } from '../../protocol/index.js';
import { verifySignature } from '../webhooks/signature.js';

export type ReceiverMode = 'ok' | 'fail' | 'hold';

export interface Arrival {
  event: WebhookEvent;
  raw: string;
  signature: string;
  verified: boolean;
  /** Answered 2xx on a live connection. */
  acknowledged: boolean;
  at: number;
}

export class WebhookReceiver {
  readonly arrivals: Arrival[] = [];
  mode: ReceiverMode = 'ok';
  private _server: Server | null = null;
  private readonly _sockets = new Set<Socket>();
  private readonly _held: Array<{ arrival: Arrival; res: ServerResponse }> = [];
  private _port = 0;

  private constructor(private readonly _secret: string) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    await receiver.listen();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this._port}/hooks/chat`;
  }

  get listening(): boolean {
    return this._server !== null;
  }

  /** Starts listening (again, on the same port after the first time). */
  async listen(): Promise<void> {
    const server = createServer((req, res) => this._onRequest(req, res));
    server.on('connection', (socket) => {
      this._sockets.add(socket);
      socket.on('close', () => this._sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this._port, '127.0.0.1', () => resolve());
    });
    this._port = (server.address() as AddressInfo).port;
    this._server = server;
  }

  /** Stops listening and cuts every connection: the relay gets "connection refused". */
  async close(): Promise<void> {
    const server = this._server;
    this._server = null;
    if (!server) return;
    for (const socket of this._sockets) socket.destroy();
    this._held.length = 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests held (mode `hold`) and not answered yet. */
  get heldCount(): number {
    return this._held.length;
  }

  /** Answers every held request with 200 (those whose connection is gone stay unacknowledged). */
  release(): void {
    for (const { arrival, res } of this._held.splice(0)) this._acknowledge(arrival, res);
  }

  /** Distinct event ids that arrived with a valid signature. */
  distinctIds(): Set<string> {
    return new Set(this.arrivals.filter((a) => a.verified).map((a) => a.event.id));
  }

  /** Per event id, how many times it was acknowledged. */
  acknowledgements(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const a of this.arrivals) if (a.acknowledged) counts.set(a.event.id, (counts.get(a.event.id) ?? 0) + 1);
    return counts;
  }

  /** The first arrival of each distinct event, in arrival order (what a deduplicating receiver processes). */
  deduplicated(): Arrival[] {
    const seen = new Set<string>();
    return this.arrivals.filter((a) => a.verified && !seen.has(a.event.id) && (seen.add(a.event.id), true));
  }

  async until(condition: (receiver: this) => boolean, timeoutMs = 30_000, what = 'receiver condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this)) {
      if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms (${this.arrivals.length} arrivals, ${this.distinctIds().size} distinct)`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async dispose(): Promise<void> {
    await this.close();
  }

  private _onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['x-chat-signature'] ?? '');
      const verified = req.method === 'POST' && req.headers['content-type'] === 'application/json' && verifySignature(this._secret, signature, raw).ok;
      let event: WebhookEvent;
      try {
        event = JSON.parse(raw) as WebhookEvent;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const arrival: Arrival = { event, raw, signature, verified, acknowledged: false, at: Date.now() };
      this.arrivals.push(arrival);
      if (!verified) return void res.writeHead(401).end('bad signature');
      if (this.mode === 'fail') return void res.writeHead(500).end('down for maintenance');
      if (this.mode === 'hold') return void this._held.push({ arrival, res });
      this._acknowledge(arrival, res);
    });
  }

  private _acknowledge(arrival: Arrival, res: ServerResponse): void {
    if (res.socket === null || res.socket.destroyed) return;
    arrival.acknowledged = true;
    res.writeHead(204).end();
  }
}
