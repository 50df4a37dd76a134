/**
 * The opt-in `notify` of <chat-room>: the page title counts unread messages ("(3) Support")
 * and, while the page is hidden, a desktop notification (permission asked only from a user
 * gesture inside the widget) and, when asked for, a short sound. Several notifying rooms on
 * one page share the one title: their counts add up.
 */
import type { ChatMessage } from './client/index.js';
import type { Locale } from './i18n/index.js';

const counts = new Map<object, number>();
/** The title without our badge, and the title we last set (a page that sets its own title resets the base). */
let baseTitle: string | null = null;
let ourTitle: string | null = null;
let badgeLocale: Locale | null = null;

/** Sets (or, with 0, clears) one room's share of the title badge. */
export function setTitleBadge(room: object, unread: number, locale: Locale): void {
  if (unread > 0) counts.set(room, unread);
  else counts.delete(room);
  badgeLocale = locale;
  renderTitle();
}

function renderTitle(): void {
  if (document.title !== ourTitle) baseTitle = document.title;
  let total = 0;
  for (const count of counts.values()) total += count;
  if (baseTitle === null) return;
  const title = total > 0 && badgeLocale ? badgeLocale.t('notify.title', { count: total, title: baseTitle }) : baseTitle;
  ourTitle = title;
  if (document.title !== title) document.title = title;
  if (total === 0) baseTitle = ourTitle = null;
}

/** Asks for permission to notify, from a user gesture (browsers ignore or penalise asking without one). */
export function askPermissionOnGesture(): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'default') return;
  void Notification.requestPermission().catch(() => undefined);
}

/** A desktop notification for a message from somebody else, only while the page is hidden. */
export function notifyMessage(message: ChatMessage, locale: Locale, conversation: string): void {
  if (document.visibilityState !== 'hidden') return;
  if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const name = message.from.name || message.from.id;
  const body = message.text ?? (message.file ? locale.t('notify.file', { name: message.file.name }) : '');
  try {
    const notification = new Notification(locale.t('notify.from', { name }), { body: body.slice(0, 200), tag: `chat-room:${conversation}` });
    notification.onclick = () => {
      window.focus();
      notification.close();
    };
  } catch {
    // Some browsers (Android Chrome) allow notifications only from a service worker: the title badge remains.
  }
}

let audio: AudioContext | undefined;

/** A short, quiet two-tone chime (no audio file to ship); only after the page allowed audio. */
export function chime(): void {
  try {
    audio ??= new AudioContext();
    if (audio.state !== 'running') return;
    const now = audio.currentTime;
    for (const [i, frequency] of [880, 1320].entries()) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.08, now + i * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.25);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now + i * 0.12);
      oscillator.stop(now + i * 0.12 + 0.3);
    }
  } catch {
    // No audio on this page: the sound was only a courtesy.
  }
}

/** Lets the chime play later: browsers start audio only from a user gesture. */
export function unlockAudioOnGesture(): void {
  try {
    audio ??= new AudioContext();
    if (audio.state === 'suspended') void audio.resume().catch(() => undefined);
  } catch {
    // No audio.
  }
}
