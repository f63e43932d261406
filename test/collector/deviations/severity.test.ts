import t from 'tap';
import { SeverityRules } from '../../../collector/deviations/severity.js';
import { ItemDeriver } from '../../../common/items/derive.js';
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
