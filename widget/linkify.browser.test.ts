import { expect, fixture } from '@open-wc/testing';
import { html, render } from 'lit';
import { linkified, linkify, type Piece } from './linkify.js';
import { describe, it } from './test/mocha.js';

const links = (text: string) => linkify(text).filter((p): p is Exclude<Piece, string> => typeof p !== 'string');
const joined = (pieces: Piece[]) => pieces.map((p) => (typeof p === 'string' ? p : p.text)).join('');

describe('linkify', () => {
  it('linkify - http(s) URLs become links, the rest stays text, and nothing is lost', () => {
    const text = 'See https://example.com/a?b=1#c and http://example.org for more.';
    const pieces = linkify(text);
    expect(pieces).to.deep.equal([
      'See ',
      { text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' },
      ' and ',
      { text: 'http://example.org', href: 'http://example.org/' },
      ' for more.',
    ]);
    expect(joined(pieces)).to.equal(text);
  });

  it('linkify - www. addresses link to https', () => {
    expect(links('go to www.example.com/shop today')).to.deep.equal([{ text: 'www.example.com/shop', href: 'https://www.example.com/shop' }]);
  });

  it('linkify - e-mail addresses link to mailto', () => {
    expect(links('write to help@example.com.')).to.deep.equal([{ text: 'help@example.com', href: 'mailto:help@example.com' }]);
  });

  it('linkify - sentence punctuation and unbalanced brackets stay outside the link; balanced ones stay inside', () => {
    expect(links('Look: https://example.com/x.')[0]!.text).to.equal('https://example.com/x');
    expect(links('(see https://example.com/x)')[0]!.text).to.equal('https://example.com/x');
    expect(links('https://en.wikipedia.org/wiki/Link_(disambiguation)')[0]!.text).to.equal('https://en.wikipedia.org/wiki/Link_(disambiguation)');
    expect(links('"https://example.com/q?x=1",')[0]!.text).to.equal('https://example.com/q?x=1');
    expect(links('Really?! https://example.com!!!')[0]!.text).to.equal('https://example.com');
  });

  it('linkify - no other scheme ever becomes a link', () => {
    for (const text of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'vbscript:msgbox',
      'ftp://example.com/file',
    ]) {
      expect(links(text), text).to.deep.equal([]);
      expect(joined(linkify(text)), text).to.equal(text);
    }
  });

  it('linkify - not inside words, not bare schemes, not hosts without a dot', () => {
    expect(links('foo.www.example.com')).to.deep.equal([]);
    expect(links('xhttps://example.com')).to.deep.equal([]);
    expect(links('https:// is a scheme')).to.deep.equal([]);
    expect(links('http://intranet/page')).to.deep.equal([]);
    expect(links('http://localhost:8080/x')).to.deep.equal([{ text: 'http://localhost:8080/x', href: 'http://localhost:8080/x' }]);
  });

  it('linkify - non-Latin text around links and international domains', () => {
    const pieces = linkify('مرحبا https://example.com/طلب 👍');
    expect(links('مرحبا https://example.com/طلب 👍')[0]!.text).to.equal('https://example.com/طلب');
    expect(joined(pieces)).to.equal('مرحبا https://example.com/طلب 👍');
    expect(links('www.bücher.de')[0]!.href).to.equal('https://www.xn--bcher-kva.de/');
  });

  it('linkify - a long text without links is one piece (no quadratic work)', () => {
    const text = 'a'.repeat(4000) + ' ' + '.'.repeat(4000);
    expect(linkify(text)).to.deep.equal([text]);
  });

  it('linkified - renders anchors with target=_blank and rel=noopener noreferrer nofollow; HTML in the text stays text', async () => {
    const host = await fixture<HTMLDivElement>(html`<div></div>`);
    render(html`${linkified('<b>hi</b> https://example.com/<img src=x onerror=alert(1)> <script>x</script>')}`, host);
    expect(host.querySelector('b')).to.equal(null);
    expect(host.querySelector('img')).to.equal(null);
    expect(host.querySelector('script')).to.equal(null);
    const anchors = host.querySelectorAll('a');
    expect(anchors).to.have.length(1);
    const a = anchors[0]!;
    expect(a.getAttribute('href')).to.equal('https://example.com/');
    expect(a.textContent).to.equal('https://example.com/');
    expect(a.target).to.equal('_blank');
    expect(a.rel).to.equal('noopener noreferrer nofollow');
    expect(host.textContent).to.equal('<b>hi</b> https://example.com/<img src=x onerror=alert(1)> <script>x</script>');
  });
});
