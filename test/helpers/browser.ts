/**
 * The console's browser tests: Debian's Chromium driven by playwright-core, headless, and the
 * console's sign-in (its form shows on whatever page is opened first).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Test } from 'tap';

export const CHROMIUM = '/usr/bin/chromium';

/** tap options of a browser test: skipped, with the reason shown, where Chromium is not installed. */
export const NEEDS_CHROMIUM = { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install -y chromium)` };

/** Headless Chromium, closed when the test ends. */
export async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  return browser;
}

/** Opens `url` and signs in with `token`. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
}

/** A fresh page signed in on the overview, and the page errors it raises (to assert none). */
export async function openOverview(t: Test, base: string, token: string): Promise<{ page: Page; problems: string[] }> {
  const page = await (await launchBrowser(t)).newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, `${base}/ui/`, token);
  await page.waitForSelector('h1:text("Overview")');
  return { page, problems };
}
