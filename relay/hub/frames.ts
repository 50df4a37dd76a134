/**
 * Outgoing frames. Replies are built where they are sent, typed as `ServerFrame`; events
 * that fan out are serialized here, once per event however many receive them.
 */
import type { ServerFrame } from '../../protocol/index.js';
import type { BusEvent } from '../bus/types.js';

export function eventFrame(event: BusEvent): ServerFrame {
  switch (event.kind) {
    case 'msg':
      return event.message;
    case 'typing':
      return { type: 'typing', conv: event.conv, user: event.user, active: event.active };
    case 'receipt':
      return { type: 'receipt', conv: event.conv, user: event.member.id, delivered: event.member.delivered, read: event.member.read };
    case 'member':
      return { type: 'member', conv: event.conv, member: event.member };
  }
}

export function serializeEvent(event: BusEvent): string {
  return JSON.stringify(eventFrame(event));
}

/** The conversation and message a client frame is about, echoed in an error about it. */
export function frameSubject(frame: { type: string; conv?: string; id?: string }): { conv?: string; id?: string } {
  if (frame.type === 'send') return { conv: frame.conv, id: frame.id };
  if (frame.conv !== undefined) return { conv: frame.conv };
  return {};
}
