import { css, html, nothing, type TemplateResult } from 'lit';
import { live } from 'lit/directives/live.js';
import type { Locale } from './i18n/index.js';

/**
 * The per-message action menu: a menu button (WAI-ARIA "menu button" pattern) beside the
 * bubble that opens a small menu in the flow of the message (not a floating layer, so that
 * the scrolling log never clips it).
 * Keyboard: Enter/Space on the button open it on the first item; arrows move, wrapping;
 * Home/End; Escape closes it and returns to the button; Tab closes it and moves on.
 * The menu buttons of all messages are ONE tab stop (a roving tabindex, kept by the message
 * element): ArrowUp/ArrowDown on a menu button go to the previous/next message's, Home/End to
 * the first/last, so Tab does not have to cross every message of a long history.
 */

export type MessageAction = 'reply' | 'react' | 'edit' | 'delete';

/** Which actions a message offers: reply and react to any live message, edit own text, delete own (or any as a moderator). */
export function availableActions(message: { own: boolean; text?: string | undefined; deleted?: unknown; status?: string | undefined }, moderator: boolean): MessageAction[] {
  if (message.deleted || message.status === 'failed') return [];
  const actions: MessageAction[] = ['reply', 'react'];
  if (message.own && message.text !== undefined) actions.push('edit');
  if (message.own || moderator) actions.push('delete');
  return actions;
}

/** The button that opens the menu. `menuId` names the menu it controls. */
export function renderMenuButton(
  locale: Locale,
  menuId: string,
  expanded: boolean,
  tabStop: boolean,
  onClick: () => void,
  onKeydown: (event: KeyboardEvent) => void,
): TemplateResult {
  return html`<button
    part="actions-button"
    class="actions-button"
    type="button"
    tabindex=${live(tabStop ? '0' : '-1')}
    aria-haspopup="menu"
    aria-expanded=${expanded ? 'true' : 'false'}
    aria-controls=${expanded ? menuId : nothing}
    aria-label=${locale.t('actions.button')}
    title=${locale.t('actions.button')}
    @click=${onClick}
    @keydown=${onKeydown}
  >
    <svg viewBox="0 0 24 24" width="1em" height="1em" aria-hidden="true" focusable="false">
      <circle cx="5" cy="12" r="2" fill="currentColor" /><circle cx="12" cy="12" r="2" fill="currentColor" /><circle
        cx="19"
        cy="12"
        r="2"
        fill="currentColor"
      />
    </svg>
  </button>`;
}

/** The menu itself; `React` opens the emoji picker, so it says it has a popup. */
export function renderActionsMenu(
  locale: Locale,
  menuId: string,
  actions: readonly MessageAction[],
  onAction: (action: MessageAction) => void,
  onKeydown: (event: KeyboardEvent) => void,
): TemplateResult {
  return html`<div
    id=${menuId}
    part="actions-menu"
    class="menu"
    role="menu"
    aria-label=${locale.t('actions.button')}
    aria-orientation="horizontal"
    @keydown=${onKeydown}
  >
    ${actions.map(
      (action) => html`<button
        part="action action-${action}"
        class="menuitem ${action === 'delete' ? 'danger' : ''}"
        type="button"
        role="menuitem"
        tabindex="-1"
        data-action=${action}
        aria-haspopup=${action === 'react' ? 'menu' : nothing}
        @click=${() => onAction(action)}
      >
        ${locale.t(`actions.${action}`)}
      </button>`,
    )}
  </div>`;
}

/** The items of a menu, in order. */
function items(menu: Element): HTMLElement[] {
  return [...menu.querySelectorAll<HTMLElement>('[role^="menuitem"]')];
}

/** Moves focus to the first (`'first'`), last or n-th item of a menu. */
export function focusItem(menu: Element | null | undefined, which: 'first' | 'last' | number): void {
  if (!menu) return;
  const all = items(menu);
  const index = which === 'first' ? 0 : which === 'last' ? all.length - 1 : which;
  all[Math.max(0, Math.min(all.length - 1, index))]?.focus();
}

/**
 * Arrow keys, Home and End inside a menu; returns whether the key was one of them (the
 * caller then prevents its default, e.g. scrolling the log). Escape and Tab are the caller's.
 */
export function moveInMenu(event: KeyboardEvent, menu: Element): boolean {
  const all = items(menu);
  if (all.length === 0) return false;
  const current = all.findIndex((item) => item === (menu.getRootNode() as ShadowRoot).activeElement);
  let next: number;
  switch (event.key) {
    case 'ArrowRight':
    case 'ArrowDown':
      next = (current + 1) % all.length;
      break;
    case 'ArrowLeft':
    case 'ArrowUp':
      next = (current - 1 + all.length) % all.length;
      break;
    case 'Home':
      next = 0;
      break;
    case 'End':
      next = all.length - 1;
      break;
    default:
      return false;
  }
  event.preventDefault();
  all[next]?.focus();
  return true;
}

export const actionStyles = css`
  .actions-button {
    flex: none;
    padding: 0.1em 0.35em;
    line-height: 1;
    color: var(--_muted);
    border-color: transparent;
    background: transparent;
    opacity: 0;
  }
  .actions-button svg {
    vertical-align: -0.125em;
  }
  .line:hover .actions-button,
  .line:focus-within .actions-button,
  .actions-button[aria-expanded='true'] {
    opacity: 1;
  }
  /* Touch screens have no hover: the button stays visible. */
  @media (hover: none) {
    .actions-button {
      opacity: 1;
    }
  }
  .menu {
    display: flex;
    flex-wrap: wrap;
    gap: 0.2em;
    margin-top: 0.25em;
    padding: 0.2em;
    border: 1px solid var(--_border);
    border-radius: calc(var(--_radius) / 2);
    background: var(--_surface);
    box-shadow: 0 2px 6px rgb(0 0 0 / 0.15);
    font-size: 0.85em;
  }
  .menuitem {
    border-color: transparent;
    padding: 0.15em 0.6em;
  }
  .menuitem:focus-visible {
    outline-offset: 0;
  }
  .menuitem.danger {
    color: var(--_danger);
  }
`;
