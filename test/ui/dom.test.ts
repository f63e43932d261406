/** ui/dom.js helpers that need no DOM, imported as the browser does (plain ES module). */
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { packagePath } from '../../common/paths.js';

const dom = (await import(pathToFileURL(packagePath('ui', 'dom.js')).href)) as { safeHref(value: string): string; visible(value: unknown): string };

t.test('safeHref keeps in-app links and refuses everything that leaves the site', async (t) => {
  for (const ok of ['#/deviations/7', '/api/v1/exports/deviations.csv', '/', '#']) t.equal(dom.safeHref(ok), ok, ok);
  const offSite = [
    '//evil.com',
    '/\\evil.com',
    '\\\\evil.com',
    '/\\/evil.com',
    '/\t/evil.com',
    '/\n/evil.com',
    '/\r/evil.com',
    'https://evil.com',
    'javascript:alert(1)',
    ' /evil',
    'evil.com',
  ];
  for (const bad of offSite) t.equal(dom.safeHref(bad), '#', JSON.stringify(bad));
});

t.test('visible escapes what terminalSafe does, line and paragraph separators included', async (t) => {
  t.equal(dom.visible('a\u001b[31m\u009b\u202egnp\u2066\u2028b\u2029c'), 'a\\x1b[31m\\x9b\\u202egnp\\u2066\\u2028b\\u2029c');
});

t.test('visible and terminalSafe escape exactly the same characters, the same way', async (t) => {
  const { terminalSafe } = await import('../../common/text.js');
  const differ: string[] = [];
  for (let code = 0; code <= 0xffff; code++) {
    const c = String.fromCharCode(code);
    if (dom.visible(c) !== terminalSafe(c)) differ.push(code.toString(16));
  }
  t.same(differ, [], 'no code point of the BMP is treated differently');
  const escaped = (c: string): boolean => dom.visible(c) !== c;
  const expected = [
    ...Array.from({ length: 0x20 }, (_v, i) => i), // C0, \n and \t included: the UI shows text on one line
    ...Array.from({ length: 0xa0 - 0x7f }, (_v, i) => 0x7f + i), // DEL and C1
    ...Array.from({ length: 5 }, (_v, i) => 0x200b + i), // zero-width and LRM / RLM
    0x2028,
    0x2029,
    ...Array.from({ length: 5 }, (_v, i) => 0x202a + i), // bidi embeddings and overrides
    ...Array.from({ length: 4 }, (_v, i) => 0x2066 + i), // bidi isolates
  ];
  const actual: number[] = [];
  for (let code = 0; code <= 0xffff; code++) if (escaped(String.fromCharCode(code))) actual.push(code);
  t.same(actual, expected, 'the set the review asked for, nothing more or less');
  t.equal(dom.visible('a\u{1F600}b'), 'a\u{1F600}b', 'astral characters are shown as they are');
});
