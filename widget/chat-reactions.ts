import { css, html, nothing, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import type { Reaction } from './client/types.js';
import type { Locale } from './i18n/index.js';

/**
 * Reaction chips under a message and the small picker of common emoji. Plain templates
 * inside `<chat-room-message>`; the emoji are text, so no emoji library enters the bundle.
 */

/** The picker's emoji: common ones every system font has. */
export const QUICK_EMOJI: readonly string[] = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

export interface ReactionChip {
  emoji: string;
  /** Display names, in the order they reacted ("You" for the user). */
  names: string[];
  mine: boolean;
  pending: boolean;
}

/**
 * Chips from a message's reactions, in the core's order (first reaction first); emoji nobody
 * holds any more are left out. `minePending`: the message has an unconfirmed reaction change of
 * the user's, which marks the user's chips when the core does not say which emoji it is.
 */
export function reactionChips(
  reactions: readonly (Reaction & { pending?: boolean })[] | undefined,
  self: string | undefined,
  nameOf: (user: string) => string,
  minePending: boolean,
  locale: Locale,
): ReactionChip[] {
  const chips: ReactionChip[] = [];
  for (const { emoji, users, mine, pending } of reactions ?? []) {
    if (users.length === 0) continue;
    chips.push({
      emoji,
      names: users.map((user) => (user === self ? locale.t('reactions.you') : nameOf(user))),
      mine,
      pending: pending ?? (minePending && mine),
    });
  }
  return chips;
}

/** The chips: each a toggle button (pressed = the user reacted with it), the names in its tooltip. */
export function renderReactions(
  chips: readonly ReactionChip[],
  locale: Locale,
  onToggle: (emoji: string, on: boolean) => void,
): TemplateResult | typeof nothing {
  if (chips.length === 0) return nothing;
  return html`<div part="reactions" class="reactions" role="group" aria-label=${locale.t('reactions.label')}>
    ${repeat(
      chips,
      (chip) => chip.emoji,
      (chip) => {
        const names = locale.list(chip.names);
        return html`<button
          part="reaction${chip.mine ? ' reaction-mine' : ''}"
          class="reaction ${chip.mine ? 'mine' : ''} ${chip.pending ? 'pending' : ''}"
          type="button"
          data-emoji=${chip.emoji}
          aria-pressed=${chip.mine ? 'true' : 'false'}
          aria-label=${locale.t('reactions.chip', { emoji: chip.emoji, count: chip.names.length, names })}
          title=${names}
          @click=${() => onToggle(chip.emoji, !chip.mine)}
        >
          <span aria-hidden="true">${chip.emoji}</span><span class="count" aria-hidden="true">${locale.number(chip.names.length)}</span>
        </button>`;
      },
    )}
  </div>`;
}

/** The picker: a menu of checkable emoji (checked = the user already reacted with it). */
export function renderPicker(
  locale: Locale,
  id: string,
  mine: ReadonlySet<string>,
  onPick: (emoji: string, on: boolean) => void,
  onKeydown: (event: KeyboardEvent) => void,
): TemplateResult {
  return html`<div
    id=${id}
    part="reaction-picker"
    class="menu picker"
    role="menu"
    aria-label=${locale.t('reactions.picker')}
    aria-orientation="horizontal"
    @keydown=${onKeydown}
  >
    ${QUICK_EMOJI.map(
      (emoji) => html`<button
        class="menuitem emoji ${mine.has(emoji) ? 'mine' : ''}"
        type="button"
        role="menuitemcheckbox"
        aria-checked=${mine.has(emoji) ? 'true' : 'false'}
        tabindex="-1"
        data-emoji=${emoji}
        @click=${() => onPick(emoji, !mine.has(emoji))}
      >
        ${emoji}
      </button>`,
    )}
  </div>`;
}

export const reactionStyles = css`
  .reactions {
    display: flex;
    flex-wrap: wrap;
    gap: 0.25em;
    margin-top: 0.2em;
    max-width: min(80%, 36em);
  }
  .own .reactions {
    justify-content: flex-end;
  }
  .reaction {
    display: inline-flex;
    align-items: center;
    gap: 0.25em;
    padding: 0 0.45em;
    border-radius: 999px;
    font-size: 0.85em;
    line-height: 1.6;
  }
  .reaction.mine {
    border-color: var(--_accent);
    background: color-mix(in srgb, var(--_accent) 15%, var(--_surface));
    font-weight: 600;
  }
  .reaction.pending,
  .pending-change {
    opacity: 0.7;
    border-style: dashed;
  }
  .picker .emoji {
    font-size: 1.15em;
    padding: 0.05em 0.3em;
    border-color: transparent;
  }
  .picker .emoji.mine {
    border-color: var(--_accent);
    background: color-mix(in srgb, var(--_accent) 15%, var(--_surface));
  }
`;
