/**
 * The API's schema errors (fastify/ajv: `body/comment must NOT have more than 2000 characters`)
 * reach the person as a sentence about the field of the form ("Reason: at most 2000
 * characters"), never as the raw schema path — on the approve form and on add to baseline.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';

declare class Event {
  constructor(type: string);
}

/** Sets a field's value as a script would (past its maxlength), then tells the page it changed. */
async function setValue(page: Page, selector: string, value: string): Promise<void> {
  await page.locator(selector).evaluate((el, v) => {
    const field = el as unknown as { value: string; dispatchEvent(e: Event): void };
    field.value = v;
    field.dispatchEvent(new Event('input'));
  }, value);
}

t.test('schema errors of a decision show as a sentence about the reason', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/local/bin/migrate'));
  // Set by a script or an extension, a value is not held to the textarea's maxlength: the API refuses it.
  const tooLong = 'x'.repeat(2001);
  const baseline = (await h.call('GET', `/api/v1/baselines/${await h.baselineOf(web)}`)).body as { id: number; version: number };
  const raw = await h.call('POST', `/api/v1/baselines/${baseline.id}/approve`, { body: { version: baseline.version, comment: tooLong } });
  t.equal(raw.body.message, 'body/comment must NOT have more than 2000 characters', 'the API words it as a schema error');

  const page = await (await launchBrowser(t)).newPage();
  await signIn(page, `${h.base}/ui/baselines/${baseline.id}`, h.tokens.approver);
  await page.click('button[data-action=approve]');
  await setValue(page, '#decision-comment', tooLong);
  await page.click('button[data-action=confirm-approve]');
  const approveToast = page.locator('#toast .toast.error');
  await approveToast.waitFor();
  t.equal(await approveToast.textContent(), 'Reason: at most 2000 characters', 'approve: a sentence about the reason');

  await page.goto(`${h.base}/ui/deviations/${d.id}`);
  await page.waitForSelector('h2:text("Process tree")');
  await page.click('button[data-action=add-to-baseline]');
  await setValue(page, '#comment', tooLong);
  await page.click('button[data-action=confirm-add-to-baseline]');
  const addToast = page.locator('#toast .toast.error');
  await addToast.waitFor();
  t.equal(await addToast.textContent(), 'Reason: at most 2000 characters', 'add to baseline: the same');
  t.equal(await page.locator('#toast', { hasText: /body\/|must NOT/ }).count(), 0, 'no raw schema path anywhere');
});
