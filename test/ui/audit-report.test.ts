/**
 * The audit report in the console, in headless Chromium: for a namespace and a period, decisions by
 * action, who decided what and why (markup in a reason stays text), handling times by severity with
 * the slowest deviation linked, and baselines by phase — the same numbers as GET /reports/audit
 * (whose counts test/cli/report-audit.test.ts checks on a seeded store).
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';

const EVIL = '<img src=x onerror="window.__xss=1"> checked with the team';
declare const window: Record<string, unknown>;

t.test('the audit report of a namespace in the console', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const a = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/one'));
  const b = await h.raise(proc(web, T0 + 3 * HOUR + 1, '/usr/bin/two'));
  await h.raise(proc(worker, T0 + 3 * HOUR, '/usr/bin/elsewhere'));
  await h.call('POST', `/api/v1/deviations/${a.id}/ack`, { body: { comment: EVIL } });
  await h.call('POST', `/api/v1/deviations/${a.id}/resolve`, { body: { comment: 'fixed in release 43' } });
  await h.call('POST', `/api/v1/deviations/${b.id}/ack`, { body: {} });
  const id = await h.baselineOf(web);
  const version = (await h.call('GET', `/api/v1/baselines/${id}`)).body.version;
  await h.call('POST', `/api/v1/baselines/${id}/approve`, { body: { version, comment: 'reviewed with the web team' } });

  const page = await (await launchBrowser(t)).newPage({ viewport: { width: 1280, height: 900 } });
  await signIn(page, `${h.base}/ui/audit`, h.tokens.viewer);
  await page.click('details summary:text("Audit report")');
  await page.fill('#report-ns', 'team-a');
  await page.click('button[data-action=audit-report]');
  const report = page.locator('section.report');
  await report.waitFor();
  const from = await page.inputValue('#report-from');
  const to = await page.inputValue('#report-to');
  const api = (await h.call('GET', `/api/v1/reports/audit?namespace=team-a&from=${Date.parse(from)}&to=${Date.parse(to)}`)).body;

  t.same((await report.locator('ul.actions li').allTextContents()).sort(), Object.entries(api.actions).map(([k, n]) => `${k}: ${n}`).sort(), 'decisions by action, as the API counts them');
  t.same(api.actions, { 'deviation.ack': 2, 'deviation.resolve': 1, 'baseline.approve': 1 }, 'team-a only');
  for (const [severity, x] of Object.entries(api.handling as Record<string, { raised: number; acknowledged: number; resolved: number; unresolved: number; slowest: { id: number } | null }>)) {
    const row = report.locator(`tr[data-severity=${severity}]`);
    if (x.raised === 0) {
      t.equal(await row.count(), 0, `${severity}: nothing raised, no row`);
      continue;
    }
    t.same((await row.locator('td.num').allTextContents()).map(Number), [x.raised, x.acknowledged, x.resolved, x.unresolved], `${severity}: raised, acknowledged, resolved, unresolved`);
    t.equal(await row.locator('a').getAttribute('href'), `#/deviations/${x.slowest!.id}`, `${severity}: the slowest is linked`);
  }
  t.equal(await report.locator('table[aria-label=Decisions] tbody tr').count(), 4, 'each decision, with who and why');
  t.match(await report.locator('table[aria-label=Decisions]').textContent(), EVIL, 'a reason that is markup shows as text');
  t.match(await report.locator('p.phases').textContent(), 'approved 1');
  t.equal(await page.evaluate(() => window.__xss), undefined);
});
