/**
 * deploy/daemonset/falco/driftwatch-rules.yaml: parses, is self-contained (only its own
 * macros), avoids the deprecated evt.dir, and every rule prints every field the Falco
 * normaliser reads — and the alerts such rules produce normalise as intended.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FALCO_FIELDS, normaliseFalco } from '../../../agent/normalise/falco.js';
import { packagePath } from '../../../common/paths.js';
import { newContext } from '../../helpers/agent-support.js';

interface RuleDoc {
  rule?: string;
  macro?: string;
  condition: string;
  output?: string;
  priority?: string;
  source?: string;
  tags?: string[];
}

const docs = parse(readFileSync(packagePath('deploy', 'daemonset', 'falco', 'driftwatch-rules.yaml'), 'utf8')) as RuleDoc[];
const rules = docs.filter((d) => d.rule);
const macros = docs.filter((d) => d.macro);

t.test('rules file shape', async (t) => {
  t.ok(Array.isArray(docs));
  t.equal(rules.length, 4, 'exec, connect, accept, listen');
  for (const r of rules) {
    t.equal(r.source, 'syscall', `${r.rule}: syscall source`);
    t.ok(r.tags?.includes('driftwatch'), `${r.rule}: tagged`);
    t.notMatch(r.condition, /evt\.dir/, `${r.rule}: no deprecated evt.dir`);
    t.notMatch(r.condition, /\boutbound\b|\binbound\b|\bspawned_process\b|\bcontainer\b(?!\.)/, `${r.rule}: no stock macros`);
  }
  const macroNames = new Set(macros.map((m) => m.macro));
  for (const r of rules) {
    for (const word of r.condition.match(/\bdriftwatch_[a-z_]+/g) ?? []) t.ok(macroNames.has(word), `${r.rule}: macro ${word} defined here`);
  }
});

t.test('every rule prints every field the normaliser reads', async (t) => {
  for (const r of rules) {
    const printed = new Set([...(r.output ?? '').matchAll(/%([a-z0-9_.[\]]+)/g)].map((m) => m[1]));
    for (const f of FALCO_FIELDS) t.ok(printed.has(f), `${r.rule}: prints ${f}`);
    for (const p of printed) t.ok((FALCO_FIELDS as readonly string[]).includes(p!), `${r.rule}: ${p} is read by the normaliser`);
  }
});

t.test('alerts as these rules produce them normalise to the intended observations', async (t) => {
  const base = {
    'proc.exepath': '/usr/bin/curl',
    'proc.exe': 'curl',
    'proc.name': 'curl',
    'proc.args': '-s https://example.com',
    'proc.cmdline': 'curl -s https://example.com',
    'proc.pid': 4242,
    'proc.vpid': 17,
    'proc.ppid': 4200,
    'proc.pexepath': '/bin/sh',
    'proc.pname': 'sh',
    'user.uid': 1000,
    'user.name': 'app',
    'container.id': '0123456789ab',
    'container.name': 'web',
    'container.image.repository': 'ghcr.io/acme/web',
    'container.image.tag': '1.2.3',
    'container.image.digest': 'sha256:abc',
    'k8s.ns.name': 'shop',
    'k8s.pod.name': 'web-5d78c9869d-2xk7p',
    'k8s.pod.labels': 'app:web,pod-template-hash:5d78c9869d',
  };
  const alert = (rule: string, fields: Record<string, unknown>) => ({
    hostname: 'node-a',
    output: 'driftwatch …',
    output_fields: { 'evt.time': 1, ...base, ...fields },
    priority: 'Informational',
    rule,
    source: 'syscall',
    tags: ['driftwatch'],
    time: '2026-01-02T03:04:05.123456789Z',
  });
  const ctx = newContext('falco-http');
  const exec = normaliseFalco(alert(rules[0]!.rule!, { 'evt.type': 'execve', 'fd.name': null, 'fd.l4proto': null, 'fd.sip': null, 'fd.sport': null, 'fd.cip': null, 'fd.cport': null }), ctx);
  t.match(exec, {
    kind: 'process',
    workload: { namespace: 'shop', kind: 'Deployment', name: 'web', container: 'web' },
    image: { name: 'ghcr.io/acme/web:1.2.3', digest: 'sha256:abc' },
    process: { exe: '/usr/bin/curl', args: '-s https://example.com', uid: 1000, user: 'app', parentExe: '/bin/sh', pid: 4242 },
    preexisting: false,
    time: Date.parse('2026-01-02T03:04:05.123Z'),
  });
  const connect = normaliseFalco(
    alert(rules[1]!.rule!, { 'evt.type': 'connect', 'fd.name': '10.0.0.5:40000->93.184.216.34:443', 'fd.l4proto': 'tcp', 'fd.sip': '93.184.216.34', 'fd.sport': 443, 'fd.cip': '10.0.0.5', 'fd.cport': 40000, 'fd.sip.name': 'example.com', 'fd.is_server': false }),
    ctx,
  );
  t.match(connect, { kind: 'network', direction: 'egress', protocol: 'tcp', localIp: '10.0.0.5', localPort: 40000, peerIp: '93.184.216.34', peerPort: 443, peerName: 'example.com', preexisting: false });
  const accept = normaliseFalco(
    alert(rules[2]!.rule!, { 'evt.type': 'accept4', 'fd.name': '10.0.0.9:51000->10.0.0.5:8080', 'fd.l4proto': 'tcp', 'fd.sip': '10.0.0.5', 'fd.sport': 8080, 'fd.cip': '::ffff:10.0.0.9', 'fd.cport': 51000, 'fd.is_server': true }),
    ctx,
  );
  t.match(accept, { kind: 'network', direction: 'ingress', localIp: '10.0.0.5', localPort: 8080, peerIp: '10.0.0.9', peerPort: 51000 });
  // The gRPC rendering of the same alert (all strings, <NA> for unknown) gives the same result.
  const asStrings = (a: ReturnType<typeof alert>) => ({
    ...a,
    output_fields: Object.fromEntries(Object.entries(a.output_fields).map(([k, v]) => [k, v === null ? '<NA>' : String(v)])),
  });
  const grpcCtx = newContext('falco-http');
  const again = normaliseFalco(asStrings(alert(rules[0]!.rule!, { 'evt.type': 'execve', 'fd.name': null })), grpcCtx);
  t.same(again, { ...(exec as object) }, 'typed JSON and all-string gRPC fields agree');
});
