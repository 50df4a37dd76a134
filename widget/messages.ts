/**
 * Error words, kept for the parts that import them from here: the words themselves live in
 * the localisation layer (widget/i18n/), which turns the codes the client core and the relay
 * report into a sentence in the element's language. Pass the part's Locale; English without.
 */
import type { ChatError } from './client/index.js';
import { english, type Locale } from './i18n/index.js';

/** The words for an error (a code the widget does not know still reads as something). */
export function errorText(error: ChatError, locale: Locale = english): string {
  return locale.error(error);
}

/** Fixed labels of failed things, in English (parts with a LocaleController use `message.notSent` and `upload.failed`). */
export const Labels = {
  notSent: english.t('message.notSent'),
  uploadFailed: english.t('upload.failed'),
} as const;
