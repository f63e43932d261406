/**
 * Undo in the console, in headless Chromium: after an acknowledgement, an addition to the baseline
 * and an approval, the page offers to undo it (who, when, until when) and the undo puts things
 * back; a role that could not have decided is not offered it. And the baseline page's diff
 * against a candidate declared baseline.
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';

const EVIL = '<img src=x onerror="window.__xss=1">';
declare const window: Record<string, unknown>;

t.test('undo an acknowledgement, an addition to the baseline and an approval; diff a candidate', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/local/bin/migrate'));
  const page = await (await launchBrowser(t)).newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, `${h.base}/ui/deviations/${d.id}`, h.tokens.approver);
  await page.waitForSelector('h2:text("Process tree")');
  t.equal(await page.locator('button[data-action=undo]').count(), 0, 'nothing to undo yet');

  // Acknowledge with a comment that is markup; the undo card shows it as text.
  await page.fill('#comment', EVIL);
  await page.click('button[data-action=ack]');
  await page.waitForSelector('.badge.status-acknowledged');
  const card = page.locator('section.undo');
  await card.waitFor();
  t.match(await card.textContent(), /token:approver made this acknowledgement at .*: “<img src=x onerror="window.__xss=1">”\. It can be undone until /);
  await page.click('button[data-action=undo]');
  await page.waitForSelector('.badge.status-open');
  t.equal((await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation.status, 'open');
  t.equal(await page.locator('button[data-action=undo]').count(), 0, 'an undo is not undone again from here');

  // Add to the baseline, then undo: the item leaves the baseline again.
  await page.click('button[data-action=add-to-baseline]');
  await page.fill('#comment', 'schema migrations run at every release');
  await page.click('button[data-action=confirm-add-to-baseline]');
  await page.waitForSelector('.badge.status-added-to-baseline');
  await page.click('button:text("Undo the addition to the baseline")');
  await page.waitForSelector('.badge.status-open');
  const id = await h.baselineOf(web);
  const items = (await h.call('GET', `/api/v1/baselines/${id}/items`)).body.items.map((i: { key: string }) => i.key);
  t.notOk(items.includes('p|/usr/local/bin/migrate'), 'the item is out of the baseline');

  // An analyst is offered the undo of an acknowledgement, not of an addition to the baseline.
  await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'added again by the approver' } });
  const analyst = await (await launchBrowser(t)).newPage();
  await signIn(analyst, `${h.base}/ui/deviations/${d.id}`, h.tokens.analyst);
  await analyst.waitForSelector('.badge.status-added-to-baseline');
  t.equal(await analyst.locator('button[data-action=undo]').count(), 0, 'below the role of the decision: no undo offered');

  // Approve a baseline version, then undo the approval.
  await page.goto(`${h.base}/ui/baselines/${id}`);
  await page.click('button[data-action=approve]');
  await page.fill('#decision-comment', 'reviewed with the web team');
  await page.click('button[data-action=confirm-approve]');
  await page.waitForSelector('h1 .badge.phase-approved');
  await page.click('button:text("Undo the approval")');
  await page.waitForSelector('h1 .badge.phase-active');
  t.match((await h.call('GET', `/api/v1/baselines/${id}`)).body, { phase: 'active', decidedBy: null });
  t.match((await h.call('GET', `/api/v1/audit?targetType=baseline&targetId=${id}&limit=1`)).body.items[0], { action: 'baseline.approve.undo', actor: 'token:approver' });

  // The diff against a candidate: what it would stop allowing, what it adds that nothing used.
  await page.click('details summary:text("What if")');
  await page.fill('#whatif-yaml', 'apiVersion: driftwatch.dev/v1\nkind: Baseline\nmetadata: { name: strict }\nspec:\n  selector: { namespace: team-a }\n  mode: replace\n  allow:\n    processes: [{ path: /usr/sbin/nginx }, { path: /usr/bin/jq }]\n');
  await page.click('button[data-action=candidate-diff]');
  const diff = page.locator('section.candidate-diff');
  await diff.waitFor();
  const gone = await diff.locator('li.removed code').allTextContents();
  const added = await diff.locator('li.added code').allTextContents();
  t.ok(gone.includes('p|/usr/local/bin/healthcheck') && !gone.includes('p|/usr/sbin/nginx'), `learned, not allowed by the candidate: ${gone.join(' ')}`);
  t.same(added, ['process /usr/bin/jq'], 'allowed by the candidate, never seen');
  t.match(await diff.textContent(), /→ candidate \(strict, replace\)/);
  t.equal(await page.evaluate(() => window.__xss), undefined, 'the markup stayed text');
  t.same(problems, []);
});
