import t from 'tap';
import { SeverityRules } from '../../../collector/deviations/severity.js';
import { ItemDeriver } from '../../../common/items/derive.js';
import type { Ancestor } from '../../../common/model.js';
import { T0, exec, net } from '../../helpers/detection.js';

const scope = { podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'], nodeCidrs: ['192.168.10.0/24'] };
const deriver = new ItemDeriver(scope, { workloadOf: () => null, serviceOf: (ip) => (ip === '10.96.0.1' ? 'default/kubernetes' : null) });
const rules = new SeverityRules({ serviceCidrs: scope.serviceCidrs });

t.test('the documented rule table (docs/detection.md)', async (t) => {
  const p = (exe: string): string => {
    const v = rules.forItem(deriver.derive(exec(exe, { time: T0 })), null);
    return `${v.severity} ${v.reason}`;
  };
  const n = (o: Parameters<ItemDeriver['derive']>[0]): string => {
    const v = rules.forItem(deriver.derive(o), o.process.exe);
    return `${v.severity} ${v.reason}`;
  };
  t.equal(p('/bin/bash'), 'high shell');
  t.equal(p('/bin/busybox'), 'high shell');
  t.equal(p('/usr/bin/apt-get'), 'high package manager');
  t.equal(p('/usr/local/bin/pip3'), 'high package manager');
  t.equal(p('/usr/bin/curl'), 'high network tool');
  t.equal(p('/usr/bin/nc'), 'high network tool');
  t.equal(p('/tmp/x'), 'high binary in a temporary directory');
  t.equal(p('/dev/shm/.a/b'), 'high binary in a temporary directory');
  t.equal(p('/var/tmp/miner'), 'high binary in a temporary directory');
  t.equal(p('/usr/local/bin/python3.12'), 'medium new executable');

  t.equal(n(net('egress', { time: T0, peer: '169.254.169.254', port: 80 })), 'high cloud metadata service');
  t.equal(n(net('egress', { time: T0, peer: 'fd00:ec2::254', port: 80 })), 'high cloud metadata service');
  t.equal(n(net('egress', { time: T0, peer: '10.96.0.1', port: 443 })), 'high Kubernetes API', 'the kubernetes Service');
  t.equal(n(net('egress', { time: T0, peer: '192.168.10.2', port: 6443 })), 'high Kubernetes API', 'an API server directly');
  t.equal(n(net('egress', { time: T0, peer: '203.0.113.5', port: 443, peerName: 'kubernetes.default.svc' })), 'high Kubernetes API');
  t.equal(n(net('listen', { time: T0, port: 4444 })), 'high new listening port');
  t.equal(n(net('egress', { time: T0, peer: '198.51.100.1', port: 4444, exe: '/bin/sh' })), 'high shell with a network connection');
  t.equal(n(net('egress', { time: T0, peer: '198.51.100.1', port: 443 })), 'medium new external egress');
  t.equal(n(net('ingress', { time: T0, peer: '198.51.100.1', port: 22 })), 'medium new external ingress');
  t.equal(n(net('egress', { time: T0, peer: '10.96.5.5', port: 80 })), 'low new in-cluster peer');
  t.equal(n(net('egress', { time: T0, peer: '10.244.5.5', port: 80 })), 'low new in-cluster peer');
  t.equal(n(net('ingress', { time: T0, peer: '10.244.5.5', port: 80 })), 'low new in-cluster client');
  t.equal(n(net('egress', { time: T0, peer: '127.0.0.1', port: 80 })), 'info loopback');
});

t.test('the gaps the learning-time rules need: writable paths, more metadata endpoints', async (t) => {
  const p = (exe: string): string => {
    const v = rules.forItem(deriver.derive(exec(exe, { time: T0 })), null);
    return `${v.severity} ${v.reason}`;
  };
  t.equal(p('/root/.x/agent'), 'high binary from a writable path');
  t.equal(p('/home/app/.local/bin/x'), 'high binary from a writable path');
  t.equal(p('/memfd:payload (deleted)'), 'high binary from a writable path', 'anonymous memory (memfd_create + execveat)');
  t.equal(p('/proc/self/fd/3'), 'high binary from a writable path');
  t.equal(p('/run/user/1000/x'), 'high binary from a writable path');
  t.equal(p('/usr/bin/rundll'), 'medium new executable', 'a prefix of a directory name is not the directory');
  const n = (o: Parameters<ItemDeriver['derive']>[0]): string => rules.forItem(deriver.derive(o), o.process.exe).reason;
  t.equal(n(net('egress', { time: T0, peer: '169.254.170.2', port: 80 })), 'cloud metadata service', 'ECS task metadata');
  t.equal(n(net('egress', { time: T0, peer: '203.0.113.9', port: 80, peerName: 'metadata.google.internal' })), 'cloud metadata service', 'by name');
});

t.test('what still alerts while a baseline learns (docs/detection.md)', async (t) => {
  const w = (o: Parameters<ItemDeriver['derive']>[0]): string => rules.whileLearning(deriver.derive(o), o)?.reason ?? 'learned';
  const app: Ancestor = { exe: '/app/server', args: null, pid: 1, execId: null };
  t.equal(w(exec('/usr/bin/apt-get', { time: T0, args: 'install -y nmap' })), 'package manager');
  t.equal(w(exec('/usr/bin/curl', { time: T0 })), 'network tool');
  t.equal(w(exec('/tmp/x', { time: T0 })), 'binary in a temporary directory');
  t.equal(w(exec('/dev/shm/.k', { time: T0 })), 'binary in a temporary directory');
  t.equal(w(exec('/root/x', { time: T0 })), 'binary from a writable path');
  t.equal(w(net('egress', { time: T0, peer: '169.254.169.254', port: 80 })), 'cloud metadata service');
  t.equal(w(net('egress', { time: T0, peer: '10.96.0.1', port: 443 })), 'Kubernetes API');
  t.equal(w(exec('/bin/bash', { time: T0, args: '-i', process: { ancestors: [app] } })), 'interactive shell in a non-shell workload', 'a reverse shell from the app');
  t.equal(w(exec('/bin/sh', { time: T0, process: { ancestors: [{ ...app, exe: '/bin/sh' }] } })), 'learned', 'a toolbox whose entrypoint is a shell');
  t.equal(w(exec('/bin/bash', { time: T0, args: '-i' })), 'learned', 'the entrypoint itself');
  t.equal(w(exec('/bin/sh', { time: T0, args: '-c /docker-entrypoint.sh', process: { ancestors: [app] } })), 'learned', 'a script, not someone typing');
  t.equal(w(exec('/usr/local/bin/python3.12', { time: T0 })), 'learned');
  t.equal(w(net('egress', { time: T0, peer: '198.51.100.1', port: 443 })), 'learned', 'a new external peer is learned');
  t.equal(w(net('listen', { time: T0, port: 8080 })), 'learned', 'a listening port is learned');
});
