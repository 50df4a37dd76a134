/**
 * Group commit: every append that arrives during one event-loop turn is written in ONE
 * transaction (one fsync for SQLite, one round trip for PostgreSQL) instead of one each.
 * While a batch is being written the next one accumulates and is sent as soon as that write
 * answers (pipelined group commit), so a slow commit turns into bigger batches rather than a
 * queue of tiny ones. Order is kept: items are committed, and
 * their promises settle, in the order they were added.
 */
export type FlushFn<I, R> = (batch: I[]) => Promise<Array<R | ItemFailure>> | Array<R | ItemFailure>;

/** A flush result that fails only its own item (the others of the batch still resolve). */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

interface Pending<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class Batcher<I, R> {
  private _queue: Pending<I, R>[] = [];
  private _scheduled = false;
  private _flushing: Promise<void> | null = null;
  private _closed = false;

  constructor(
    private readonly _flush: FlushFn<I, R>,
    private readonly _maxBatch = 1000,
  ) {}

  add(item: I): Promise<R> {
    if (this._closed) return Promise.reject(new Error('store is closed'));
    return new Promise<R>((resolve, reject) => {
      this._queue.push({ item, resolve, reject });
      this._schedule();
    });
  }

  /** Resolves once everything added so far has been committed (or failed). */
  async drain(): Promise<void> {
    while (this._queue.length > 0 || this._flushing || this._scheduled) {
      if (this._flushing) await this._flushing;
      else await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    await this.drain();
    this._closed = true;
  }

  private _schedule(): void {
    if (this._scheduled || this._flushing) return;
    this._scheduled = true;
    // setImmediate, not a microtask: the socket callbacks of one poll phase each drain the
    // microtask queue, so only setImmediate sees every frame that arrived in this turn.
    setImmediate(() => {
      this._scheduled = false;
      this._start();
    });
  }

  /**
   * Pipelined: what arrived while a batch was being committed goes out as the next batch
   * the moment that commit answers, without waiting for another event-loop turn.
   */
  private _start(): void {
    this._flushing = this._run().finally(() => {
      this._flushing = null;
      if (this._queue.length > 0) this._start();
    });
  }

  private async _run(): Promise<void> {
    const batch = this._queue.splice(0, this._maxBatch);
    if (batch.length === 0) return;
    try {
      const results = await this._flush(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const result = results[i];
        if (result instanceof ItemFailure) p.reject(result.error);
        else p.resolve(result as R);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
