/**
 * The user's own changes to messages (v1.1: edit, delete, react) in one conversation: checked
 * (what can never succeed is refused at once, nothing queued), queued in the outbox (persisted,
 * resent until acked; the outbox orders them after everything else about the same message),
 * matched to their acks by ref, shown until the relay's `update` is in the log held, and rolled
 * back when the relay refuses them (the code is kept for the view as `changeError`). The
 * conversation sends them (its pump sends messages and changes in outbox order).
 */
import { codePointLength, EMOJI_PATTERN, ErrorCode, Limits, RETRYABLE_ERRORS, type AckFrame, type ClientFrame } from '../../protocol/index.js';
import type { Change } from './changes.js';
import type { Clock } from './clock.js';
import { ClientErrorCode, type ErrorParams } from './errors.js';
import type { ChangeEntry, Outbox } from './outbox.js';
import type { Settled } from './requests.js';
import type { ChangeError, ChatMessage } from './types.js';
import type { ShownChange } from './views.js';

export const EditsDefaults = {
  /** Messages and changes waiting in the outbox at most; more are refused (`outbox_full`) until some are out. */
  maxOutbox: 1000,
  /** Refused changes remembered for the view (`changeError`) at most; the oldest go first. */
  maxChangeErrors: 100,
} as const;

export interface EditsOptions {
  conv: string;
  clock: Clock;
  outbox: Outbox;
  makeId: () => string;
  /** The message as the user sees it now (confirmed state with own changes on top), if shown. */
  current: (id: string) => ChatMessage | undefined;
  maxTextChars: () => number;
  /** The highest seq of the log held. */
  last: () => number;
  /** Drops a message the relay refused for good (deleting it means forgetting it). */
  discardMessage: (id: string) => void;
  /** Something the view shows changed. */
  changed: () => void;
  /** A change can go out (or the outbox moved on): send what is due. */
  pump: () => void;
  /** Asked while not joined: join again. */
  rejoin: () => void;
  /** An error event for the view. */
  refused: (code: string, messageId: string, params?: ErrorParams) => void;
}

export class Edits {
  private readonly _o: EditsOptions;
  /** Own changes the relay acked whose `update` is not in the log held yet (shown meanwhile), with the update's seq. */
  private _confirmed: Array<{ entry: ChangeEntry; seq: number }> = [];
  /** The last refused change per message (rolled back), for the view. */
  private readonly _errors = new Map<string, ChangeError>();

  constructor(options: EditsOptions) {
    this._o = options;
  }

  edit(messageId: string, text: string): void {
    const view = this._o.current(messageId);
    if (!view) return this._o.refused(ErrorCode.notFound, messageId);
    if (!view.own || view.deleted) return this._o.refused(ErrorCode.forbidden, messageId);
    if (text.trim() === '') return this._o.refused(ErrorCode.badFrame, messageId);
    const max = this._o.maxTextChars();
    if (codePointLength(text) > max) return this._o.refused(ClientErrorCode.textTooLong, messageId, { max });
    if (view.text === text) return;
    this._queue({ type: 'edit', target: messageId, text });
  }

  delete(messageId: string): void {
    const view = this._o.current(messageId);
    if (!view) return this._o.refused(ErrorCode.notFound, messageId);
    if (view.deleted) return;
    // Refused by the relay for good: it was never stored, so there is nothing to delete there.
    if (view.own && view.status === 'failed') return this._o.discardMessage(messageId);
    this._queue({ type: 'delete', target: messageId });
  }

  react(messageId: string, emoji: string, on: boolean): void {
    const view = this._o.current(messageId);
    if (!view) return this._o.refused(ErrorCode.notFound, messageId);
    if (view.deleted) return this._o.refused(ErrorCode.forbidden, messageId);
    if (!EMOJI_PATTERN.test(emoji)) return this._o.refused(ErrorCode.badFrame, messageId);
    const reaction = view.reactions?.find((r) => r.emoji === emoji);
    if ((reaction?.mine ?? false) === on) return;
    if (on && !reaction && (view.reactions?.length ?? 0) >= Limits.maxReactionsPerMessage) {
      return this._o.refused(ErrorCode.badFrame, messageId, { max: Limits.maxReactionsPerMessage });
    }
    this._queue({ type: 'react', target: messageId, emoji, on });
  }

  dismissError(messageId: string): boolean {
    return this._errors.delete(messageId);
  }

  errorOf(messageId: string): ChangeError | undefined {
    return this._errors.get(messageId);
  }

  /** The frame for a queued change, with the ref its ack and refusal will carry. */
  frame(entry: ChangeEntry, ref: string): ClientFrame {
    const { change } = entry;
    const base = { conv: this._o.conv, id: change.target, ref };
    switch (change.type) {
      case 'edit':
        return { type: 'edit', ...base, text: change.text };
      case 'delete':
        return { type: 'delete', ...base };
      case 'react':
        return { type: 'react', ...base, emoji: change.emoji, on: change.on };
    }
  }

  /** How the request of a sent change ended. */
  settled(entry: ChangeEntry, result: Settled<{ type: string }>): void {
    switch (result.kind) {
      case 'reply':
        if (result.reply.type === 'ack') this._onAck(entry, result.reply as AckFrame);
        return;
      case 'error':
        return this._failed(entry, result.code);
      case 'timeout':
        // No answer: again (a repeated change is harmless, the relay acks one that changes nothing).
        this._o.outbox.requeue(entry.id);
        this._o.pump();
        return;
      case 'dropped':
        // The outbox puts it back in the queue for the next join.
        return;
    }
  }

  /** Own changes to show per message: acked ones whose update is not held yet, then those still in the outbox. */
  shown(): Map<string, ShownChange[]> {
    const shown = new Map<string, ShownChange[]>();
    const add = (entry: ChangeEntry, confirmed: boolean): void => {
      const list = shown.get(entry.change.target) ?? [];
      list.push({ key: entry.id, change: entry.change as Change, ts: entry.ts, confirmed });
      shown.set(entry.change.target, list);
    };
    const last = this._o.last();
    for (const acked of this._confirmed) if (acked.seq > last) add(acked.entry, true);
    for (const entry of this._o.outbox.entries) if ('change' in entry) add(entry, false);
    return shown;
  }

  /** The log held moved on: acked changes whose update it now holds show through it. */
  prune(): void {
    const last = this._o.last();
    if (this._confirmed.some((a) => a.seq <= last)) this._confirmed = this._confirmed.filter((a) => a.seq > last);
  }

  /** The store was replaced: acked seqs mean something else now. */
  reset(): void {
    this._confirmed = [];
  }

  private _queue(change: ChangeEntry['change']): void {
    if (this._o.outbox.size >= EditsDefaults.maxOutbox) {
      return this._o.refused(ClientErrorCode.outboxFull, change.target, { max: EditsDefaults.maxOutbox });
    }
    const entry: ChangeEntry = { id: this._o.makeId(), conv: this._o.conv, ts: this._o.clock.now(), change };
    this._errors.delete(change.target);
    void this._o.outbox.add(entry).then(() => this._o.pump());
    this._o.changed();
  }

  private _onAck(entry: ChangeEntry, ack: AckFrame): void {
    this._o.outbox.ack(entry.id);
    // Shown as done until its update is in the log held (an unchanged change is acked with a seq already held).
    if (ack.seq > this._o.last()) this._confirmed.push({ entry, seq: ack.seq });
    if (this._confirmed.length > EditsDefaults.maxOutbox) this._confirmed = this._confirmed.slice(-EditsDefaults.maxOutbox);
    this._o.changed();
    this._o.pump();
  }

  private _failed(entry: ChangeEntry, code: string): void {
    if (RETRYABLE_ERRORS.has(code as ErrorCode) || code === ErrorCode.notJoined) {
      this._o.outbox.retryLater(entry.id);
      if (code === ErrorCode.notJoined) this._o.rejoin();
      else this._o.pump();
      return;
    }
    // Refused for good (forbidden, not_found, bad_frame…): rolled back.
    const target = entry.change.target;
    this._o.outbox.discard(entry.id);
    this._errors.delete(target);
    this._errors.set(target, { code, change: entry.change.type });
    for (const key of this._errors.keys()) {
      if (this._errors.size <= EditsDefaults.maxChangeErrors) break;
      this._errors.delete(key);
    }
    this._o.changed();
    this._o.refused(code, target);
    this._o.pump();
  }
}
