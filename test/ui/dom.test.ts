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
