/**
 * In headless Chromium: a declared baseline file that does not load is shown on every page as a
 * banner with file:line:column (its text inert, invisible characters escaped), gone when fixed;
 * the agents page walks the API's pages.
 */
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { NEEDS_CHROMIUM, openOverview } from '../helpers/browser.js';
import { startHarness } from '../helpers/api-harness.js';

declare const window: Record<string, unknown>;

const EVIL_CIDR = '<img src=x onerror="window.__xss=1">\u202e';
const GOOD = `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: egress
spec:
  selector: { namespace: shop }
  deny:
    network:
      - cidrs: [169.254.169.254/32]
`;

t.test('declared-baseline problems as a banner; agents page by page', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t, { baselines: { 'egress.yaml': GOOD } });
  const file = `${h.config.collector.baselinesDir}/egress.yaml`;
  const at = new Date().toISOString();
  for (let i = 0; i < 130; i++) await h.store.agents.hello({ instanceId: `node-${String(i).padStart(3, '0')}-a`, node: `node-${String(i).padStart(3, '0')}`, cluster: 'test', version: '1', sources: ['tetragon-grpc'] }, at);

  const { page, problems } = await openOverview(t, h.base, h.tokens.viewer);
  t.equal(await page.isHidden('#declared-banner'), true, 'no banner while every file loads');

  writeFileSync(file, GOOD.replace('169.254.169.254/32', JSON.stringify(EVIL_CIDR)));
  h.engine.reload();
  await page.click('a[data-nav=deviations]');
  await page.waitForSelector('#declared-banner:not([hidden]) li');
  const text = (await page.textContent('#declared-banner li'))!;
  t.match(text, `${file}:9:17: spec.deny.network.0.cidrs.0: not a CIDR or address`, 'file:line:column and the reason');
  t.match(text, 'its last good content', 'what is in force');
  t.match(text, '<img src=x onerror=', 'markup from the file shows as text');
  t.match(text, '\\u202e', 'an invisible character is shown escaped');
  t.equal(await page.locator('#declared-banner img').count(), 0, 'no element was made of it');
  t.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');

  writeFileSync(file, GOOD);
  h.engine.reload();
  await page.click('a[data-nav=agents]');
  await page.waitForSelector('table.grid tbody tr');
  await page.waitForSelector('#declared-banner', { state: 'hidden' });
  t.pass('the banner is gone once the file loads');

  const nodes = await page.locator('table.grid tbody tr td:first-child').allTextContents();
  t.equal(nodes.length, 100, 'one page of agents');
  await page.click('button:text("Next page →")');
  await page.waitForSelector('button:text("← First page")');
  await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('table.grid tbody tr').length === 30);
  nodes.push(...(await page.locator('table.grid tbody tr td:first-child').allTextContents()));
  t.equal(new Set(nodes).size, 130, 'both pages together: every agent once');
  t.equal(await page.locator('button:text("Next page →")').count(), 0, 'no next page after the last');
  t.same(problems, [], 'no page errors');
});
