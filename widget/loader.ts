/**
 * The entry the relay serves at /chat-room.js: a few KB that load the widget itself (a chunk
 * beside this file, fetched from the same origin) only when a page needs it.
 *
 * - A `<chat-room>` in the page (or added later) loads the widget at once.
 * - A `<chat-room launcher>` only draws its button here (with the unread count the widget
 *   stored on the last visit); the widget loads when the pointer comes near the button, when it
 *   gets focus, or when it is clicked (and then opens). A page pays almost nothing for a chat
 *   nobody opens.
 *
 * `loadChatRoom()` loads the widget and resolves with its exports (`createChatSession`, …).
 */
// client/early.js directly, not through the index, which would put the whole core into this entry (eslint.config.js allows it here only).
import { readHistoryEarly } from './client/early.js';
import { badgeText, CHAT_ICON, LAUNCHER_CSS, unreadKey } from './launcher-style.js';

type Widget = typeof import('./index.js');

let loading: Promise<Widget> | undefined;

/** Loads (once) and registers the whole widget; resolves with its exports. A failed load can be tried again. */
export function loadChatRoom(): Promise<Widget> {
  if (!loading) {
    loading = import('./index.js').catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
  }
  return loading;
}

/** "Open chat" before any catalogue is loaded (the widget's own words replace it). */
const OPEN: Readonly<Record<string, string>> = {
  en: 'Open chat',
  de: 'Chat öffnen',
  es: 'Abrir el chat',
  fr: 'Ouvrir la discussion',
  ar: 'فتح الدردشة',
  he: 'פתיחת הצ׳אט',
};

function load(): void {
  loadChatRoom().catch((error: unknown) => console.error('chat-room: the widget could not be loaded', error));
}

/** Draws the launcher button of a `<chat-room launcher>` that is not upgraded yet. */
function drawLauncher(room: HTMLElement): void {
  if (room.shadowRoot) return;
  const root = room.attachShadow({ mode: 'open' });
  const lang = (room.lang || room.closest('[lang]')?.getAttribute('lang') || document.documentElement.lang || 'en').slice(0, 2).toLowerCase();
  let unread = 0;
  try {
    unread = Number(localStorage.getItem(unreadKey(room.getAttribute('relay') ?? '', room.getAttribute('conversation') ?? ''))) || 0;
  } catch {
    // Storage off: no badge until the widget loads.
  }
  root.innerHTML = `<style>${LAUNCHER_CSS}</style><button part="launcher" class="launcher" type="button" aria-expanded="false"><svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="${CHAT_ICON}"/></svg></button>`;
  const button = root.querySelector('button')!;
  button.setAttribute('aria-label', OPEN[lang] ?? OPEN['en']!);
  if (unread > 0) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.setAttribute('part', 'badge');
    badge.setAttribute('aria-hidden', 'true');
    badge.textContent = badgeText(unread);
    button.append(badge);
  }
  // Near the button: start loading, so that a click finds the widget (almost) there.
  for (const type of ['pointerenter', 'focus', 'touchstart']) button.addEventListener(type, load, { once: true, passive: true });
  button.addEventListener('click', () => {
    room.setAttribute('open', '');
    load();
  });
}

function adopt(element: Element): void {
  if (element.localName !== 'chat-room' || customElements.get('chat-room')) return;
  if (element.hasAttribute('launcher')) drawLauncher(element as HTMLElement);
  else {
    // The newest cached messages are read while the widget is fetched (the core takes that read).
    readHistoryEarly({
      relay: element.getAttribute('relay') ?? '',
      conversation: element.getAttribute('conversation') ?? '',
      user: element.getAttribute('user') ?? undefined,
      token: element.getAttribute('token') ?? undefined,
    });
    load();
  }
}

function scan(root: ParentNode): void {
  for (const element of root.querySelectorAll('chat-room')) adopt(element);
}

if (!customElements.get('chat-room')) {
  scan(document);
  // Elements added later (single-page apps): watched only until the widget is registered.
  const observer = new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        adopt(node as Element);
        scan(node as Element);
      }
    }
  });
  observer.observe(document.documentElement, { childList: true, subtree: true });
  void customElements.whenDefined('chat-room').then(() => observer.disconnect());
}
