/**
 * `npm start` runs `driftwatch demo`: the recording is replayed through a real agent and collector
 * and the collector keeps serving. A newcomer must find workloads, learned baselines and the
 * recording's deviations through the API.
 */
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startDemo } from '../helpers/demo.js';
import { spawnCli } from '../helpers/processes.js';

// Replaying the recording takes about a minute on a quiet machine, more beside the screenshots
// test (test/ui/screenshots.test.ts, another demo): more than the suite's 120 s.
t.setTimeout(300_000);

t.test('the demo ends with a serving collector that lists workloads, learned baselines and deviations', async (t) => {
  const dir = t.testdir();
  const scratchBefore = readdirSync(tmpdir());
  const { process: demo, url, token, out: printed } = await startDemo(t, dir);
  const out = printed();
  for (const phase of ['[1/4]', '[2/4]', '[3/4]', '[4/4]']) t.ok(out.includes(phase), `progress line ${phase}`);
  const get = async (path: string): Promise<unknown> => {
    const r = await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(r.status, 200, `GET ${path}`);
    return r.json();
  };

  const workloads = (await get('/workloads')) as { items: { workload: { name: string }; baseline?: { phase: string } | null }[] };
  const names = workloads.items.map((w) => w.workload.name).sort();
  t.ok(['web', 'api', 'db', 'report', 'log-agent'].every((n) => names.includes(n)), `the recording's workloads are listed (${names.join(', ')})`);
  t.ok(workloads.items.some((w) => w.baseline?.phase === 'active'), 'learned baselines are enforcing');

  const deviations = (await get('/deviations?limit=100')) as { items: { severity: string; kind: string; summary: string }[] };
  t.ok(deviations.items.length >= 8, `the recording's deviations are raised (${deviations.items.length})`);
  t.ok(deviations.items.some((d) => /169\.254\.169\.254/.test(d.summary)), 'the cloud-metadata access is among them');
  t.ok(deviations.items.some((d) => d.kind === 'interactive-session'), 'the kubectl exec session is among them');

  // The recording was moved to the present: the newest deviation is minutes old, the 24 h chart
  // has them, and the agent that replayed it is still connected.
  const newest = (await get('/deviations?sort=-lastSeen&limit=1')) as { items: { lastSeenMs: number }[] };
  const ageMs = Date.now() - newest.items[0]!.lastSeenMs;
  t.ok(ageMs >= 0 && ageMs < 3_600_000, `the newest deviation was seen minutes ago (${Math.round(ageMs / 60_000)} min)`);
  const overview = (await get('/overview')) as { series: Record<string, number[]>; agents: Record<string, number> };
  const charted = Object.values(overview.series).flat().reduce((a, b) => a + b, 0);
  t.ok(charted >= 8, `the 24 h chart is not empty (${charted} deviations)`);
  const agents = (await get('/agents')) as { items: { node: string; connected: boolean }[] };
  t.ok(agents.items.some((a) => a.node === 'demo-node' && a.connected), 'the demo agent shows connected');
  t.match(out, /event times moved \d+ h forward/, 'the demo says it moved the recording');

  // A token made the way the demo says works against it (same database, not a new ./data).
  const hint = /more tokens: driftwatch (token create --data-dir \S+) --name you --role viewer/.exec(out);
  t.ok(hint, 'the demo says how to create more tokens');
  const create = spawnCli([...hint![1]!.split(' '), '--name', 'e2e-viewer', '--role', 'viewer']);
  let created = '';
  create.child.stdout!.setEncoding('utf8');
  create.child.stdout!.on('data', (c: string) => (created += c));
  t.equal(await new Promise<number | null>((resolve) => create.child.once('exit', resolve)), 0, create.stderr());
  const more = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${created.trim()}` } });
  t.equal(more.status, 200, 'the new token works against the running demo');
  t.match(await more.json(), { name: 'e2e-viewer', role: 'viewer' });

  const unauth = await fetch(`${url}/api/v1/deviations`);
  t.equal(unauth.status, 401, 'the API is not open without a token');
  t.equal(await demo.stop('SIGTERM'), 0, 'Ctrl-C / SIGTERM stops it cleanly');
  const store = /store: ([^)]+)\)/.exec(out)![1]!;
  t.ok(existsSync(store), 'a --data-dir is kept');
  t.same(readdirSync(tmpdir()).filter((f) => f.startsWith(`driftwatch-demo-recording-`) && scratchBefore.indexOf(f) === -1), [], 'the moved recording is removed on exit');
});
