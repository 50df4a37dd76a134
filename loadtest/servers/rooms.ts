/**
 * In-memory conversations for the comparison servers (Socket.IO and bare uWS): a seq
 * counter per room, so the same order and loss checks apply as to the relay, and a short
 * history that makes `join after` (reconnects) and idempotent resends work. Nothing is
 * durable: this is the fan-out without the store, which is the point of the comparison.
 */
import type { MessageFrame, User } from '../../protocol/index.js';

/** Messages kept per room for replay and for recognising resent ids (memory stays bounded). */
export const HISTORY_PER_ROOM = 1000;

interface Room {
  head: number;
  history: MessageFrame[];
  ids: Map<string, { seq: number; ts: number }>;
}

export type AppendOutcome = { stored: true; message: MessageFrame } | { stored: false; seq: number; ts: number };

export class MemoryRooms {
  private readonly _rooms = new Map<string, Room>();

  private _room(conv: string): Room {
    let room = this._rooms.get(conv);
    if (!room) {
      room = { head: 0, history: [], ids: new Map() };
      this._rooms.set(conv, room);
    }
    return room;
  }

  head(conv: string): number {
    return this._rooms.get(conv)?.head ?? 0;
  }

  /** What a join should replay: messages with seq > after (or the newest `tail`), ascending. */
  replay(conv: string, after: number | undefined, tail: number | undefined): { head: number; messages: MessageFrame[] } {
    const room = this._room(conv);
    let from = Math.min(after ?? 0, room.head);
    if (tail !== undefined) from = Math.max(from, room.head - tail);
    return { head: room.head, messages: room.history.filter((m) => m.seq > from) };
  }

  append(conv: string, id: string, from: User, text: string | undefined, now: number): AppendOutcome {
    const room = this._room(conv);
    const known = room.ids.get(id);
    if (known) return { stored: false, seq: known.seq, ts: known.ts };
    const message: MessageFrame = { type: 'msg', conv, seq: ++room.head, id, from, ts: now };
    if (text !== undefined) message.text = text;
    room.history.push(message);
    room.ids.set(id, { seq: message.seq, ts: now });
    if (room.history.length > HISTORY_PER_ROOM) {
      const dropped = room.history.splice(0, room.history.length - HISTORY_PER_ROOM);
      for (const m of dropped) room.ids.delete(m.id);
    }
    return { stored: true, message };
  }
}

/** The line a comparison server prints once it listens; the harness waits for it. */
export function announceListening(port: number): void {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
}

export function listenPort(): { host: string; port: number } {
  return { host: process.env['HOST'] ?? '127.0.0.1', port: Number(process.env['PORT'] ?? 0) };
}
