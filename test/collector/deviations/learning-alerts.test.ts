import t from 'tap';
import { MIN, T0, WEB, deviationList, exec, fixture, itemKeys, net } from '../../helpers/detection.js';

const HOUR = 60 * MIN;
const V2 = 'sha256:' + 'b'.repeat(64);
const RELEARN = { 'collector.learning.imagePolicy': 'relearn' };

t.test('relearn is never silent: the high-risk rules alert during the first learning window', async (t) => {
  const f = await fixture({ overrides: RELEARN });
  t.teardown(() => f.close());
  await f.feed(
    exec('/usr/sbin/nginx', { time: T0 }),
    exec('/usr/bin/apt-get', { time: T0 + MIN, args: 'install -y nmap' }),
    exec('/usr/bin/nmap', { time: T0 + 2 * MIN }),
    exec('/tmp/.x/kworker', { time: T0 + 3 * MIN }),
    net('egress', { time: T0 + 4 * MIN, peer: '169.254.169.254', port: 80 }),
    net('egress', { time: T0 + 5 * MIN, peer: '10.96.0.1', port: 443 }),
    exec('/bin/bash', { time: T0 + 6 * MIN, args: '-i', process: { ancestors: [{ exe: '/usr/sbin/nginx', args: null, pid: 1, execId: null }] } }),
    exec('/usr/bin/find', { time: T0 + 7 * MIN }),
  );
  t.equal((await f.engine.currentBaseline(WEB))!.phase, 'learning');
  t.same(deviationList(f), [
    'network n|egress|tcp|443|ip|10.96.0.1 high open',
    'network n|egress|tcp|80|ip|169.254.169.254 high open',
    'process p|/bin/bash high open',
    'process p|/tmp/.x/kworker high open',
    'process p|/usr/bin/apt-get high open',
    'process p|/usr/bin/nmap high open',
  ]);
  t.same(itemKeys(f), ['p|/usr/bin/find steady', 'p|/usr/sbin/nginx steady'], 'none of them was learned; the rest was');
  await f.feed(exec('/usr/bin/apt-get', { time: T0 + 8 * MIN }));
  t.equal(deviationList(f).length, 6, 'seen again: the same deviation');
});

t.test('after a release under relearn: silent for what the workload did before, alerted for what it never did', async (t) => {
  const f = await fixture({ overrides: RELEARN });
  t.teardown(() => f.close());
  await f.feed(exec('/usr/sbin/nginx', { time: T0 }), net('egress', { time: T0 + MIN, peer: '10.96.0.1', port: 443 }));
  const [api] = f.store.connection.all<{ id: number }>('SELECT id FROM deviations');
  await f.engine.addToBaseline(api!.id, 'alice', 'the ingress controller watches Endpoints');
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
  await f.feed(exec('/usr/sbin/nginx', { time: T0 + 3 * HOUR, digest: V2 }));
  const v2 = (await f.engine.currentBaseline(WEB))!;
  t.same([v2.generation, v2.phase, v2.imageDigest], [2, 'learning', V2], 'a fresh learning generation');
  await f.feed(
    net('egress', { time: T0 + 3 * HOUR + 1, peer: '10.96.0.1', port: 443, digest: V2 }),
    exec('/usr/bin/apt-get', { time: T0 + 3 * HOUR + 2, digest: V2 }),
    net('egress', { time: T0 + 3 * HOUR + 3, peer: '169.254.169.254', port: 80, digest: V2 }),
  );
  const open = f.store.connection.all<{ b: number; k: string; s: string }>("SELECT baseline_id AS b, item_key AS k, status AS s FROM deviations WHERE status = 'open' ORDER BY item_key");
  t.same(open, [
    { b: v2.id, k: 'n|egress|tcp|80|ip|169.254.169.254', s: 'open' },
    { b: v2.id, k: 'p|/usr/bin/apt-get', s: 'open' },
  ], 'the API access it was allowed before is learned again; the package manager and the metadata service alert');
  t.ok(itemKeys(f, v2.id).includes('n|egress|tcp|443|ip|10.96.0.1 steady'));
});
