/**
 * The one localisation layer: a Locale turns keys into words (a catalogue, then the page's
 * overrides) and dates, times, numbers and sizes into text through Intl for its language tag.
 * English is built in; the other catalogues are separate chunks loaded on first use, so a
 * page pays only for the language it shows.
 */
import type { ChatError } from '../client/index.js';
import { en, type Catalogue, type Entry, type StringKey, type StringOverrides } from './en.js';

export type Params = Readonly<Record<string, string | number>>;

/** Languages with a catalogue, and how to load it (a chunk of its own each). */
const LOADERS: Readonly<Record<string, () => Promise<Catalogue>>> = {
  de: () => import('./de.js').then((m) => m.de),
  es: () => import('./es.js').then((m) => m.es),
  fr: () => import('./fr.js').then((m) => m.fr),
  ar: () => import('./ar.js').then((m) => m.ar),
  he: () => import('./he.js').then((m) => m.he),
};
const RTL = new Set(['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'dv', 'ckb']);
export const LANGUAGES: readonly string[] = ['en', ...Object.keys(LOADERS)];

const DAY_MS = 86_400_000;
/** Consecutive messages of one sender closer than this are one group (one name, tight spacing). */
export const GROUP_MS = 5 * 60_000;

/** The catalogue language for a tag: `de-AT` → `de`; a language without a catalogue → `en`. */
export function catalogueLanguage(tag: string): string {
  const primary = tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return primary in LOADERS ? primary : 'en';
}

/** A tag Intl accepts (a malformed `lang` attribute must not throw in every formatter). */
function intlTag(tag: string): string {
  try {
    return Intl.getCanonicalLocales(tag.trim() || 'en')[0] ?? 'en';
  } catch {
    return 'en';
  }
}

const loaded = new Map<string, Catalogue>([['en', en]]);
const loading = new Map<string, Promise<Catalogue>>();

/** The catalogue of a language, if it is already here (English always is). */
export function loadedCatalogue(language: string): Catalogue | undefined {
  return loaded.get(language);
}

/** Loads a language's catalogue (once; English on failure, so a missing chunk never leaves the widget blank). */
export function loadCatalogue(language: string): Promise<Catalogue> {
  const ready = loaded.get(language);
  if (ready) return Promise.resolve(ready);
  const load = LOADERS[language];
  if (!load) return Promise.resolve(en);
  let pending = loading.get(language);
  if (!pending) {
    pending = load().then(
      (catalogue) => {
        loaded.set(language, catalogue);
        return catalogue;
      },
      (error: unknown) => {
        loading.delete(language);
        console.warn(`chat-room: the "${language}" strings could not be loaded; using English`, error);
        return en;
      },
    );
    loading.set(language, pending);
  }
  return pending;
}

/** Intl objects are costly to make (one per message dominated long histories): one per tag and kind. */
type Formatter = Intl.DateTimeFormat | Intl.NumberFormat | Intl.PluralRules | Intl.ListFormat;
const formatters = new Map<string, Formatter>();
function cached<T extends Formatter>(key: string, make: () => T): T {
  let value = formatters.get(key) as T | undefined;
  if (!value) {
    value = make();
    formatters.set(key, value);
  }
  return value;
}

const SIZE_UNITS = ['size.KiB', 'size.MiB', 'size.GiB'] as const;

export class Locale {
  /** The BCP 47 tag Intl formats with (`en-GB`: English words, 24-hour times). */
  readonly tag: string;
  /** The catalogue's language (`en`, `de`, `es`, `fr`, `ar`, `he`). */
  readonly language: string;
  readonly dir: 'ltr' | 'rtl';

  constructor(
    tag: string,
    private readonly _catalogue: Catalogue = loadedCatalogue(catalogueLanguage(tag)) ?? en,
    private readonly _overrides: StringOverrides | undefined = undefined,
  ) {
    this.tag = intlTag(tag);
    this.language = catalogueLanguage(tag);
    this.dir = RTL.has(this.language) ? 'rtl' : 'ltr';
  }

  /** The words for `key`, with `{name}` placeholders filled (numbers formatted for the language). */
  t(key: StringKey, params: Params = {}): string {
    const entry: Entry = this._overrides?.[key] ?? this._catalogue[key] ?? en[key];
    let text: string;
    if (typeof entry === 'string') text = entry;
    else {
      const count = Number(params['count'] ?? 0);
      const form = this._plural().select(count) as keyof typeof entry;
      text = entry[form] ?? entry.other;
    }
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = params[name];
      if (value === undefined) return whole;
      return typeof value === 'number' ? this.number(value) : value;
    });
  }

  number(value: number, options?: Intl.NumberFormatOptions): string {
    const key = options ? JSON.stringify(options) : '';
    return cached(`n|${this.tag}|${key}`, () => new Intl.NumberFormat(this.tag, options)).format(value);
  }

  percent(ratio: number): string {
    return this.number(ratio, { style: 'percent', maximumFractionDigits: 0 });
  }

  /** Bytes in binary units (the relay's limits are 2^n: 25 MiB, not "25 MB"), one decimal below 10. */
  size(bytes: number): string {
    if (bytes < 1024) return this.t('size.B', { n: bytes });
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
      value /= 1024;
      unit++;
    }
    const digits = value < 10 && !Number.isInteger(value) ? 1 : 0;
    return this.t(SIZE_UNITS[unit]!, { n: this.number(value, { maximumFractionDigits: digits, minimumFractionDigits: 0 }) });
  }

  /** A message's time: the language's own clock (13:14, 1:14 PM), never forced to two-digit hours. */
  time(ts: number): string {
    return cached(`t|${this.tag}`, () => new Intl.DateTimeFormat(this.tag, { hour: 'numeric', minute: '2-digit' })).format(ts);
  }

  /** The full date and time, for a time's tooltip. */
  dateTime(ts: number): string {
    return cached(`dt|${this.tag}`, () => new Intl.DateTimeFormat(this.tag, { dateStyle: 'full', timeStyle: 'short' })).format(ts);
  }

  /** A day separator: "Today", "Yesterday", "Monday 3 March", "3 March 2024". */
  day(ts: number, now: number = Date.now()): string {
    const days = Math.round((startOfDay(now) - startOfDay(ts)) / DAY_MS);
    if (days === 0) return this.t('day.today');
    if (days === 1) return this.t('day.yesterday');
    const sameYear = new Date(ts).getFullYear() === new Date(now).getFullYear();
    const options: Intl.DateTimeFormatOptions = sameYear
      ? { weekday: 'long', day: 'numeric', month: 'long' }
      : { day: 'numeric', month: 'long', year: 'numeric' };
    return cached(`d|${this.tag}|${sameYear}`, () => new Intl.DateTimeFormat(this.tag, options)).format(ts);
  }

  /** "Bob and Carol", "Bob, Carol und Dan". */
  list(items: readonly string[]): string {
    return cached(`l|${this.tag}`, () => new Intl.ListFormat(this.tag, { type: 'conjunction' })).format(items);
  }

  /** The words for an error the client or the relay reported (a code it does not know still reads as something). */
  error(error: ChatError): string {
    const p = error.params ?? {};
    let reason: string;
    switch (error.code) {
      case 'file_too_large':
        reason = this.t('error.file_too_large', { size: this.size(Number(p['maxBytes'] ?? p['max'] ?? 0)) });
        break;
      case 'upload_refused':
        reason = Number(p['status']) ? this.t('error.upload_refused', { status: String(p['status']) }) : this.t('error.upload_refused_silent');
        break;
      default: {
        const key = `error.${error.code}` as StringKey;
        reason = key in en ? this.t(key, p) : this.t('error.unknown', { code: error.code });
      }
    }
    return p['name'] !== undefined ? this.t('error.prefix', { name: String(p['name']), reason }) : reason;
  }

  private _plural(): Intl.PluralRules {
    return cached(`p|${this.tag}`, () => new Intl.PluralRules(this.tag));
  }
}

/** Local midnight of the day of `ts` (days differ in length across DST changes: count midnights, not 24 h). */
export function startOfDay(ts: number): number {
  const date = new Date(ts);
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** The English locale, for code that renders outside a <chat-room> (and the default before a language loads). */
export const english = new Locale('en');
