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
  for (let code = 0; code <= 0x10ffff; code++) {
    const c = String.fromCodePoint(code);
    if (dom.visible(c) !== terminalSafe(c)) differ.push(code.toString(16));
  }
  t.same(differ, [], 'no code point is treated differently');
});

t.test('the invisible and reordering classes are escaped, everything readable is not', async (t) => {
  const escaped = (c: string): boolean => dom.visible(c) !== c;
  const named: [number, string][] = [
    [0x2060, 'word joiner'],
    [0xfeff, 'zero-width no-break space (BOM)'],
    [0x061c, 'Arabic letter mark'],
    [0x00ad, 'soft hyphen'],
    [0x3164, 'Hangul filler'],
    [0x115f, 'Hangul choseong filler'],
    [0xffa0, 'halfwidth Hangul filler'],
    [0xfe0f, 'variation selector-16'],
    [0xe0100, 'variation selector-17'],
    [0xe0041, 'tag latin capital A'],
    [0xe0001, 'language tag'],
    [0x202e, 'right-to-left override'],
    [0x2067, 'right-to-left isolate'],
    [0x200b, 'zero-width space'],
    [0x200d, 'zero-width joiner'],
    [0x034f, 'combining grapheme joiner'],
    [0x180e, 'Mongolian vowel separator'],
    [0x00a0, 'no-break space'],
    [0x3000, 'ideographic space'],
    [0x2028, 'line separator'],
    [0x001b, 'escape'],
    [0x009b, 'CSI'],
    [0xd800, 'an unpaired surrogate'],
  ];
  for (const [code, name] of named) t.ok(escaped(String.fromCodePoint(code)), `U+${code.toString(16).toUpperCase()} ${name}`);
  t.equal(dom.visible('\u202egnp.exe'), '\\u202egnp.exe');
  t.equal(dom.visible('x\u{e0041}y'), 'x\\u{e0041}y', 'above the BMP: \\u{…}');
  for (const readable of ['a', ' ', 'é', 'e\u0301', '中', 'ا', 'ש', '\u{1F600}', '—', '…', '/usr/bin/curl -s http://x'])
    t.equal(dom.visible(readable), readable, `${JSON.stringify(readable)} is shown as it is`);
  // The classes, checked over every code point: nothing outside them is escaped.
  const inClasses = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]|[^\P{Zs} ]/u;
  const wrong: string[] = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    const c = String.fromCodePoint(code);
    if (escaped(c) !== inClasses.test(c)) wrong.push(code.toString(16));
  }
  t.same(wrong, []);
});
