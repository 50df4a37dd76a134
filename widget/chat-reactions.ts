import { css, html, nothing, type TemplateResult } from 'lit';
import { repeat } from 'lit/directives/repeat.js';

/**
 * Reaction chips under a message and the small picker of common emoji. Plain templates
 * inside `<chat-room-message>`; the emoji are text, so no emoji library enters the bundle.
 */

/** The picker's emoji: common ones every system font has. */
export const QUICK_EMOJI: readonly string[] = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

/** English defaults; the localisation layer may replace them (keys stay stable). */
export const reactionStrings = {
  reactions: 'Reactions',
  picker: 'Add a reaction',
  you: 'You',
  /** `👍 2: Alice, Bob` — what a chip says to a screen reader. */
  chip: (emoji: string, count: number, names: string) => `${emoji} ${count}: ${names}`,
};

export interface ReactionChip {
  emoji: string;
  /** Display names, in the order they reacted ("You" for the user). */
  names: string[];
  mine: boolean;
  /** The user's own change to this emoji is not yet confirmed by the relay. */
  pending: boolean;
}

/**
 * Chips from a message's `reactions` (emoji → user ids in reaction order). Emoji nobody
 * holds any more are left out; the relay's order of emoji is kept.
 */
export function reactionChips(
  reactions: Readonly<Record<string, readonly string[]>> | undefined,
  self: string | undefined,
  nameOf: (user: string) => string,
  pending: ReadonlySet<string> = new Set(),
): ReactionChip[] {
  const chips: ReactionChip[] = [];
  for (const [emoji, users] of Object.entries(reactions ?? {})) {
    if (users.length === 0) continue;
    chips.push({
      emoji,
      names: users.map((user) => (user === self ? reactionStrings.you : nameOf(user))),
      mine: self !== undefined && users.includes(self),
      pending: pending.has(emoji),
    });
  }
  return chips;
}

/** The chips: each a toggle button (pressed = the user reacted with it), the names in its tooltip. */
export function renderReactions(chips: readonly ReactionChip[], onToggle: (emoji: string, on: boolean) => void): TemplateResult | typeof nothing {
  if (chips.length === 0) return nothing;
  return html`<div part="reactions" class="reactions" role="group" aria-label=${reactionStrings.reactions}>
    ${repeat(
      chips,
      (chip) => chip.emoji,
      (chip) => {
        const names = chip.names.join(', ');
        return html`<button
          part="reaction${chip.mine ? ' reaction-mine' : ''}"
          class="reaction ${chip.mine ? 'mine' : ''} ${chip.pending ? 'pending' : ''}"
          type="button"
          data-emoji=${chip.emoji}
          aria-pressed=${chip.mine ? 'true' : 'false'}
          aria-label=${reactionStrings.chip(chip.emoji, chip.names.length, names)}
          title=${names}
          @click=${() => onToggle(chip.emoji, !chip.mine)}
        >
          <span aria-hidden="true">${chip.emoji}</span><span class="count" aria-hidden="true">${chip.names.length}</span>
        </button>`;
      },
    )}
  </div>`;
}

/** The picker: a menu of checkable emoji (checked = the user already reacted with it). */
export function renderPicker(
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
    aria-label=${reactionStrings.picker}
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
