/**
 * The widget's localisation layer. Parts take their words from a LocaleController (the
 * enclosing <chat-room>'s language); code outside an element uses `english`.
 */
export { en, type Catalogue, type Entry, type Plural, type StringKey, type StringOverrides } from './en.js';
export { catalogueLanguage, english, GROUP_MS, LANGUAGES, loadCatalogue, loadedCatalogue, Locale, startOfDay, type Params } from './locale.js';
export { LocaleController, localeContext } from './context.js';
