/**
 * A workload's releases on its baseline page, in headless Chromium: per image, what it added and
 * removed compared to the release before it, and the deviation that a release added, marked as such.
 */
import t from 'tap';
import type { Observation } from '../../common/model.js';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';

function image<T extends Observation>(obs: T, tag: string, digest: string): T {
  return { ...obs, image: { name: `registry.local/web:${tag}`, digest } };
}

t.test('the baseline page lists each release with what it added and removed', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  // Release 2 brings a thumbnailer, approved; release 3 adds nothing yet and its first run of a
  // report tool is "new in this release".
  await h.ingest(image(proc(web, T0 + 3 * HOUR, '/usr/sbin/nginx', '-g daemon off;'), '2', 'sha256:bbbb'));
  const thumb = await h.raise(image(proc(web, T0 + 3 * HOUR + 1000, '/usr/local/bin/thumbnailer'), '2', 'sha256:bbbb'));
  await h.call('POST', `/api/v1/deviations/${thumb.id}/add-to-baseline`, { body: { comment: 'ships with release 2' } });
  await h.ingest(image(proc(web, T0 + 4 * HOUR, '/usr/sbin/nginx', '-g daemon off;'), '3', 'sha256:cccc'));
  const report = await h.raise(image(proc(web, T0 + 4 * HOUR + 1000, '/usr/local/bin/report'), '3', 'sha256:cccc'));

  const page = await (await launchBrowser(t)).newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, `${h.base}/ui/baselines/${await h.baselineOf(web)}`, h.tokens.viewer);
  const releases = page.locator('section[aria-label="Releases"] li.release');
  await releases.first().waitFor();
  t.same(await releases.evaluateAll((els) => els.map((e) => e.getAttribute('data-generation'))), ['3', '2', '1'], 'newest first');
  const third = (await releases.nth(0).textContent()) ?? '';
  t.match(third, 'generation 3 (this one)');
  t.match(third, 'registry.local/web:3');
  t.match(third, 'carried forward from generation 2 (registry.local/web:2): 0 added, 0 removed, 6 unchanged', 'release 3 added nothing (yet)');
  const second = releases.nth(1);
  t.match(await second.textContent(), 'carried forward from generation 1 (registry.local/web:1): 1 added, 0 removed, 5 unchanged');
  t.same(await second.locator('li.item.added').allTextContents().then((rows) => rows.map((r) => /p\|\S+/.exec(r)?.[0])), ['p|/usr/local/bin/thumbnailer'], 'the approved item, as an addition of release 2');
  t.match(await releases.nth(2).textContent(), 'first release: 5 items learned');
  await second.locator('a:text("generation 2")').click();
  await page.waitForSelector('h3:text("generation 2 (this one)")');
  t.match(await page.locator('dl.facts').textContent(), 'registry.local/web:2 @ sha256:bbbb', 'a release shows its image by name and digest');

  await page.goto(`${h.base}/ui/deviations/${report.id}`);
  await page.waitForSelector('dt:text("New in this release")');
  t.match(await page.locator('dl.facts:has(dt:text("New in this release"))').textContent(), 'registry.local/web:2@sha256:bbbb → registry.local/web:3@sha256:cccc', 'the deviation shows the image change');
  t.same(problems, []);
});
