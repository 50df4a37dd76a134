/**
 * A load-generator worker thread: it owns a share of the virtual users (global index i
 * with i % workers == workerIndex), connects them, sends at the rate the coordinator sets,
 * and measures what arrives. Each virtual user is a member of one conversation; every
 * delivery goes through its SeqChecker.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { RETRYABLE_ERRORS, type ErrorCode } from '../protocol/index.js';
import { addTally, Delivery, emptyTally, SeqChecker } from './accounting.js';
import type { AccountReport, FromWorker, TickReport, ToWorker, WorkerInit } from './messages.js';
import { encodeHistogram, monoMs, newHistogram, recordMs } from './metrics.js';
import { connectWire, type Identity, type WireClient, type WireEvents } from './wire.js';

const VuState = {
  idle: 'idle',
  queued: 'queued',
  connecting: 'connecting',
  ready: 'ready',
  /** Dropped on purpose (churn); reconnects when the storm's timer fires. */
  down: 'down',
  /** Lost its connection unexpectedly; reconnects after a pause. */
  retrying: 'retrying',
  failed: 'failed',
  stopped: 'stopped',
} as const;
type VuState = (typeof VuState)[keyof typeof VuState];

/** Unacked messages one user may have in flight; beyond it the scheduler skips the user. */
const MAX_IN_FLIGHT = 1000;
const MAX_CONNECT_ATTEMPTS = 5;
const SCHEDULER_MS = 5;

interface Pending {
  sentAt: number;
  text: string;
  /** Sent again after a reconnect or a retryable error: its ack latency would include the outage. */
  resent: boolean;
}

class VirtualUser {
  state: VuState = VuState.idle;
  client: WireClient | null = null;
  readonly checker = new SeqChecker();
  readonly pending = new Map<string, Pending>();
  /** Numbers of this user's own messages seen delivered: the same number under two seqs = stored twice. */
  readonly ownSeen = new Set<number>();
  nextNumber = 0;
  maxAck = 0;
  attempts = 0;
  connectStartedAt = 0;
  /** Counts against the worker's handshake concurrency until joined or closed. */
  handshaking = false;
  /** Ever joined: later joins resume with `after`. */
  connectedOnce = false;

  constructor(
    readonly index: number,
    readonly user: string,
    readonly conv: string,
    readonly url: string,
    readonly sender: boolean,
    /** Every id of this user's messages starts with it (users may share an id under one token). */
    readonly idPrefix: string,
  ) {}
}

class Generator {
  private readonly _vus: VirtualUser[] = [];
  private readonly _senders: VirtualUser[] = [];
  private readonly _queue: VirtualUser[] = [];
  private _inFlight = 0;
  private _rate = 0;
  private _budget = 0;
  private _lastSchedule = monoMs();
  private _nextSender = 0;
  private readonly _scheduler: NodeJS.Timeout;
  private readonly _lag = monitorEventLoopDelay({ resolution: 10 });
  private readonly _tokens = new Map<number, Promise<string>>();
  private readonly _pad: string;
  private _fanout = newHistogram();
  private _ack = newHistogram();
  private _connect = newHistogram();
  private _sent = 0;
  private _acked = 0;
  private _delivered = 0;
  private _errors: Record<string, number> = {};
  private _connectErrors = 0;
  private _resyncs = 0;
  private _reconnects = 0;
  private _droppedSends = 0;
  private _duplicateIds = 0;

  constructor(private readonly _init: WorkerInit) {
    const { prefix, clients, conversations, workers, workerIndex, sendersPerConversation, urls } = _init;
    for (let i = workerIndex; i < clients; i += workers) {
      const rank = Math.floor(i / conversations);
      // Members of one conversation alternate between the target's instances (a cluster).
      const url = urls[rank % urls.length]!;
      const vu = new VirtualUser(i, `${prefix}u${i}`, `${prefix}c${i % conversations}`, url, rank < sendersPerConversation, `${prefix}u${i}-`);
      this._vus.push(vu);
      if (vu.sender) this._senders.push(vu);
    }
    // The text is "<send time> xxxx…": receivers parse the leading number.
    this._pad = 'x'.repeat(Math.max(0, _init.messageBytes - 16));
    this._lag.enable();
    this._scheduler = setInterval(() => this._schedule(), SCHEDULER_MS);
  }

  // ------------------------------------------------------------------ connections

  connect(upTo: number): void {
    for (const vu of this._vus) {
      if (vu.index >= upTo) break;
      if (vu.state !== VuState.idle) continue;
      vu.state = VuState.queued;
      this._queue.push(vu);
    }
    this._pump();
  }

  private _pump(): void {
    while (this._inFlight < this._init.connectConcurrency && this._queue.length > 0) {
      const vu = this._queue.shift()!;
      if (vu.state !== VuState.queued) continue;
      this._inFlight++;
      vu.handshaking = true;
      vu.state = VuState.connecting;
      void this._open(vu);
    }
  }

  private _handshakeDone(vu: VirtualUser): void {
    if (!vu.handshaking) return;
    vu.handshaking = false;
    this._inFlight--;
    this._pump();
  }

  private async _identity(vu: VirtualUser): Promise<Identity> {
    const auth = this._init.auth;
    const identity: Identity = { user: vu.user, name: `vu${vu.index}` };
    if (auth.mode === 'token') identity.token = auth.token;
    if (auth.mode === 'secret') {
      let token = this._tokens.get(vu.index);
      if (!token) {
        const { SignJWT } = await import('jose');
        token = new SignJWT({ name: identity.name, convs: [`${this._init.prefix}*`] })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(vu.user)
          .setExpirationTime('1d')
          .sign(new TextEncoder().encode(auth.secret));
        this._tokens.set(vu.index, token);
      }
      identity.token = await token;
    }
    return identity;
  }

  private async _open(vu: VirtualUser): Promise<void> {
    vu.connectStartedAt = monoMs();
    const identity = await this._identity(vu);
    if (vu.state !== VuState.connecting) return this._handshakeDone(vu);
    const client = connectWire(this._init.wire, vu.url, identity, this._events(vu, () => client));
    vu.client = client;
  }

  /** Events of one connection; those of a connection the user already replaced are ignored. */
  private _events(vu: VirtualUser, self: () => WireClient): WireEvents {
    const current = () => vu.client === self() && vu.state !== VuState.stopped;
    return {
      onReady: () => {
        if (!current()) return;
        vu.client!.join(vu.conv, vu.checker.joined ? vu.checker.watermark : undefined);
      },
      onJoined: (conv, head) => {
        if (!current() || conv !== vu.conv) return;
        // A first join replays nothing (tail 0): the user expects what comes after head.
        vu.checker.onJoined(head, head);
        if (vu.state === VuState.connecting) {
          vu.state = VuState.ready;
          vu.attempts = 0;
          if (!vu.connectedOnce) recordMs(this._connect, monoMs() - vu.connectStartedAt);
          vu.connectedOnce = true;
          this._handshakeDone(vu);
          // The outbox: whatever was not acked before the drop goes again, with the same id.
          for (const [id, pending] of vu.pending) {
            pending.resent = true;
            vu.client!.send(vu.conv, id, pending.text);
          }
        }
      },
      onMessage: (conv, seq, id, text) => {
        if (!current()) return;
        if (conv !== vu.conv) {
          vu.checker.unexpected++;
          return;
        }
        const kind = vu.checker.receive(seq);
        if (kind !== Delivery.live && kind !== Delivery.catchup) return;
        this._delivered++;
        if (kind === Delivery.live && text !== undefined) {
          const sentAt = parseFloat(text);
          if (Number.isFinite(sentAt)) recordMs(this._fanout, monoMs() - sentAt);
        }
        if (id.startsWith(vu.idPrefix)) {
          const n = Number(id.slice(vu.idPrefix.length));
          if (vu.ownSeen.has(n)) this._duplicateIds++;
          else vu.ownSeen.add(n);
        }
      },
      onAck: (id, seq) => {
        if (!current()) return;
        const pending = vu.pending.get(id);
        if (seq > vu.maxAck) vu.maxAck = seq;
        if (!pending) return;
        vu.pending.delete(id);
        this._acked++;
        if (!pending.resent) recordMs(this._ack, monoMs() - pending.sentAt);
      },
      onError: (code, id) => {
        if (!current()) return;
        this._errors[code] = (this._errors[code] ?? 0) + 1;
        const pending = id === undefined ? undefined : vu.pending.get(id);
        if (!pending || id === undefined) return;
        if (RETRYABLE_ERRORS.has(code as ErrorCode)) {
          pending.resent = true;
          setTimeout(() => {
            if (vu.state === VuState.ready && vu.pending.has(id)) vu.client?.send(vu.conv, id, pending.text);
          }, 1000).unref();
        } else {
          vu.pending.delete(id);
        }
      },
      onResync: (conv) => {
        if (!current() || conv !== vu.conv) return;
        this._resyncs++;
        vu.client!.join(conv, vu.checker.watermark);
      },
      onClose: (reason) => {
        if (vu.client !== self()) return;
        vu.client = null;
        this._handshakeDone(vu);
        if (vu.state === VuState.stopped || vu.state === VuState.down) return;
        if (!vu.connectedOnce || vu.state === VuState.connecting) {
          this._connectErrors++;
          if (++vu.attempts >= MAX_CONNECT_ATTEMPTS) {
            vu.state = VuState.failed;
            return;
          }
        } else {
          this._errors[`closed: ${reason}`] = (this._errors[`closed: ${reason}`] ?? 0) + 1;
        }
        vu.state = VuState.retrying;
        setTimeout(() => this._reconnect(vu), 250 * Math.max(1, vu.attempts)).unref();
      },
    };
  }

  private _reconnect(vu: VirtualUser): void {
    if (vu.state !== VuState.retrying && vu.state !== VuState.down) return;
    this._reconnects++;
    vu.state = VuState.queued;
    this._queue.push(vu);
    this._pump();
  }

  /** A reconnect storm: drop a share of the connected users at once, bring them all back at once. */
  churn(fraction: number, downMs: number): void {
    const ready = this._vus.filter((vu) => vu.state === VuState.ready);
    const count = Math.min(ready.length, Math.round(ready.length * fraction));
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(Math.random() * (ready.length - i));
      [ready[i], ready[j]] = [ready[j]!, ready[i]!];
    }
    const dropped = ready.slice(0, count);
    for (const vu of dropped) {
      vu.state = VuState.down;
      const client = vu.client;
      vu.client = null;
      client?.kill();
    }
    setTimeout(() => {
      for (const vu of dropped) this._reconnect(vu);
    }, downMs).unref();
  }

  // ------------------------------------------------------------------ sending

  setRate(perSecond: number): void {
    this._schedule();
    this._rate = perSecond;
  }

  private _schedule(): void {
    const now = monoMs();
    this._budget += (this._rate * (now - this._lastSchedule)) / 1000;
    this._lastSchedule = now;
    // An open model: what falls due is sent even if the target is slow. But a stall of the
    // generator itself must not turn into a burst of more than a second's worth.
    const cap = Math.max(1, this._rate);
    if (this._budget > cap) {
      this._droppedSends += Math.floor(this._budget - cap);
      this._budget = cap;
    }
    while (this._budget >= 1) {
      this._budget -= 1;
      const vu = this._pickSender();
      if (!vu) {
        this._droppedSends++;
        continue;
      }
      this._sendOne(vu);
    }
  }

  private _pickSender(): VirtualUser | undefined {
    const senders = this._senders;
    for (let probes = 0; probes < senders.length; probes++) {
      const vu = senders[this._nextSender]!;
      this._nextSender = (this._nextSender + 1) % senders.length;
      if (vu.state === VuState.ready && vu.pending.size < MAX_IN_FLIGHT) return vu;
    }
    return undefined;
  }

  private _sendOne(vu: VirtualUser): void {
    const id = `${vu.idPrefix}${vu.nextNumber++}`;
    const sentAt = monoMs();
    const text = `${sentAt.toFixed(3)} ${this._pad}`;
    vu.pending.set(id, { sentAt, text, resent: false });
    vu.client!.send(vu.conv, id, text);
    this._sent++;
  }

  // ------------------------------------------------------------------ reports

  tick(index: number): TickReport {
    let started = 0;
    let connected = 0;
    let failed = 0;
    for (const vu of this._vus) {
      if (vu.state !== VuState.idle) started++;
      if (vu.state === VuState.ready) connected++;
      if (vu.state === VuState.failed) failed++;
    }
    const report: TickReport = {
      type: 'tick',
      index,
      workerIndex: this._init.workerIndex,
      sent: this._sent,
      acked: this._acked,
      delivered: this._delivered,
      fanout: encodeHistogram(this._fanout),
      ack: encodeHistogram(this._ack),
      connect: encodeHistogram(this._connect),
      errors: this._errors,
      connectErrors: this._connectErrors,
      resyncs: this._resyncs,
      reconnects: this._reconnects,
      droppedSends: this._droppedSends,
      started,
      connected,
      failed,
      lagP99Ms: this._lag.percentile(99) / 1e6,
    };
    this._fanout = newHistogram();
    this._ack = newHistogram();
    this._connect = newHistogram();
    this._sent = this._acked = this._delivered = 0;
    this._connectErrors = this._resyncs = this._reconnects = this._droppedSends = 0;
    this._errors = {};
    this._lag.reset();
    return report;
  }

  heads(): Record<string, number> {
    const heads: Record<string, number> = {};
    for (const vu of this._vus) {
      const seen = Math.max(vu.maxAck, vu.checker.highest);
      if (seen > (heads[vu.conv] ?? 0)) heads[vu.conv] = seen;
    }
    return heads;
  }

  account(heads: Record<string, number>): AccountReport {
    const tally = emptyTally();
    let pendingAcks = 0;
    let unjoined = 0;
    let started = 0;
    let connected = 0;
    for (const vu of this._vus) {
      if (vu.state === VuState.idle) continue;
      started++;
      if (vu.state === VuState.ready) connected++;
      if (!vu.checker.joined) unjoined++;
      pendingAcks += vu.pending.size;
      addTally(tally, vu.checker.tally(heads[vu.conv] ?? 0));
    }
    return {
      type: 'account',
      workerIndex: this._init.workerIndex,
      tally,
      pendingAcks,
      duplicateIds: this._duplicateIds,
      unjoined,
      started,
      connected,
    };
  }

  async stop(): Promise<void> {
    clearInterval(this._scheduler);
    this._rate = 0;
    this._lag.disable();
    for (const vu of this._vus) {
      const client = vu.client;
      vu.state = VuState.stopped;
      client?.close();
    }
    // Give polite closes a moment to reach the target; the thread ends anyway afterwards.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const port = parentPort;
if (!port) throw new Error('loadtest/worker.ts runs as a worker thread (see runner.ts)');
let generator: Generator | null = null;
const post = (message: FromWorker) => port.postMessage(message);
let workerIndex = -1;

port.on('message', (message: ToWorker) => {
  try {
    if (message.type === 'init') {
      workerIndex = message.workerIndex;
      generator = new Generator(message);
      post({ type: 'ready', workerIndex });
      return;
    }
    if (!generator) throw new Error(`${message.type} before init`);
    switch (message.type) {
      case 'connect':
        generator.connect(message.upTo);
        return;
      case 'rate':
        generator.setRate(message.perSecond);
        return;
      case 'churn':
        generator.churn(message.fraction, message.downMs);
        return;
      case 'tick':
        post(generator.tick(message.index));
        return;
      case 'heads':
        post({ type: 'heads', workerIndex, heads: generator.heads() });
        return;
      case 'account':
        post(generator.account(message.heads));
        return;
      case 'stop':
        void generator.stop().then(() => post({ type: 'stopped', workerIndex }));
        return;
    }
  } catch (error) {
    post({ type: 'fatal', workerIndex, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
