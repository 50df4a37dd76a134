/**
 * The floating launcher button, shared by the small entry (which draws it before the widget
 * is loaded, with plain DOM) and by <chat-room launcher> (Lit): one look, so nothing moves
 * when the widget takes over. Plain strings, no Lit: the entry must stay a few KB.
 */

/** Host placement and the button. Colours: --chat-room-launcher-bg/-fg (default: the accent pair). */
export const LAUNCHER_CSS = `
:host([launcher]) {
  position: fixed;
  z-index: var(--chat-room-z-index, 2147483000);
  inset-block-end: var(--chat-room-launcher-inset-block, 20px);
  inset-inline-end: var(--chat-room-launcher-inset-inline, 20px);
  display: block;
  width: var(--chat-room-launcher-size, 56px);
  height: var(--chat-room-launcher-size, 56px);
  min-width: 0;
  border: none;
  background: none;
  overflow: visible;
  /* A page rule such as chat-room { height: 100% } must not turn the host into an invisible wall. */
  pointer-events: none;
  font-family: var(--chat-room-font, system-ui, sans-serif);
  font-size: var(--chat-room-font-size, 15px);
}
:host([launcher][side='start']) {
  inset-inline-end: auto;
  inset-inline-start: var(--chat-room-launcher-inset-inline, 20px);
}
.launcher {
  box-sizing: border-box;
  position: absolute;
  inset-block-end: 0;
  inset-inline-end: 0;
  pointer-events: auto;
  display: grid;
  place-items: center;
  width: var(--chat-room-launcher-size, 56px);
  height: var(--chat-room-launcher-size, 56px);
  margin: 0;
  padding: 0;
  border: none;
  border-radius: 50%;
  background: var(--chat-room-launcher-bg, var(--chat-room-accent, #0b63ce));
  color: var(--chat-room-launcher-fg, var(--chat-room-on-accent, #ffffff));
  box-shadow: 0 4px 14px rgb(0 0 0 / 0.28);
  cursor: pointer;
  font: inherit;
}
.launcher:focus-visible {
  outline: 3px solid var(--chat-room-launcher-bg, var(--chat-room-accent, #0b63ce));
  outline-offset: 3px;
}
.launcher svg {
  width: 46%;
  height: 46%;
}
.badge {
  position: absolute;
  inset-block-start: -3px;
  inset-inline-end: -3px;
  box-sizing: border-box;
  min-width: 22px;
  height: 22px;
  padding: 0 6px;
  border-radius: 11px;
  background: var(--chat-room-badge-bg, #c5221f);
  color: var(--chat-room-badge-fg, #ffffff);
  font-size: 12px;
  font-weight: 700;
  line-height: 22px;
  text-align: center;
}
.sr-only {
  position: absolute;
  width: 1px;
  height: 1px;
  margin: -1px;
  overflow: hidden;
  clip: rect(0, 0, 0, 0);
  white-space: nowrap;
}
`;

/** The speech bubble of the closed launcher, and the cross of the open one (24×24 viewBox). */
export const CHAT_ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z';
export const CLOSE_ICON = 'M6 6l12 12M18 6L6 18';

/** Where the widget keeps the last unread count, so the entry can show the badge before loading anything. */
export function unreadKey(relay: string, conversation: string): string {
  return `chat-room:unread:${relay.replace(/\s+/g, '')}|${conversation}`;
}

/** The badge text: "9+" beyond nine keeps the circle round. */
export function badgeText(unread: number): string {
  return unread > 9 ? '9+' : String(unread);
}
