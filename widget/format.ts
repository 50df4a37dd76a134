import type { ChatMessage, User } from './client/types.js';
import { errorText, Labels } from './messages.js';

/** "Alice is typing…", "Alice and Bob are typing…", "3 people are typing…"; '' when nobody is. */
export function typingText(users: readonly User[]): string {
  const [first, second] = users;
  if (!first) return '';
  if (!second) return `${first.name || first.id} is typing…`;
  if (users.length === 2) return `${first.name || first.id} and ${second.name || second.id} are typing…`;
  return `${users.length} people are typing…`;
}

const UNITS = ['KB', 'MB', 'GB', 'TB'] as const;

/** 1,536 → "1.5 KB": decimal-free below 10 so short labels stay short. */
export function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes / 1024;
  let unit: string = UNITS[0];
  for (let i = 1; i < UNITS.length && value >= 1000; i++) {
    value /= 1024;
    unit = UNITS[i]!;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

let timeFormat: Intl.DateTimeFormat | undefined;

export function timeLabel(ts: number): string {
  // One shared formatter: creating one per message dominates rendering long histories.
  timeFormat ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return timeFormat.format(ts);
}

/** Words for an own message's status, for tooltips and screen readers. */
export function statusText(message: ChatMessage): string {
  switch (message.status) {
    case 'sending':
      return 'Sending';
    case 'sent':
      return 'Sent';
    case 'delivered':
      return 'Delivered';
    case 'read':
      return message.readBy?.length ? `Read by ${message.readBy.join(', ')}` : 'Read';
    case 'failed':
      return message.error ? `${Labels.notSent}: ${errorText(message.error)}` : Labels.notSent;
    default:
      return '';
  }
}
