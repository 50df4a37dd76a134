import { expect } from '@open-wc/testing';
import { describe, it } from '../test/mocha.js';
import { en, type Entry, type StringKey } from './en.js';
import { catalogueLanguage, LANGUAGES, loadCatalogue, Locale, startOfDay } from './locale.js';

const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
const forms = (entry: Entry): string[] => (typeof entry === 'string' ? [entry] : Object.values(entry));

describe('i18n catalogues', () => {
  it('catalogues - every language has every key, with no placeholder English does not have', async () => {
    for (const language of LANGUAGES) {
      const catalogue = await loadCatalogue(language);
      expect(Object.keys(catalogue).sort(), language).to.deep.equal(Object.keys(en).sort());
      for (const key of Object.keys(en) as StringKey[]) {
        const allowed = new Set(forms(en[key]).flatMap(placeholders).concat('count'));
        for (const form of forms(catalogue[key])) {
          expect(form.trim(), `${language} ${key}`).to.not.equal('');
          for (const name of placeholders(form)) expect(allowed.has(name), `${language} ${key}: {${name}}`).to.equal(true);
        }
        // A plain string keeps all its placeholders (a dropped one loses information); plural forms may spell the number out.
        if (typeof en[key] === 'string' && typeof catalogue[key] === 'string') {
          expect(placeholders(catalogue[key] as string), `${language} ${key}`).to.deep.equal(placeholders(en[key] as string));
        }
      }
    }
  });

  it('catalogues - a tag picks its language; unknown languages fall back to English', () => {
    expect(catalogueLanguage('de-AT')).to.equal('de');
    expect(catalogueLanguage('FR')).to.equal('fr');
    expect(catalogueLanguage('he-IL')).to.equal('he');
    expect(catalogueLanguage('pt-BR')).to.equal('en');
    expect(catalogueLanguage('')).to.equal('en');
  });

  it('Locale - plurals through Intl.PluralRules, numbers formatted for the language', async () => {
    const english = new Locale('en');
    expect(english.t('list.newMessages', { count: 1 })).to.equal('1 new message');
    expect(english.t('list.newMessages', { count: 1200 })).to.equal('1,200 new messages');
    const german = new Locale('de', await loadCatalogue('de'));
    expect(german.t('list.newMessages', { count: 1200 })).to.equal('1.200 neue Nachrichten');
    const arabic = new Locale('ar', await loadCatalogue('ar'));
    expect(arabic.t('list.newMessages', { count: 2 })).to.equal('رسالتان جديدتان');
    expect(arabic.dir).to.equal('rtl');
    expect(german.dir).to.equal('ltr');
  });

  it('Locale - overrides replace single strings, the rest stays', () => {
    const locale = new Locale('en', en, { 'composer.placeholder': 'Ask us anything…', 'list.newMessages': { other: '{count} neu' } });
    expect(locale.t('composer.placeholder')).to.equal('Ask us anything…');
    expect(locale.t('list.newMessages', { count: 1 })).to.equal('1 neu');
    expect(locale.t('composer.send')).to.equal('Send');
  });

  it('Locale - times in the language’s own clock, never forced to two-digit hours', async () => {
    const at = new Date(2025, 2, 3, 9, 5).getTime();
    expect(new Locale('en-US').time(at)).to.equal('9:05 AM');
    // 24-hour languages keep their own convention (Intl's), with no AM/PM.
    const german = new Locale('de', await loadCatalogue('de'));
    expect(german.time(new Date(2025, 2, 3, 13, 14).getTime())).to.equal('13:14');
    expect(german.time(at)).to.match(/^0?9:05$/);
    expect(new Locale('en-US').time(new Date(2025, 2, 3, 13, 14).getTime())).to.equal('1:14 PM');
    expect(new Locale('en-US').dateTime(at)).to.contain('2025').and.contain('March').and.contain('9:05');
  });

  it('Locale - day labels: Today, Yesterday, then the date (with the year when it is another year)', async () => {
    const now = new Date(2025, 2, 3, 10, 0).getTime();
    const english = new Locale('en-US');
    expect(english.day(new Date(2025, 2, 3, 0, 1).getTime(), now)).to.equal('Today');
    expect(english.day(new Date(2025, 2, 2, 23, 59).getTime(), now)).to.equal('Yesterday');
    expect(english.day(new Date(2025, 1, 27, 12).getTime(), now)).to.equal('Thursday, February 27');
    expect(english.day(new Date(2024, 11, 31, 12).getTime(), now)).to.equal('December 31, 2024');
    const french = new Locale('fr', await loadCatalogue('fr'));
    expect(french.day(new Date(2025, 2, 2, 8).getTime(), now)).to.equal('Hier');
    expect(french.day(new Date(2025, 1, 27, 12).getTime(), now)).to.equal('jeudi 27 février');
    expect(startOfDay(new Date(2025, 2, 3, 17).getTime())).to.equal(new Date(2025, 2, 3).getTime());
  });

  it('Locale - sizes in binary units with the language’s digits and unit names', async () => {
    const english = new Locale('en');
    expect(english.size(0)).to.equal('0 B');
    expect(english.size(1023)).to.equal('1,023 B');
    expect(english.size(1536)).to.equal('1.5 KiB');
    expect(english.size(25 * 1024 * 1024)).to.equal('25 MiB');
    expect(english.size(300 * 1024)).to.equal('300 KiB');
    const french = new Locale('fr', await loadCatalogue('fr'));
    expect(french.size(1536)).to.equal('1,5 Kio');
  });

  it('Locale - errors: every known code has words, unknown codes say their code, a file name leads', () => {
    const english = new Locale('en');
    expect(english.error({ code: 'file_too_large', params: { maxBytes: 25 * 1024 * 1024, name: 'a.iso' } })).to.equal(
      'a.iso: file is larger than 25 MiB',
    );
    expect(english.error({ code: 'text_too_long', params: { max: 4000 } })).to.equal('message is longer than 4,000 characters');
    expect(english.error({ code: 'upload_refused', params: { status: 413 } })).to.equal('upload failed (HTTP 413)');
    expect(english.error({ code: 'upload_refused' })).to.equal('upload failed (no answer)');
    expect(english.error({ code: 'brand_new' })).to.equal('something went wrong (brand_new)');
  });

  it('Locale - a malformed tag does not throw', () => {
    const locale = new Locale('not a tag!!');
    expect(locale.tag).to.equal('en');
    expect(locale.time(0)).to.be.a('string');
  });
});
