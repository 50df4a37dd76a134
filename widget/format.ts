/**
 * Words and figures built from data (who is typing, sizes, times, statuses) through the
 * localisation layer: each takes the part's Locale and speaks English without one.
 */
import type { ChatMessage, User } from './client/index.js';
import { english, type Locale } from './i18n/index.js';

const nameOf = (user: User): string => user.name || user.id;

/** "Alice is typing…", "Alice and Bob are typing…", "3 people are typing…"; '' when nobody is. */
export function typingText(users: readonly User[], locale: Locale = english): string {
  const [first, second] = users;
  if (!first) return '';
  if (!second) return locale.t('typing.one', { name: nameOf(first) });
  if (users.length === 2) return locale.t('typing.two', { first: nameOf(first), second: nameOf(second) });
  return locale.t('typing.many', { count: users.length });
}

/** 1,536 → "1.5 KiB": binary units, because the relay's limits are powers of two (25 MiB). */
export function humanSize(bytes: number, locale: Locale = english): string {
  return locale.size(bytes);
}

/** A message's time in the language's own clock (1:14 PM, 13:14): never forced to two-digit hours. */
export function timeLabel(ts: number, locale: Locale = english): string {
  return locale.time(ts);
}

/** The full date and time, for the tooltip of a message's time. */
export function fullDateTime(ts: number, locale: Locale = english): string {
  return locale.dateTime(ts);
}

/** Words for an own message's status, for tooltips and screen readers. */
export function statusText(message: ChatMessage, locale: Locale = english): string {
  switch (message.status) {
    case 'sending':
      return locale.t('status.sending');
    case 'sent':
      return locale.t('status.sent');
    case 'delivered':
      return locale.t('status.delivered');
    case 'read':
      return message.readBy?.length ? locale.t('status.readBy', { names: locale.list(message.readBy) }) : locale.t('status.read');
    case 'failed':
      return message.error ? locale.t('status.failed', { reason: locale.error(message.error) }) : locale.t('message.notSent');
    default:
      return '';
  }
}
