/**
 * The README's screenshots: every console page, taken from the demo exactly as a new user sees it
 * after `npm start` (the recording moved to the present), in headless Chromium. An ordinary run
 * saves them in the test's directory and checks that each is a small PNG and that the README shows
 * exactly these pages from docs/screenshots/. The regeneration script, `npm run screenshots`
 * (DW_UPDATE_SCREENSHOTS=1), writes them to docs/screenshots/ and rewrites the README's table.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Page } from 'playwright-core';
import { packagePath } from '../../common/paths.js';
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.js';
import { startDemo } from '../helpers/demo.js';

const UPDATE = process.env.DW_UPDATE_SCREENSHOTS === '1';
// The demo replays its recording first (about a minute on a quiet machine, more beside the e2e demo
// test): this file gets more than the suite's 120 s.
t.setTimeout(300_000);
const README = packagePath('README.md');
const SHOTS = 'docs/screenshots';
/** Above this a picture is not worth its weight in the repository. */
const MAX_BYTES = 256 * 1024;

interface Shot {
  name: string;
  caption: string;
}

/** The pages, in the README's order (two a row). */
const PAGES: readonly Shot[] = [
  { name: 'overview', caption: 'overview: the last 24 h, open deviations, agents' },
  { name: 'deviations', caption: 'deviations (live), filters in the URL' },
  { name: 'deviation', caption: 'a kubectl exec session: every command, why, related' },
  { name: 'baseline', caption: 'a baseline read as sentences, its diff, approve / reject' },
  { name: 'workloads', caption: 'workloads and their baselines; bulk approval with a preview' },
  { name: 'audit', caption: 'the audit log: who decided what, when, why' },
  { name: 'agents', caption: 'agents and their counters' },
  { name: 'mobile', caption: 'on a phone (390 px)' },
  { name: 'signin', caption: 'sign in with a token' },
];

const START = '<!-- screenshots: written by `npm run screenshots` (test/ui/screenshots.test.ts) from the demo -->';
const END = '<!-- /screenshots -->';

/** The README's table of screenshots, two a row. */
function screenshotTable(pages: readonly Shot[]): string {
  const rows: string[] = [];
  for (let i = 0; i < pages.length; i += 2) {
    const pair = pages.slice(i, i + 2);
    rows.push(`| ${pair.map((p) => `**${p.caption}**`).join(' | ')}${pair.length === 1 ? ' | ' : ''} |`);
    rows.push(`| ${pair.map((p) => `![${p.name}](${SHOTS}/${p.name}.png)`).join(' | ')}${pair.length === 1 ? ' | ' : ''} |`);
  }
  return [START, '| | |', '| --- | --- |', ...rows, END].join('\n');
}

function readmeTable(text: string): string | null {
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  return a === -1 || b === -1 ? null : text.slice(a, b + END.length);
}

t.test('every page of the demo, as a new user sees it', NEEDS_CHROMIUM, async (t) => {
  const dir = UPDATE ? packagePath(SHOTS) : t.testdir();
  const { process: demo, url, token } = await startDemo(t, t.testdir());
  const get = async <T>(path: string): Promise<T> => (await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<T>;
  const session = (await get<{ items: { id: number }[] }>('/deviations?kind=interactive-session&limit=1')).items[0]!;
  const web = (await get<{ items: { workload: { name: string }; baseline: { id: number } | null }[] }>('/workloads?q=web')).items.find((w) => w.workload.name === 'web')!;
  // One decision, so that the audit log shows what it keeps (a fresh demo has decided nothing).
  const d = (await get<{ items: { id: number }[] }>('/deviations?minSeverity=high&limit=1')).items[0]!;
  await fetch(`${url}/api/v1/deviations/${d.id}/ack`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'paging the web team: not a deploy of ours' }) });

  const browser = await launchBrowser(t);
  const problems: string[] = [];
  const open = async (width: number, height: number): Promise<Page> => {
    const page = await (await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1, isMobile: width < 500 })).newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    return page;
  };
  const shot = async (page: Page, name: string): Promise<void> => {
    await page.waitForLoadState('networkidle');
    // The sign-in toast and the "fresh row" highlight are moments, not the page.
    await page.evaluate(() => (globalThis as unknown as { document: { getElementById(id: string): { replaceChildren(): void } | null } }).document.getElementById('toast')?.replaceChildren());
    await page.screenshot({ path: join(dir, `${name}.png`), animations: 'disabled' });
  };
  const page = await open(1200, 750);
  await page.goto(`${url}/ui/`);
  await page.waitForSelector('form.signin');
  await shot(page, 'signin');
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('h1:text("Overview")');
  await page.waitForSelector('#live.state-live');
  await shot(page, 'overview');
  const visit = async (p: Page, route: string, ready: string, name: string): Promise<void> => {
    await p.goto(`${url}/ui/${route}`);
    await p.waitForSelector(ready);
    await shot(p, name);
  };
  await visit(page, 'deviations', 'table.grid tbody tr[data-id]', 'deviations');
  await visit(page, `deviations/${session.id}`, 'h2:text("Commands in this session")', 'deviation');
  await visit(page, `baselines/${web.baseline!.id}`, 'section:has(h2:text-matches("Items of version")) li.item', 'baseline');
  await visit(page, 'workloads', 'table.grid tbody tr', 'workloads');
  await visit(page, 'audit', 'table.grid tbody tr', 'audit');
  await visit(page, 'agents', 'table.grid tbody tr', 'agents');
  const phone = await open(390, 844);
  await phone.goto(`${url}/ui/`);
  await phone.fill('#token', token);
  await phone.click('form.signin button[type=submit]');
  await phone.waitForSelector('h1:text("Overview")');
  await visit(phone, 'deviations', 'table.grid tbody tr[data-id]', 'mobile');
  t.same(problems, [], 'no page errors');

  for (const { name } of PAGES) {
    const size = statSync(join(dir, `${name}.png`)).size;
    t.ok(size > 5_000 && size <= MAX_BYTES, `${name}.png: ${Math.round(size / 1024)} KiB`);
  }
  const table = screenshotTable(PAGES);
  if (UPDATE) {
    // Pictures of pages no longer shot go; the README's table is rewritten in place.
    for (const f of readdirSync(dir)) if (f.endsWith('.png') && !PAGES.some((p) => `${p.name}.png` === f)) rmSync(join(dir, f));
    const text = readFileSync(README, 'utf8');
    const old = readmeTable(text);
    if (old === null) throw new Error(`README.md has no ${START} … ${END} block to rewrite`);
    writeFileSync(README, text.replace(old, table));
  } else {
    t.equal(readmeTable(readFileSync(README, 'utf8')), table, 'the README shows exactly these pages (npm run screenshots rewrites it)');
    const checkedIn = readdirSync(packagePath(SHOTS)).filter((f) => f.endsWith('.png')).sort();
    t.same(checkedIn, PAGES.map((p) => `${p.name}.png`).sort(), `${SHOTS}/ holds exactly these pages`);
  }
  t.equal(await demo.stop('SIGTERM'), 0);
});
