/**
 * A baseline as people read it, in headless Chromium: each item as a sentence (what runs, who it
 * talks to, on which port), badges for start-up only, where it came from and what is new in this
 * version, and "partial" explained where it is shown. Item keys stay beside the sentences.
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM, signIn } from '../helpers/browser.js';
import { HOUR, net, proc, startHarness, T0, workload } from '../helpers/api-harness.js';


t.test('baseline items read as sentences with their badges; partial is explained', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t, { overrides: { 'collector.learning.startupGrace': '2m' } });
  const web = workload('shop', 'web');
  const old = workload('shop', 'legacy');
  // web's container starts during learning: its entrypoint shell runs only at start-up.
  const started = { containerStart: T0 };
  await h.ingest(
    { ...proc(web, T0 + 1000, '/bin/sh', '-c /docker-entrypoint.sh'), ...started },
    { ...proc(web, T0 + 10 * 60_000, '/usr/sbin/nginx', '-g daemon off;'), ...started },
    { ...net(web, T0 + 11 * 60_000, 'egress', '10.96.0.10', 53), ...started },
    { ...net(web, T0 + 12 * 60_000, 'listen', null, 8080), ...started },
    { ...net(web, T0 + 13 * 60_000, 'egress', '203.0.113.10', 443, { peerName: 'api.example.com' }), ...started },
    // legacy was running before driftwatch: its start-up was never seen.
    { ...proc(old, T0 + 1000, '/usr/local/bin/legacy'), preexisting: true },
  );
  await h.endLearning();
  const d = await h.raise({ ...proc(web, T0 + 3 * HOUR, '/usr/bin/curl', '-s http://localhost:8080/healthz'), ...started });
  await h.call('POST', `/api/v1/deviations/${d.id}/add-to-baseline`, { body: { comment: 'the health check of release 42' } });

  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await signIn(page, `${h.base}/ui/baselines/${await h.baselineOf(web)}`, h.tokens.viewer);
  const items = page.locator('section:has(h2:text-matches("Items of version")) li.item');
  await items.first().waitFor();
  const rows = await items.allTextContents();
  const row = (key: string): string => rows.find((r) => r.includes(key)) ?? '';
  t.match(row('p|/bin/sh'), /runs \/bin\/sh with arguments like “.+”/, 'a process with its argument patterns');
  t.match(row('p|/bin/sh'), 'start-up only', 'the start-up-only flag is visible');
  t.notMatch(row('p|/usr/sbin/nginx'), 'start-up only');
  t.match(row('n|egress|udp|53') || row('n|egress|tcp|53'), /connects out to Service 10\.96\.0\.10 on (tcp|udp)\/53/);
  t.match(row('n|listen|tcp|8080'), 'listens on tcp/8080');
  t.match(row('203.0.113.10'), 'connects out to external 203.0.113.10 (api.example.com) on tcp/443', 'the peer by address and name');
  t.match(row('p|/usr/bin/curl'), 'new in v2', 'what this version added');
  t.match(row('p|/usr/bin/curl'), 'added by a person', 'and where it came from');
  t.match(row('p|/usr/sbin/nginx'), 'learned');
  t.match(await page.locator('dl.facts').textContent(), 'full: learned from containers that started while driftwatch watched');

  await page.goto(`${h.base}/ui/baselines/${await h.baselineOf(old)}`);
  await page.waitForSelector('dl.facts dt:text("Completeness")');
  t.match(await page.locator('dl.facts').textContent(), /partial: the containers were already running when learning began/, '"partial" is explained in place');
});
