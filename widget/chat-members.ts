import { css, html, LitElement, nothing, type TemplateResult } from 'lit';
import { SnapshotController } from './controller.js';
import { english, LocaleController, type Locale } from './i18n/index.js';
import { srOnly } from './styles.js';
import type { Member } from './client/types.js';

/** At most this many members are drawn; the rest are counted ("+3 more"): a big room stays one line or two. */
export const MAX_SHOWN = 12;

/** How often "last seen 5 minutes ago" is redrawn. */
const REFRESH_MS = 60_000;

const STEPS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['minute', 60],
  ['hour', 24],
  ['day', 7],
  ['week', 4.35],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();

/** "this minute", "5 minutes ago", "yesterday", "3 weeks ago" (`short`: "5 min. ago"): the largest unit that fits. */
export function lastSeenText(seen: number, now: number = Date.now(), style: 'long' | 'short' = 'long', locale?: string): string {
  // One formatter per style and language: a member list redraws every minute.
  const key = `${style}|${locale ?? ''}`;
  let format = relativeFormats.get(key);
  if (!format) {
    format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style });
    relativeFormats.set(key, format);
  }
  // Minutes at the finest: "1 second ago" would be out of date before it was read ("this minute").
  let value = (seen - now) / 60_000;
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return format.format(Math.round(value), unit);
    value /= size;
  }
  return format.format(Math.round(value), 'year');
}

/** What a member's line says after the name: online, last seen…, or never seen. */
export function presenceText(member: Member, now: number = Date.now(), locale: Locale = english): string {
  if (member.online) return locale.t('members.online');
  if (member.seen !== undefined) return locale.t('members.seen', { time: lastSeenText(member.seen, now, 'long', locale.tag) });
  return locale.t('members.never');
}

/** "+3": how many more members there are than the strip shows. */
function moreText(count: number, locale: Locale): string {
  return locale.t('members.more', { count });
}

/** Online first, then the most recently seen; names break ties so the order is stable. */
function byPresence(a: Member, b: Member): number {
  if (!!a.online !== !!b.online) return a.online ? -1 : 1;
  const seen = (b.seen ?? 0) - (a.seen ?? 0);
  return seen !== 0 ? seen : (a.name || a.id).localeCompare(b.name || b.id);
}

/**
 * Who else is in the conversation: a dot (online or not) and, on hover and for screen
 * readers, "online" or "last seen 5 minutes ago". Banned members are marked (the relay
 * tells moderators only).
 *
 * @csspart members - The list of members.
 * @csspart member - One member (also `member-online`, `member-banned`).
 * @csspart presence-dot - The dot: filled when online.
 *
 * @tagname chat-room-members
 */
export class ChatMembers extends LitElement {
  static override styles = [
    srOnly,
    css`
      :host {
        display: block;
        font-size: 0.8em;
        color: var(--_muted);
      }
      :host([hidden]) {
        display: none;
      }
      ul {
        display: flex;
        flex-wrap: wrap;
        gap: 0.2em 0.8em;
        margin: 0;
        padding: 0.35em 0.75em;
        list-style: none;
        border-bottom: 1px solid color-mix(in srgb, var(--_border) 40%, transparent);
      }
      li {
        display: inline-flex;
        align-items: center;
        gap: 0.3em;
        white-space: nowrap;
      }
      .name {
        color: var(--_fg);
      }
      .seen {
        font-size: 0.9em;
      }
      .dot {
        width: 0.6em;
        height: 0.6em;
        border-radius: 50%;
        box-sizing: border-box;
        border: 1.5px solid var(--_muted);
      }
      .dot.online {
        /* Green in both schemes; the ring keeps it visible on any background. */
        background: var(--chat-room-online, #1f9d55);
        border-color: var(--chat-room-online, #1f9d55);
      }
      .banned .name {
        text-decoration: line-through;
      }
      .tag {
        font-style: italic;
      }
    `,
  ];

  private readonly _snap = new SnapshotController(this);
  private readonly _l = new LocaleController(this);
  private _timer: ReturnType<typeof setInterval> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    // "5 minutes ago" becomes "6 minutes ago" without any snapshot change.
    this._timer = setInterval(() => this.requestUpdate(), REFRESH_MS);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this._timer);
    this._timer = undefined;
  }

  override render() {
    const snap = this._snap.snapshot;
    const self = snap?.self?.id;
    const others = (snap?.members ?? []).filter((m) => m.id !== self).sort(byPresence);
    if (others.length === 0) return nothing;
    const now = Date.now();
    const shown = others.slice(0, MAX_SHOWN);
    const locale = this._l.locale;
    return html`<ul part="members" aria-label=${locale.t('members.label')}>
      ${shown.map((m) => this._renderMember(m, now, locale))}
      ${others.length > shown.length ? html`<li class="more">${moreText(others.length - shown.length, locale)}</li>` : nothing}
    </ul>`;
  }

  private _renderMember(m: Member, now: number, locale: Locale): TemplateResult {
    const presence = presenceText(m, now, locale);
    const state = `${m.online ? ' member-online' : ''}${m.banned ? ' member-banned' : ''}`;
    return html`<li part="member${state}" class=${m.banned ? 'banned' : ''} data-member=${m.id} title=${presence}>
      <span part="presence-dot" class="dot ${m.online ? 'online' : ''}" aria-hidden="true"></span>
      <span class="name">${m.name || m.id}</span><span class="sr-only">, ${presence}</span>
      ${!m.online && m.seen !== undefined ? html`<span class="seen" aria-hidden="true">${lastSeenText(m.seen, now, 'short', locale.tag)}</span>` : nothing}
      ${m.banned ? html`<span class="tag">(${locale.t('members.banned')})</span>` : nothing}
    </li>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'chat-room-members': ChatMembers;
  }
}
