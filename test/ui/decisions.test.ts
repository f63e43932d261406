/**
 * Approving in the console, in headless Chromium: a decision needs a reason of the configured
 * length and a confirmation that shows what will be allowed and where; nothing is sent before it.
 * Bulk approval previews every workload it would decide.
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import type { Page } from 'playwright-core';
import { HOUR, learnScene, proc, startHarness, T0, workload } from '../helpers/api-harness.js';

const EVIL = '<img src=x onerror="window.__xss=1">';

declare const window: Record<string, unknown>;

t.test('add to baseline and approve ask for a reason and confirm what they allow', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t, { overrides: { 'collector.api.minReasonLength': 12 } });
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/local/bin/migrate', EVIL));
  // Two more workloads of team-c learn, for the bulk approval.
  await h.ingest(proc(workload('team-c', 'front'), T0 + 1000, '/usr/sbin/nginx'), proc(workload('team-c', 'back'), T0 + 1000, '/app/server'));
  await h.endLearning();

  const browser = await launchBrowser(t);
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const posts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST') posts.push(new URL(r.url()).pathname);
  });
  await signIn(page, `${h.base}/ui/deviations/${d.id}`, h.tokens.approver);
  await page.waitForSelector('h2:text("Process tree")');

  // Without a reason: the confirmation shows what would be allowed, but Confirm is disabled.
  await page.click('button[data-action=add-to-baseline]');
  const panel = page.locator('section.confirm');
  await panel.waitFor();
  t.match(await panel.textContent(), 'p|/usr/local/bin/migrate', 'the exact item');
  t.match(await panel.textContent(), 'For one workload only: team-a/web/app (namespace team-a)', 'and where');
  t.match(await panel.textContent(), 'goes from version 1 to 2');
  t.equal(await page.isDisabled('button[data-action=confirm-add-to-baseline]'), true, 'no reason: Confirm is disabled');
  t.match(await panel.textContent(), 'Give a reason of at least 12 characters first.');
  await page.fill('#comment', '  expected ');
  t.equal(await page.isDisabled('button[data-action=confirm-add-to-baseline]'), true, 'a reason of spaces and "expected" is too short');
  t.match(await page.textContent('#comment-count'), '8 / 12 characters needed');
  t.same(posts, [], 'nothing was sent');
  // Cancel goes back to the buttons.
  await page.click('section.confirm button[data-action=cancel]');
  await page.waitForSelector('button[data-action=add-to-baseline]');

  // With a reason: confirmed, applied, audited.
  await page.click('button[data-action=add-to-baseline]');
  await page.fill('#comment', 'schema migrations run at every release');
  await page.click('button[data-action=confirm-add-to-baseline]');
  await page.waitForSelector('.badge.status-added-to-baseline');
  t.same(posts, [`/api/v1/deviations/${d.id}/add-to-baseline`]);
  const after = (await h.call('GET', `/api/v1/deviations/${d.id}`)).body.deviation;
  t.equal(after.statusComment, 'schema migrations run at every release');
  const audit = (await h.call('GET', `/api/v1/audit?targetType=deviation&targetId=${d.id}`)).body.items[0];
  t.match(audit, { action: 'deviation.add-to-baseline', actor: 'token:approver', comment: 'schema migrations run at every release' });

  // Approving a baseline version: its items listed (the one just added marked), then confirmed.
  const id = await h.baselineOf(web);
  await page.goto(`${h.base}/ui/baselines/${id}`);
  await page.click('button[data-action=approve]');
  await page.locator('section.confirm').waitFor();
  const items = await page.locator('section.confirm ul.allow li code').allTextContents();
  t.ok(items.includes('p|/usr/sbin/nginx') && items.includes('p|/usr/local/bin/migrate'), `every item of the version is listed: ${items.join(' ')}`);
  t.equal(await page.locator('section.confirm ul.allow li.added').count(), 1, 'what changed since the previous version is marked');
  t.equal(await page.isDisabled('button[data-action=confirm-approve]'), true);
  await page.fill('#decision-comment', 'reviewed with the web team');
  await page.click('button[data-action=confirm-approve]');
  await page.waitForSelector('h1 .badge.phase-approved');
  t.equal((await h.call('GET', `/api/v1/baselines/${id}`)).body.decisionComment, 'reviewed with the web team');

  // Bulk: the preview lists every workload it would approve; only Confirm approves.
  await page.goto(`${h.base}/ui/workloads`);
  await page.click('details summary:text("Approve a whole namespace")');
  await page.fill('#bulk-ns', 'team-c');
  await page.fill('#bulk-comment', 'team-c go-live review');
  await page.click('button[data-action=bulk-preview]');
  await page.locator('section.confirm').waitFor();
  const listed = (await page.locator('section.confirm ul.allow li').allTextContents()).sort();
  t.same(listed, ['team-c/back/app v1 · 1 items', 'team-c/front/app v1 · 1 items'], 'the preview lists each workload');
  t.match(await page.textContent('section.confirm'), '2 workloads in namespace team-c, 2 items in all');
  t.equal((await h.call('GET', '/api/v1/workloads?namespace=team-c')).body.items.filter((w: { baseline: { phase: string } }) => w.baseline.phase === 'approved').length, 0, 'the preview approved nothing');
  await page.click('button[data-action=confirm-bulk]');
  await page.waitForURL(/#\/workloads\?namespace=team-c/);
  const approved = (await h.call('GET', '/api/v1/workloads?namespace=team-c')).body.items.map((w: { baseline: { phase: string } }) => w.baseline.phase);
  t.same(approved, ['approved', 'approved']);
  t.equal(await page.evaluate(() => window.__xss), undefined, 'the item text stayed text');
});
