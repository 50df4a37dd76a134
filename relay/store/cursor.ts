import type { Member } from '../../protocol/index.js';
import type { CursorUpdate } from './types.js';

/**
 * The cursor rule shared by every store: cursors only move forward, are clamped to the
 * head, and `read` lifts `delivered`. Returns null when nothing moves.
 */
export function advanceCursor(current: Member, update: CursorUpdate, head: number): Member | null {
  const read = Math.max(current.read, Math.min(update.read ?? 0, head));
  const delivered = Math.max(current.delivered, Math.min(update.delivered ?? 0, head), read);
  if (read === current.read && delivered === current.delivered) return null;
  return { ...current, delivered, read };
}
