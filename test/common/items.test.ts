import t from 'tap';
import { ItemDeriver } from '../../common/items/derive.js';
import { cidrContains, generalisationPrefix, parseCidr, parseIpv6 } from '../../common/cidr.js';
import { generaliseArgs } from '../../common/items/args.js';
import { compileGlob } from '../../common/glob.js';
import { parseNetworkKey, processKey } from '../../common/items/keys.js';
import { T0, exec, net } from '../helpers/detection.js';

const scope = { podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'], serviceCidrs: ['10.96.0.0/12'], nodeCidrs: ['192.168.10.0/24'] };

t.test('arguments: numbers, hashes, UUIDs, timestamps and temp files become wildcards', async (t) => {
  const cases: [string, string][] = [
    ['--port=8080 --workers 4', '--port=* --workers *'],
    ['--since=2026-11-30T08:05:00Z --date 2026-11-30', '--since=* --date *'],
    ['--request-id 3f2504e0-4f89-11d3-9a0c-0305e82c3301', '--request-id *'],
    ['verify sha256:2d194184b067db3598771b4cf326cfe6ad5051937ba1132b8b7d4b0184e0d0a6', 'verify sha256:*'],
    ['--out=/tmp/report-3f9a1c2e.csv', '--out=/tmp/*'],
    ['/var/tmp/tmp.Xk29aQ1 /dev/shm/sem.abc', '/var/tmp/* /dev/shm/*'],
    ['-g daemon off;', '-g daemon off;'],
    ['', ''],
  ];
  for (const [input, pattern] of cases) t.equal(generaliseArgs(input), pattern, input);
  t.equal(generaliseArgs('--id 17'), generaliseArgs('--id 4242'), 'another run, the same pattern');
  t.ok(generaliseArgs('x'.repeat(2000)).length <= 513, 'bounded');
  t.ok(compileGlob(generaliseArgs('--port=8080')).test('--port=9090'), 'the pattern matches the next run');
});

t.test('globs', async (t) => {
  t.ok(compileGlob('/bin/*sh').test('/bin/bash'));
  t.ok(compileGlob('/usr/bin/apt*').test('/usr/bin/apt-get'));
  t.notOk(compileGlob('/usr/sbin/nginx').test('/usr/sbin/nginx2'));
  t.ok(compileGlob('a.b?').test('a.bc'));
  t.notOk(compileGlob('a.b').test('axb'), 'dots are literal');
  t.ok(compileGlob('*169.254.169.254*').test('-s http://169.254.169.254/latest/meta-data'));
  t.ok(compileGlob('-c *').test('-c echo\nid'), '* spans newlines');
  t.ok(compileGlob('**').test(''), 'a star matches the empty string');
  t.notOk(compileGlob('?').test(''));
  t.notOk(compileGlob('a*b').test('a'));
  t.ok(compileGlob('a*b*').test('aXbYb'));
  t.ok(compileGlob('(x|y)+[z]').test('(x|y)+[z]'), 'RegExp syntax is literal');
});

t.test('globs match exactly what an anchored RegExp of them matches', async (t) => {
  // Oracle: `*` = [\s\S]*, `?` = [\s\S], the rest literal, on short strings (no blow-up there).
  const oracle = (glob: string): RegExp =>
    new RegExp(`^${[...glob].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('')}$`);
  const alphabet = ['a', 'b', '*', '?', '.'];
  let seed = 7;
  const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  const word = (len: number, chars: string[]): string => Array.from({ length: len }, () => chars[next(chars.length)]).join('');
  let mismatches = 0;
  for (let i = 0; i < 3000; i++) {
    const glob = word(next(7), alphabet);
    const text = word(next(9), ['a', 'b', '.', '\n']);
    if (compileGlob(glob).test(text) !== oracle(glob).test(text)) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('glob matching is linear, not backtracking (ReDoS)', { timeout: 5000 }, async (t) => {
  // As a RegExp, `^.*a.*a….*b$` against a run of `a`s without the final `b` backtracks
  // exponentially in the number of stars: 6 stars and 60 characters took 5 s; this never finishes.
  const glob = '*a'.repeat(30) + '*b';
  const text = 'a'.repeat(10_000);
  t.notOk(compileGlob(glob).test(text));
  t.ok(compileGlob(glob).test(text + 'b'));
  t.notOk(compileGlob('*' + '?'.repeat(40) + 'b').test(text));
});

t.test('addresses and ranges', async (t) => {
  t.equal(parseCidr('10.1.2.3/8')!.text, '10.0.0.0/8');
  t.equal(parseCidr('2001:db8::1/48')!.text, '2001:db8::/48');
  t.equal(parseCidr('::ffff:10.1.2.3')!.text, '10.1.2.3/32', 'IPv4-mapped IPv6 is IPv4');
  t.equal(parseCidr('10.0.0.0/33'), null);
  t.equal(parseCidr('nope'), null);
  t.equal(parseIpv6('::ffff:1.2.3.4'), (0xffffn << 32n) | 0x01020304n);
  t.ok(cidrContains(parseCidr('fd00:10:244::/56')!, 'fd00:10:244:12::7'));
  t.notOk(cidrContains(parseCidr('10.244.0.0/16')!, '10.245.0.1'));
  t.equal(generalisationPrefix('203.0.113.77'), '203.0.113.0/24');
  t.equal(generalisationPrefix('2001:db8:1:2::5'), '2001:db8:1::/48');
});

t.test('process items: the executable path is the key', async (t) => {
  const d = new ItemDeriver(scope);
  const item = d.derive(exec('/usr/bin/python3', { time: T0, args: 'run.py --n 5' }));
  t.same(item, { kind: 'process', key: 'p|/usr/bin/python3', exe: '/usr/bin/python3', argsPattern: 'run.py --n *' });
  t.equal(processKey('/odd|name'), 'p|/odd%7Cname', 'the separator is escaped');
});

t.test('network items: stable peer identity, server-side port', async (t) => {
  const d = new ItemDeriver(scope, { workloadOf: (ip) => (ip === '10.244.3.3' ? 'monitoring/Deployment/prometheus' : null), serviceOf: (ip) => (ip === '10.96.0.10' ? 'kube-system/kube-dns' : null) });
  const key = (o: Parameters<ItemDeriver['derive']>[0]): string => d.derive(o).key;
  t.equal(key(net('egress', { time: T0, peer: '10.96.12.40', port: 8080, localPort: 41234 })), 'n|egress|tcp|8080|ip|10.96.12.40', 'a Service ClusterIP exactly; the ephemeral local port is not part of it');
  t.equal(key(net('ingress', { time: T0, peer: '10.244.2.9', port: 80, localPort: 80 })), 'n|ingress|tcp|80|class|pod-cidr', 'an unresolved pod is its range class; ingress uses the local port');
  t.equal(key(net('ingress', { time: T0, peer: '10.244.3.3', port: 80 })), 'n|ingress|tcp|80|wl|monitoring/Deployment/prometheus', 'a resolved pod is its workload');
  t.equal(key(net('egress', { time: T0, peer: '192.168.10.4', port: 10250 })), 'n|egress|tcp|10250|class|node-cidr');
  t.equal(key(net('egress', { time: T0, peer: '127.0.0.1', port: 5432 })), 'n|egress|tcp|5432|lo');
  t.equal(key(net('egress', { time: T0, peer: '::1', port: 5432 })), 'n|egress|tcp|5432|lo');
  t.equal(key(net('egress', { time: T0, peer: '203.0.113.9', port: 443 })), 'n|egress|tcp|443|ip|203.0.113.9');
  t.equal(key(net('egress', { time: T0, peer: '::ffff:203.0.113.9', port: 443 })), 'n|egress|tcp|443|ip|203.0.113.9', 'IPv4-mapped peer');
  t.equal(key(net('listen', { time: T0, port: 8080 })), 'n|listen|tcp|8080|-');
  t.equal(key(net('egress', { time: T0, peer: 'fd00:10:244::5', port: 9090, protocol: 'udp' })), 'n|egress|udp|9090|class|pod-cidr');
  const svc = d.derive(net('egress', { time: T0, peer: '10.96.0.10', port: 53 }));
  t.same(svc.kind === 'network' && svc.peer, { class: 'service', ip: '10.96.0.10', name: 'kube-system/kube-dns' });

  const ext = d.derive(net('egress', { time: T0, peer: '203.0.113.9', port: 443 }));
  t.same(d.candidateKeys(ext), ['n|egress|tcp|443|ip|203.0.113.9', 'n|egress|tcp|443|net|203.0.113.0/24'], 'an external address is also allowed by its learned prefix');
  const wl = d.derive(net('ingress', { time: T0, peer: '10.244.3.3', port: 80 }));
  t.same(d.candidateKeys(wl), ['n|ingress|tcp|80|wl|monitoring/Deployment/prometheus', 'n|ingress|tcp|80|class|pod-cidr']);
});

t.test('edge keys: classes become the configured ranges; resolved workloads stay central', async (t) => {
  const d = new ItemDeriver(scope);
  t.same(d.edgeKeys('n|ingress|tcp|80|class|pod-cidr'), ['n|ingress|tcp|80|net|10.244.0.0/16', 'n|ingress|tcp|80|net|fd00:10:244::/56']);
  t.same(d.edgeKeys('n|egress|tcp|443|ip|1.2.3.4'), ['n|egress|tcp|443|ip|1.2.3.4']);
  t.same(d.edgeKeys('p|/bin/x'), ['p|/bin/x']);
  t.equal(d.edgeKeys('n|egress|tcp|80|wl|a/Deployment/b'), null);
  t.same(parseNetworkKey('n|listen|tcp|*|-'), { direction: 'listen', protocol: 'tcp', port: null, peer: '-' });
  t.equal(parseNetworkKey('n|sideways|tcp|1|-'), null);
});
