/**
 * Outgoing frames. Replies are built where they are sent, typed as `ServerFrame`; events
 * that fan out are serialized here, once per event however many receive them.
 */
import type { ServerFrame } from '../../protocol/index.js';
import type { BusEvent } from '../bus/types.js';

/**
 * What fans out to a conversation's local sessions: the bus's events that clients see (a ban
 * is acted on, not shown), and presence changes, which each relay derives from its own view
 * of the cluster (relay/hub/presence.ts) rather than receiving per conversation.
 */
export type HubEvent =
  | Exclude<BusEvent, { kind: 'ban' }>
  | { kind: 'presence'; conv: string; user: string; online: boolean; seen?: number };

export function eventFrame(event: HubEvent): ServerFrame {
  switch (event.kind) {
    case 'msg':
      return event.message;
    case 'update':
      return event.update;
    case 'typing':
      return { type: 'typing', conv: event.conv, user: event.user, active: event.active };
    case 'receipt':
      return { type: 'receipt', conv: event.conv, user: event.member.id, delivered: event.member.delivered, read: event.member.read };
    case 'member':
      return { type: 'member', conv: event.conv, member: event.member };
    case 'presence':
      return {
        type: 'presence',
        conv: event.conv,
        user: event.user,
        online: event.online,
        ...(event.seen !== undefined ? { seen: event.seen } : {}),
      };
  }
}

export function serializeEvent(event: HubEvent): string {
  return JSON.stringify(eventFrame(event));
}

/** The seq of a log event (`msg` or `update`), or null for events outside the log. */
export function logSeq(event: HubEvent): number | null {
  if (event.kind === 'msg') return event.message.seq;
  if (event.kind === 'update') return event.update.seq;
  return null;
}

/** The conversation and message a client frame is about, echoed in an error about it. */
export function frameSubject(frame: { type: string; conv?: string; id?: string }): { conv?: string; id?: string } {
  if (MESSAGE_FRAMES.has(frame.type) && frame.id !== undefined) return { conv: frame.conv, id: frame.id };
  if (frame.conv !== undefined) return { conv: frame.conv };
  return {};
}

/** Frames about one message: a refusal of them names the message (`id`) as well as the conversation. */
const MESSAGE_FRAMES = new Set(['send', 'edit', 'delete', 'react']);

/**
 * The subject of a frame that failed validation, when its `conv` and `id` are themselves
 * valid ids (so a client can tell which change of its outbox was refused, e.g. a bad emoji).
 */
export function salvageSubject(text: string, isId: (value: unknown) => boolean): { conv?: string; id?: string } {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof input !== 'object' || input === null) return {};
  const { type, conv, id } = input as { type?: unknown; conv?: unknown; id?: unknown };
  if (!isId(conv)) return {};
  if (typeof type === 'string' && MESSAGE_FRAMES.has(type) && isId(id)) return { conv: conv as string, id: id as string };
  return { conv: conv as string };
}
