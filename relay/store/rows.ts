import type { FileRef } from '../../protocol/index.js';
import type { AppendInput, StoredMessage } from './types.js';

/** A message as both stores keep it: one row, numbers possibly as strings (PostgreSQL bigint). */
export interface MessageRow {
  conv: string;
  seq: string | number;
  id: string;
  sender: string;
  sender_name: string;
  text: string | null;
  file: FileRef | null;
  ts: string | number;
}

/** The `msg` frame of a stored row; absent text or file stay absent (not null) on the wire. */
export function messageFromRow(row: MessageRow): StoredMessage {
  const message: StoredMessage = {
    type: 'msg',
    conv: row.conv,
    seq: Number(row.seq),
    id: row.id,
    from: { id: row.sender, name: row.sender_name },
    ts: Number(row.ts),
  };
  if (row.text !== null) message.text = row.text;
  if (row.file !== null) message.file = row.file;
  return message;
}

/** The `msg` frame of an input that was just stored under `seq` at `ts`. */
export function messageFromInput(input: AppendInput, seq: number, ts: number): StoredMessage {
  return messageFromRow({
    conv: input.conv,
    seq,
    id: input.id,
    sender: input.from.id,
    sender_name: input.from.name,
    text: input.text ?? null,
    file: input.file ?? null,
    ts,
  });
}
