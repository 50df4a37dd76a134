/**
 * The user's own receipts for one conversation: `delivered` up to the highest seq this device
 * holds, `read` up to what the view reported seen (never beyond what is held), each debounced,
 * each sent only when it moves the cursor the relay has. No I/O of its own: `send` is given.
 */
import { Debounced, type Clock } from './clock.js';

export interface ReceiptsOptions {
  clock: Clock;
  deliveredDelayMs: number;
  readDelayMs: number;
  /** The highest contiguous seq this device holds. */
  last: () => number;
  /** Sends a receipt; false if it could not go out now (not joined): it is sent after the next `joined`. */
  send: (receipt: { delivered: number } | { read: number }) => boolean;
}

export class Receipts {
  private readonly _o: ReceiptsOptions;
  private readonly _delivered: Debounced;
  private readonly _read: Debounced;
  private _deliveredSent = 0;
  private _readSent = 0;
  private _readWanted = 0;

  constructor(options: ReceiptsOptions) {
    this._o = options;
    this._delivered = new Debounced(options.clock, options.deliveredDelayMs, () => this._sendDelivered());
    this._read = new Debounced(options.clock, options.readDelayMs, () => this._sendRead());
  }

  /** The highest seq the user has read, as far as this device knows (sent or about to be). */
  get read(): number {
    return Math.max(this._readSent, this._readWanted);
  }

  /** New messages are held: `delivered` goes out after the delay. */
  received(): void {
    this._delivered.schedule();
  }

  /** The user has seen everything up to `seq` (never beyond what this device holds). */
  markRead(seq: number): void {
    const target = Math.min(Math.floor(seq), this._o.last());
    if (!(target > this._readWanted)) return;
    this._readWanted = target;
    this._read.schedule();
  }

  /** Joined: the relay's cursors for the user; whatever is ahead of them goes out. */
  joined(delivered: number, read: number): void {
    this._deliveredSent = delivered;
    this._readSent = read;
    this._delivered.schedule();
    if (this._readWanted > this._readSent) this._read.schedule();
  }

  /** The store was replaced: the seqs read mean nothing now. */
  reset(): void {
    this._readWanted = 0;
  }

  /** Receipts the user already earned go out now (the conversation is closing). */
  flush(): void {
    this._read.flush();
    this._delivered.flush();
  }

  cancel(): void {
    this._read.cancel();
    this._delivered.cancel();
  }

  private _sendDelivered(): void {
    const last = this._o.last();
    if (last <= Math.max(this._deliveredSent, this._readSent)) return;
    if (this._o.send({ delivered: last })) this._deliveredSent = last;
  }

  private _sendRead(): void {
    const target = Math.min(this._readWanted, this._o.last());
    if (target <= this._readSent) return;
    if (this._o.send({ read: target })) {
      this._readSent = target;
      this._deliveredSent = Math.max(this._deliveredSent, target);
    }
  }
}
