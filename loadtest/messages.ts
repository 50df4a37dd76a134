/**
 * What the coordinator (main thread) and the generator workers say to each other. The
 * coordinator owns time: it asks for a `tick` every second, so every worker's interval
 * ends at the same moment and per-second figures line up across workers.
 */
import type { Tally } from './accounting.js';
import type { WireKind } from './types.js';

export type AuthConfig =
  | { mode: 'open' }
  /** One token for every virtual user (they then share one user id). */
  | { mode: 'token'; token: string }
  /** The relay's secret: the harness mints one token per virtual user. */
  | { mode: 'secret'; secret: string };

export interface WorkerInit {
  type: 'init';
  workerIndex: number;
  workers: number;
  /** Prefix of every user, conversation and message id of this run, so runs never mix. */
  prefix: string;
  wire: WireKind;
  urls: string[];
  auth: AuthConfig;
  clients: number;
  conversations: number;
  sendersPerConversation: number;
  messageBytes: number;
  /** Handshakes in flight at once per worker: a burst of thousands overflows the listen backlog. */
  connectConcurrency: number;
}

export type ToWorker =
  | WorkerInit
  /** Connect this worker's virtual users with a global index below `upTo`. */
  | { type: 'connect'; upTo: number }
  /** Messages per second this worker sends from now on. */
  | { type: 'rate'; perSecond: number }
  | { type: 'churn'; fraction: number; downMs: number }
  | { type: 'tick'; index: number }
  | { type: 'heads' }
  | { type: 'account'; heads: Record<string, number> }
  | { type: 'stop' };

export interface TickReport {
  type: 'tick';
  index: number;
  workerIndex: number;
  sent: number;
  acked: number;
  /** New seqs received (live and catch-up) in the interval. */
  delivered: number;
  /** Encoded interval histograms (µs). */
  fanout: string;
  ack: string;
  connect: string;
  errors: Record<string, number>;
  connectErrors: number;
  resyncs: number;
  reconnects: number;
  droppedSends: number;
  /** Now, not interval. */
  started: number;
  connected: number;
  /** Virtual users that gave up connecting. */
  failed: number;
  lagP99Ms: number;
}

export interface AccountReport {
  type: 'account';
  workerIndex: number;
  tally: Tally;
  pendingAcks: number;
  duplicateIds: number;
  unjoined: number;
  started: number;
  connected: number;
}

export type FromWorker =
  | { type: 'ready'; workerIndex: number }
  | TickReport
  | { type: 'heads'; workerIndex: number; heads: Record<string, number> }
  | AccountReport
  | { type: 'stopped'; workerIndex: number }
  | { type: 'fatal'; workerIndex: number; message: string };
