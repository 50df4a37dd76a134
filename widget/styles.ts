import { css } from 'lit';

/**
 * The palette: every colour a site may set comes as a custom property, in pairs of a
 * background and the text on it (a light bubble under dark-theme text was unreadable).
 * `theme="light"` (the default: the host page decides, not the OS), `"dark"`, or `"auto"`
 * (follows prefers-color-scheme). Parts read the private `--_…` names.
 */
const darkPalette = css`
  --_accent: var(--chat-room-accent, #70b3ff);
  --_on-accent: var(--chat-room-on-accent, #0b1b2e);
  --_bg: var(--chat-room-bg, #16181c);
  --_fg: var(--chat-room-fg, #e6e8eb);
  --_muted: var(--chat-room-muted, #a0a8b3);
  --_bubble-own: var(--chat-room-bubble-own, #1f3a5f);
  --_bubble-own-fg: var(--chat-room-bubble-own-fg, #e6e8eb);
  --_bubble-other: var(--chat-room-bubble-other, #262a30);
  --_bubble-other-fg: var(--chat-room-bubble-other-fg, #e6e8eb);
  --_surface: var(--chat-room-surface, #1d2025);
  --_surface-fg: var(--chat-room-surface-fg, #e6e8eb);
  --_border: var(--chat-room-border, #4a515b);
  --_danger: var(--chat-room-danger, #ff8a80);
  --_warn-bg: var(--chat-room-warning-bg, #3d3200);
  --_warn-fg: var(--chat-room-warning-fg, #ffe08a);
  --_ok-bg: var(--chat-room-ok-bg, #10331a);
  --_ok-fg: var(--chat-room-ok-fg, #a6e3b0);
  color-scheme: dark;
`;

export const palette = css`
  :host {
    --_accent: var(--chat-room-accent, #0b63ce);
    --_on-accent: var(--chat-room-on-accent, #ffffff);
    --_bg: var(--chat-room-bg, #ffffff);
    --_fg: var(--chat-room-fg, #1f2328);
    --_muted: var(--chat-room-muted, #59636e);
    --_bubble-own: var(--chat-room-bubble-own, #dcebff);
    --_bubble-own-fg: var(--chat-room-bubble-own-fg, #1f2328);
    --_bubble-other: var(--chat-room-bubble-other, #eef0f2);
    --_bubble-other-fg: var(--chat-room-bubble-other-fg, #1f2328);
    --_surface: var(--chat-room-surface, #ffffff);
    --_surface-fg: var(--chat-room-surface-fg, #1f2328);
    --_border: var(--chat-room-border, #8c959f);
    --_danger: var(--chat-room-danger, #b3261e);
    --_warn-bg: var(--chat-room-warning-bg, #fff4ce);
    --_warn-fg: var(--chat-room-warning-fg, #4d3900);
    --_ok-bg: var(--chat-room-ok-bg, #dff6dd);
    --_ok-fg: var(--chat-room-ok-fg, #0f5c1a);
    --_link: var(--chat-room-link, var(--_accent));
    --_radius: var(--chat-room-radius, 12px);
    color-scheme: light;
  }
  :host([theme='dark']) {
    ${darkPalette}
  }
  @media (prefers-color-scheme: dark) {
    :host([theme='auto']) {
      ${darkPalette}
    }
  }
`;

/** Text only screen readers get (status words next to tick marks, hidden labels). */
export const srOnly = css`
  .sr-only {
    position: absolute;
    width: 1px;
    height: 1px;
    padding: 0;
    margin: -1px;
    overflow: hidden;
    clip: rect(0, 0, 0, 0);
    white-space: nowrap;
    border: 0;
  }
`;

/** Buttons inside the parts share one look; the colours come from <chat-room>'s custom properties. */
export const buttons = css`
  button {
    font: inherit;
    color: var(--_surface-fg, inherit);
    background: var(--_surface);
    border: 1px solid var(--_border);
    border-radius: calc(var(--_radius) / 2);
    padding: 0.25em 0.75em;
    cursor: pointer;
  }
  button:hover:not(:disabled) {
    border-color: var(--_accent);
  }
  button:focus-visible,
  a:focus-visible {
    outline: 2px solid var(--_accent);
    outline-offset: 2px;
  }
  button:disabled {
    cursor: default;
    opacity: 0.6;
  }
`;
