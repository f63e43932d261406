/**
 * The console on a phone (390 × 844, touch), in headless Chromium: every page fits the screen's
 * width (tables scroll inside themselves), every page link of the header is on screen and opens its
 * page, and a deviation whose command line is one long unbroken attacker string stays inside.
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';

declare const document: { documentElement: { scrollWidth: number; clientWidth: number } };

const LONG = `--url=stratum+tcp://${'a'.repeat(300)}.example:3333`;

t.test('every page fits 390 px and the navigation reaches every page', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/tmp/.x/xmrig', LONG, { parent: '/bin/sh' }));
  const id = await h.baselineOf(web);
  const browser = await launchBrowser(t);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, `${h.base}/ui/`, h.tokens.approver);
  await page.waitForSelector('h1:text("Overview")');

  const fits = async (what: string): Promise<void> => {
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
    t.ok(scrollWidth <= clientWidth, `${what}: no sideways scrolling of the page (${scrollWidth} ≤ ${clientWidth})`);
  };
  await fits('overview');
  const pages: [string, string][] = [
    ['deviations', 'Deviations'],
    ['workloads', 'Workloads'],
    ['audit', 'Audit log'],
    ['agents', 'Agents'],
    ['overview', 'Overview'],
  ];
  for (const [nav, heading] of pages) {
    const link = page.locator(`header a[data-nav=${nav}]`);
    const box = (await link.boundingBox())!;
    t.ok(box.x >= 0 && box.x + box.width <= 390 && box.y >= 0, `the ${nav} link is on screen (${Math.round(box.x)}..${Math.round(box.x + box.width)})`);
    await link.tap();
    await page.waitForSelector(`main h1:text("${heading}")`);
    await page.waitForLoadState('networkidle');
    await fits(nav);
  }
  await page.goto(`${h.base}/ui/deviations/${d.id}`);
  await page.waitForSelector('h2:text("Process tree")');
  await fits('a deviation with a 330-character argument');
  t.match(await page.textContent('h1'), 'xmrig', 'its title is shown');
  await page.goto(`${h.base}/ui/baselines/${id}`);
  await page.waitForSelector('button[data-action=approve]');
  await fits('a baseline');
  const approve = (await page.locator('button[data-action=approve]').boundingBox())!;
  t.ok(approve.x + approve.width <= 390, 'its decision buttons are on screen');
  t.same(problems, []);
});
