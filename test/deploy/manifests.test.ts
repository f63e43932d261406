/**
 * deploy/daemonset, checked the way a cluster would take it: every kustomization (base,
 * overlays) built with the resolver in ./kustomize.ts, every object validated against the
 * Kubernetes schema offline, the hardening rules enforced, cross-references resolved, and the
 * agent/collector configuration in the ConfigMaps loaded with the real `loadConfig` plus the
 * environment the pod spec gives the container.
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { FalcoHttpSourceConfig } from '../../agent/sources/falco-http.js';
import type { GrpcSourceConfig } from '../../agent/sources/grpc-config.js';
import { parseHostPort } from '../../common/net.js';
import { packagePath } from '../../common/paths.js';
import { checkImage, checkNetworkPolicies, checkRbac, checkWorkloads, restrictedViolations, selects } from './hardening.js';
import { build, findKustomizations, loadYamlDocuments, type BuildResult, type K8sObject } from './kustomize.js';
import { DEPLOY_ROOT, FAKE_NODE, FAKE_SECRET_VALUE, container, effectiveConfig, mountFor, mustFind, podLabelsOf, podSpecOf, unixSocketPath, volumeOf, find } from './manifests.js';
import { isBuiltinKind, unknownFields, validateBuiltin, validateCustomResource } from './schema.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

/** Every kustomization we ship, and what its agent reads. `null`: the base, which has no source. */
const EXPECTED_SOURCES: Record<string, string[] | null> = {
  '.': null,
  'overlays/tetragon': ['tetragon-grpc'],
  'overlays/tetragon-cert-manager': ['tetragon-grpc'],
  'overlays/falco': ['falco-http'],
  'overlays/falco-grpc': ['falco-grpc'],
};

/** Documented exceptions to runAsNonRoot: Falco's legacy gRPC socket is root:root 0755 (agent-falco-grpc.yaml). */
const ROOT_ALLOWED: Record<string, string[]> = { 'overlays/falco-grpc': ['DaemonSet/driftwatch-agent'] };

/** Secrets the manifests mount but do not create: made by cert-manager or by hand (docs/install.md). */
const EXTERNAL_SECRETS = new Set(['driftwatch-agent-tls', 'driftwatch-collector-tls', 'driftwatch-falco-token']);

const AGENT = { kind: 'DaemonSet', name: 'driftwatch-agent', container: 'agent' };
const COLLECTOR = { kind: 'Deployment', name: 'driftwatch-collector', container: 'collector' };

const discovered = findKustomizations(DEPLOY_ROOT);
const rel = (dir: string): string => relative(DEPLOY_ROOT, dir) || '.';

t.test('every kustomization we ship is known to this test, and every component is used', async (t) => {
  t.same(discovered.kustomizations.map(rel).sort(), Object.keys(EXPECTED_SOURCES).sort());
  const builds = discovered.kustomizations.map((d) => build(d));
  for (const c of discovered.components) {
    t.ok(builds.some((b) => b.files.has(join(c, 'kustomization.yaml'))), `component ${rel(c)} is used by a kustomization`);
  }
  // No orphan manifest: every YAML under deploy/daemonset is part of some build, except the
  // Falco-side configuration (falco/), which is applied to Falco, not by kustomize.
  const used = new Set(builds.flatMap((b) => [...b.files]));
  const orphans: string[] = [];
  const visit = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== join(DEPLOY_ROOT, 'falco')) visit(p);
      } else if (/\.ya?ml$/.test(e.name) && !used.has(p)) orphans.push(rel(p));
    }
  };
  visit(DEPLOY_ROOT);
  t.same(orphans, [], 'no YAML file is left out of every kustomization');
});

for (const dir of discovered.kustomizations) {
  const name = rel(dir);
  t.test(`kustomization ${name}`, async (t) => {
    let built: BuildResult;
    try {
      built = build(dir);
    } catch (err) {
      t.fail(`builds: ${(err as Error).message}`);
      return;
    }
    const objects = built.objects;

    t.test('every object is valid against the Kubernetes schema', async (t) => {
      for (const o of objects) {
        const id = `${o.apiVersion} ${o.kind}/${o.metadata.name}`;
        if (isBuiltinKind(o)) {
          t.same(validateBuiltin(o), [], `${id}: kubernetes-models`);
          t.same(unknownFields(o), [], `${id}: no unknown fields`);
        } else {
          t.same(validateCustomResource(o), [], `${id}: custom resource structure`);
        }
        if (o.kind !== 'Namespace' && !['ClusterRole', 'ClusterRoleBinding', 'TracingPolicy'].includes(o.kind)) {
          t.equal(o.metadata.namespace, 'driftwatch', `${id} is in the driftwatch namespace`);
        }
      }
    });

    t.test('hardening rules', async (t) => {
      t.same(checkWorkloads(objects, { imageTag: PACKAGE_VERSION, rootAllowed: new Set(ROOT_ALLOWED[name] ?? []) }), [], 'workloads');
      t.same(checkRbac(objects), [], 'RBAC');
      const agent = mustFind(objects, AGENT.kind, AGENT.name);
      const collector = mustFind(objects, COLLECTOR.kind, COLLECTOR.name);
      t.same(checkNetworkPolicies(objects, { agentLabels: podLabelsOf(agent), collectorLabels: podLabelsOf(collector) }), [], 'NetworkPolicies');

      const collectorDeployment = collector['spec'] as { replicas?: number; strategy?: { type?: string } };
      t.equal(collectorDeployment.replicas, 1, 'one collector (one SQLite writer)');
      t.equal(collectorDeployment.strategy?.type, 'Recreate', 'the old collector stops before the new one opens the store');
      const tolerations = podSpecOf(agent)!.tolerations ?? [];
      t.ok(tolerations.some((x) => x.operator === 'Exists' && x.key === undefined && x.effect === undefined), 'the agent tolerates every taint (runs on every node)');
      for (const s of objects.filter((o) => o.kind === 'Service')) {
        const type = (s['spec'] as { type?: string }).type ?? 'ClusterIP';
        t.equal(type, 'ClusterIP', `Service/${s.metadata.name} is not exposed outside the cluster`);
      }

      // Pod Security Admission: "restricted" unless a hostPath socket forces "privileged".
      const ns = mustFind(objects, 'Namespace', 'driftwatch');
      const usesHostPath = objects.some((o) => (podSpecOf(o)?.volumes ?? []).some((v) => v.hostPath));
      const labels = ns.metadata.labels ?? {};
      t.equal(labels['pod-security.kubernetes.io/enforce'], usesHostPath ? 'privileged' : 'restricted', 'PSA enforce level');
      t.equal(labels['pod-security.kubernetes.io/warn'], 'restricted', 'PSA warn level');
      t.equal(labels['pod-security.kubernetes.io/audit'], 'restricted', 'PSA audit level');
      // And the reason, exactly: what the "restricted" standard would refuse in each workload.
      for (const o of objects.filter((x) => podSpecOf(x))) {
        const expected = [...(usesHostPath && o.kind === 'DaemonSet' ? ['hostPath volumes'] : []), ...((ROOT_ALLOWED[name] ?? []).includes(`${o.kind}/${o.metadata.name}`) ? ['runAsNonRoot != true', 'runAsUser=0'] : [])].sort();
        t.same(restrictedViolations(podSpecOf(o)!), expected, `${o.kind}/${o.metadata.name}: Pod Security "restricted" ${expected.length ? `refuses only: ${expected.join(', ')}` : 'admits it'}`);
      }
    });

    t.test('references resolve', async (t) => {
      const problems: string[] = [];
      const certSecrets = new Set(objects.filter((o) => o.kind === 'Certificate').map((o) => (o['spec'] as { secretName: string }).secretName));
      for (const o of objects) {
        const spec = podSpecOf(o);
        if (!spec) continue;
        const id = `${o.kind}/${o.metadata.name}`;
        if (spec.serviceAccountName && !find(objects, 'ServiceAccount', spec.serviceAccountName)) problems.push(`${id}: ServiceAccount ${spec.serviceAccountName} missing`);
        for (const v of spec.volumes ?? []) {
          if (v.configMap && !find(objects, 'ConfigMap', v.configMap.name!)) problems.push(`${id}: ConfigMap ${v.configMap.name} missing`);
          if (v.persistentVolumeClaim && !find(objects, 'PersistentVolumeClaim', v.persistentVolumeClaim.claimName)) problems.push(`${id}: PVC ${v.persistentVolumeClaim.claimName} missing`);
          if (v.secret && !find(objects, 'Secret', v.secret.secretName!) && !certSecrets.has(v.secret.secretName!) && !EXTERNAL_SECRETS.has(v.secret.secretName!)) problems.push(`${id}: Secret ${v.secret.secretName} is neither shipped nor documented`);
        }
        for (const c of spec.containers) {
          for (const m of c.volumeMounts ?? []) if (!volumeOf(spec, m.name)) problems.push(`${id} ${c.name}: mount of undefined volume ${m.name}`);
          for (const e of c.env ?? []) {
            const s = e.valueFrom?.secretKeyRef?.name;
            if (s && !find(objects, 'Secret', s) && !EXTERNAL_SECRETS.has(s)) problems.push(`${id} ${c.name}: env ${e.name} from undocumented Secret ${s}`);
          }
          for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
            const port = probe?.httpGet?.port;
            if (typeof port === 'string' && !(c.ports ?? []).some((p) => p.name === port)) problems.push(`${id} ${c.name}: probe on unknown port ${port}`);
          }
        }
      }
      for (const s of objects.filter((o) => o.kind === 'Service')) {
        const spec = s['spec'] as { selector?: Record<string, string>; ports: { port: number; targetPort?: string | number }[] };
        const backends = objects.filter((o) => podSpecOf(o) && selects({ matchLabels: spec.selector ?? {} }, podLabelsOf(o)));
        if (backends.length === 0) problems.push(`Service/${s.metadata.name}: selects no workload`);
        for (const p of spec.ports) {
          const ok = backends.some((b) => podSpecOf(b)!.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)));
          if (!ok) problems.push(`Service/${s.metadata.name}: targetPort ${String(p.targetPort)} is no container port of its backends`);
        }
      }
      for (const c of objects.filter((o) => o.kind === 'Certificate')) {
        const ir = (c['spec'] as { issuerRef: { name: string; kind?: string } }).issuerRef;
        if (!find(objects, ir.kind ?? 'Issuer', ir.name)) problems.push(`Certificate/${c.metadata.name}: issuer ${ir.name} missing`);
      }
      for (const i of objects.filter((o) => o.kind === 'Issuer')) {
        const ca = (i['spec'] as { ca?: { secretName: string } }).ca;
        if (ca && !certSecrets.has(ca.secretName)) problems.push(`Issuer/${i.metadata.name}: CA Secret ${ca.secretName} is made by no Certificate`);
      }
      t.same(problems, []);
    });

    t.test('the agent and collector configuration loads and matches the pod specs', async (t) => {
      const tmp = t.testdir();
      const agentObj = mustFind(objects, AGENT.kind, AGENT.name);
      const collectorObj = mustFind(objects, COLLECTOR.kind, COLLECTOR.name);
      const agentC = container(agentObj, AGENT.container);
      const collectorC = container(collectorObj, COLLECTOR.container);
      const agentSpec = podSpecOf(agentObj)!;
      const collectorSpec = podSpecOf(collectorObj)!;

      const agentEnv = agentC.env ?? [];
      t.same(
        agentEnv.find((e) => e.name === 'DRIFTWATCH_AGENT__NODE')?.valueFrom?.fieldRef,
        { fieldPath: 'spec.nodeName' },
        'DRIFTWATCH_AGENT__NODE comes from the downward API spec.nodeName',
      );

      const agent = effectiveConfig(agentObj, AGENT.container, objects, tmp).agent;
      const collectorConfig = effectiveConfig(collectorObj, COLLECTOR.container, objects, tmp);
      const collector = collectorConfig.collector;

      t.equal(agent.node, FAKE_NODE, 'agent.node is the node name');
      const expected = EXPECTED_SOURCES[name];
      t.same(agent.sources.map((s) => s.kind), expected ?? [], expected ? `the agent reads ${expected.join(', ')}` : 'the base has no source');

      // Agent → collector: the Service, the port, and a certificate that names it.
      const target = parseHostPort(agent.collector.address);
      const grpcService = mustFind(objects, 'Service', 'driftwatch-collector-grpc');
      t.equal(target.host, `${grpcService.metadata.name}.${grpcService.metadata.namespace}.svc`, 'agent dials the collector gRPC Service');
      t.equal(target.port, (grpcService['spec'] as { ports: { port: number }[] }).ports[0]!.port, 'on the Service port');
      t.equal(agent.collector.insecure, false, 'agent never falls back to plaintext');
      t.equal(collector.grpc.insecure, false, 'collector never listens in plaintext');
      t.equal(collector.grpc.tls?.requireClientCert, true, 'collector requires agent client certificates (mTLS)');
      const collectorCert = objects.find((o) => o.kind === 'Certificate' && (o['spec'] as { secretName: string }).secretName === 'driftwatch-collector-tls');
      if (collectorCert) t.ok((collectorCert['spec'] as { dnsNames: string[] }).dnsNames.includes(target.host), 'the collector certificate names the address agents dial');

      const tlsMounted = (c: V1Container, spec: V1PodSpec, secret: string, tls: { ca?: string; cert?: string; key?: string } | undefined, who: string): void => {
        for (const [what, file, key] of [['ca', tls?.ca, 'ca.crt'], ['cert', tls?.cert, 'tls.crt'], ['key', tls?.key, 'tls.key']] as const) {
          const m = file ? mountFor(c, file) : undefined;
          t.equal(m && volumeOf(spec, m.name)?.secret?.secretName, secret, `${who} tls.${what} (${file}) is on the ${secret} Secret`);
          t.equal(file?.split('/').pop(), key, `${who} tls.${what} is the Secret key ${key} (cert-manager and the manual procedure both write it)`);
        }
      };
      tlsMounted(agentC, agentSpec, 'driftwatch-agent-tls', agent.collector.tls, 'agent');
      tlsMounted(collectorC, collectorSpec, 'driftwatch-collector-tls', collector.grpc.tls, 'collector');

      const portNamed = (c: V1Container, n: string): number | undefined => c.ports?.find((p) => p.name === n)?.containerPort;
      t.equal(parseHostPort(agent.http.listen).port, portNamed(agentC, 'ops'), 'agent ops listener is the probed container port');
      t.equal(parseHostPort(collector.grpc.listen).port, portNamed(collectorC, 'grpc'), 'collector gRPC listener is container port grpc');
      t.equal(parseHostPort(collector.http.listen).port, portNamed(collectorC, 'http'), 'collector HTTP listener is container port http');
      for (const l of [agent.http.listen, collector.grpc.listen, collector.http.listen]) t.not(parseHostPort(l).host, '127.0.0.1', `${l} is reachable from the pod network`);

      const dataMount = mountFor(collectorC, collector.dataDir);
      t.equal(dataMount?.mountPath, collector.dataDir, 'collector.dataDir is a volume mount');
      t.ok(dataMount && volumeOf(collectorSpec, dataMount.name)?.persistentVolumeClaim, 'collector.dataDir is on the PersistentVolumeClaim');
      const baselinesMount = mountFor(collectorC, collector.baselinesDir);
      t.equal(baselinesMount && volumeOf(collectorSpec, baselinesMount.name)?.configMap?.name, 'driftwatch-baselines', 'collector.baselinesDir is the baselines ConfigMap');

      // Sources: unix sockets are mounted from the same host directory at the same path, so the
      // address in the config is the address Tetragon/Falco listen on.
      const hostPathVolumes = (agentSpec.volumes ?? []).filter((v) => v.hostPath);
      const usedHostPaths = new Set<string>();
      for (const s of agent.sources as (GrpcSourceConfig & FalcoHttpSourceConfig)[]) {
        const socket = unixSocketPath(s.address);
        if (socket) {
          const m = mountFor(agentC, socket);
          const v = m && volumeOf(agentSpec, m.name);
          t.ok(v?.hostPath, `${s.kind}: ${socket} is on a hostPath mount`);
          t.equal(v?.hostPath?.path, m?.mountPath, `${s.kind}: mounted at the host's own path`);
          t.equal(m?.readOnly, true, `${s.kind}: socket directory mounted read-only`);
          if (v?.hostPath) usedHostPaths.add(v.name);
        }
        if (s.kind === 'falco-http') {
          t.equal(s.token, FAKE_SECRET_VALUE, 'falco-http token comes from the Secret (expanded by the kubelet)');
          const listen = parseHostPort(s.listen!);
          t.equal(listen.port, portNamed(agentC, 'falco-http'), 'falco-http listens on container port falco-http');
          const svc = mustFind(objects, 'Service', 'driftwatch-agent-falco');
          const svcSpec = svc['spec'] as { internalTrafficPolicy?: string; publishNotReadyAddresses?: boolean };
          t.equal(svcSpec.internalTrafficPolicy, 'Local', 'Falco reaches the agent of its own node only');
          t.equal(svcSpec.publishNotReadyAddresses, true, 'even while the agent is not ready (collector away): it queues');
        }
      }
      t.same(hostPathVolumes.filter((v) => !usedHostPaths.has(v.name)).map((v) => v.hostPath!.path), [], 'no hostPath is mounted that no source uses');
    });

    if (name.startsWith('overlays/tetragon')) {
      t.test('the TracingPolicy has the TCP hooks the agent reads', async (t) => {
        const tp = mustFind(objects, 'TracingPolicy', 'driftwatch-tcp');
        t.equal(tp.apiVersion, 'cilium.io/v1alpha1');
        t.equal(tp.metadata.namespace, undefined, 'cluster-scoped: no namespace');
        type Arg = { index: number; type: string };
        const kprobes = (tp['spec'] as { kprobes: { call: string; syscall?: boolean; args?: Arg[]; return?: boolean; returnArg?: Arg }[] }).kprobes;
        const byCall = new Map(kprobes.map((k) => [k.call, k]));
        for (const call of ['tcp_connect', 'inet_csk_listen_start']) {
          t.same(byCall.get(call)?.args?.[0], { index: 0, type: 'sock' }, `${call}: args[0] is the sock`);
          t.equal(byCall.get(call)?.syscall, false, `${call}: kernel function, not a syscall`);
        }
        const accept = byCall.get('inet_csk_accept');
        t.equal(accept?.return, true, 'inet_csk_accept is a return probe');
        t.same(accept?.returnArg, { index: 0, type: 'sock' }, 'the accepted socket is the return value');
        t.equal(accept?.syscall, false);
      });
    }
  });
}

t.test('the hardening checks catch what they are meant to catch', async (t) => {
  const bad: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'bad', namespace: 'driftwatch' },
    spec: {
      selector: { matchLabels: { app: 'bad' } },
      template: {
        metadata: { labels: { app: 'bad' } },
        spec: {
          hostNetwork: true,
          hostPID: true,
          hostIPC: true,
          volumes: [
            { name: 'root', hostPath: { path: '/', type: 'DirectoryOrCreate' } },
            { name: 'key', secret: { secretName: 's', defaultMode: 0o644 } },
          ],
          containers: [
            {
              name: 'c',
              image: 'ghcr.io/driftwatch/driftwatch:latest',
              ports: [{ containerPort: 80, hostPort: 80 }],
              securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } },
              volumeMounts: [{ name: 'root', mountPath: '/host' }],
            },
          ],
        },
      },
    },
  };
  const found = checkWorkloads([bad], { imageTag: PACKAGE_VERSION }).join('\n');
  for (const rule of [
    'hostNetwork',
    'hostPID',
    'hostIPC',
    'automountServiceAccountToken must be set',
    'pod seccompProfile must be RuntimeDefault',
    'pod runAsNonRoot must be true',
    'hostPath / is not an allowed socket directory',
    'must have type Directory or Socket',
    'mounts hostPath / writable',
    'Secret volume key must set defaultMode',
    'privileged',
    'allowPrivilegeEscalation must be false',
    'readOnlyRootFilesystem must be true',
    'capabilities must drop ALL',
    'adds capabilities SYS_ADMIN',
    'container c: runAsNonRoot must be true',
    'no cpu request',
    'no memory limit',
    'uses latest',
    'hostPort 80',
  ]) {
    t.match(found, rule, `flags: ${rule}`);
  }
  t.same(checkImage('x', 'ghcr.io/driftwatch/driftwatch', PACKAGE_VERSION).length, 1, 'an untagged image is flagged');
  const typo = structuredClone(bad);
  (podSpecOf(typo)!.containers[0]!.securityContext as Record<string, unknown>)['readOnlyRootFileSystem'] = true;
  t.match(unknownFields(typo).join('\n'), 'securityContext.readOnlyRootFileSystem: unknown field', 'a misspelt field is caught (kubernetes-models alone would accept it)');
  t.same(validateBuiltin(typo), [], 'kubernetes-models does accept the misspelling, hence the second check');
  t.same(checkImage('x', `ghcr.io/driftwatch/driftwatch@sha256:${'a'.repeat(64)}`, PACKAGE_VERSION), [], 'a digest pin is accepted');

  const rbac = checkRbac([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'driftwatch-agent' }, rules: [{ apiGroups: ['*'], resources: ['secrets'], verbs: ['get', 'delete'] }] },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: 'driftwatch' } },
  ]).join('\n');
  for (const rule of ['wildcard in apiGroups', 'verb delete', 'expected exactly /pods', 'automountServiceAccountToken must be false']) t.match(rbac, rule, `flags: ${rule}`);

  const agentLabels = { 'app.kubernetes.io/name': 'driftwatch', 'app.kubernetes.io/component': 'agent' };
  const collectorLabels = { 'app.kubernetes.io/name': 'driftwatch', 'app.kubernetes.io/component': 'collector' };
  const np = checkNetworkPolicies(
    [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'open', namespace: 'driftwatch' },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ ports: [{ port: 7443 }] }], egress: [{}] },
      },
    ],
    { agentLabels, collectorLabels },
  ).join('\n');
  for (const rule of ['no default-deny', 'open to every source', "lets non-agent peers reach the collector's gRPC port", 'agents may only reach', 'no separate NetworkPolicy rule for the collector UI']) t.match(np, rule, `flags: ${rule}`);
});

t.test('the resolver refuses what kustomize would refuse, and what it does not implement', async (t) => {
  const dir = t.testdir({
    'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\npatches:\n  - path: patch.yaml\n',
    'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n',
    'patch.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: w}\n',
    missing: { 'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [nope.yaml]\n' },
    outside: { 'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../cm.yaml]\n' },
    unknown: { 'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator: []\n' },
    json: {
      'kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: x\nresources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: a}\n    patch: |\n      - op: replace\n        path: /data/k\n        value: patched\n      - op: add\n        path: /data/n\n        value: "0440"\n',
      'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n',
    },
  });
  t.throws(() => build(dir), /matches no object/, 'a patch must target an existing object');
  t.throws(() => build(join(dir, 'missing')), /nope\.yaml does not exist/, 'a referenced file must exist');
  t.throws(() => build(join(dir, 'outside')), /outside the kustomization directory/, 'the load restrictor is enforced');
  t.throws(() => build(join(dir, 'unknown')), /unsupported field "configMapGenerator"/, 'unimplemented features are refused');
  const patched = build(join(dir, 'json')).objects[0]!;
  t.same(patched['data'], { k: 'patched', n: '0440' }, 'JSON 6902 replace and add');
  t.equal(patched.metadata.namespace, 'x', 'namespace transformer');
  t.same(loadYamlDocuments(join(dir, 'cm.yaml')).length, 1);
});

t.test('Falco-side configuration', async (t) => {
  const falcoDir = join(DEPLOY_ROOT, 'falco');
  const values = loadYamlDocuments(join(falcoDir, 'values.yaml'))[0] as {
    falco: { json_output: boolean; rule_matching: string; priority: string; http_output: { enabled: boolean; url: string }; rules_files: string[] };
    extra: { env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] };
  };
  t.equal(values.falco.json_output, true, 'json_output: true (else Falco posts plain text)');
  t.equal(values.falco.rule_matching, 'all', 'rule_matching: all (stock rules must not shadow driftwatch rules)');
  t.ok(['debug', 'informational'].includes(values.falco.priority), 'the informational driftwatch rules are not filtered out by priority');
  t.equal(values.falco.http_output.enabled, true);
  t.ok(values.falco.rules_files.includes('/etc/falco/rules.d'), 'custom rules directory is loaded (after the stock rules)');
  const urlVar = /^\$\{(\w+)\}$/.exec(values.falco.http_output.url)?.[1];
  t.ok(urlVar, 'the URL comes from the environment (the token is in a Secret)');
  const env = Object.fromEntries(values.extra.env.map((e) => [e.name, e]));
  t.same(env['DRIFTWATCH_FALCO_TOKEN']?.valueFrom?.secretKeyRef, { name: 'driftwatch-falco-token', key: 'token' }, 'token from the Secret the agent also reads');
  const url = new URL(env[urlVar!]!.value!.replace('$(DRIFTWATCH_FALCO_TOKEN)', FAKE_SECRET_VALUE));
  const falcoBuild = build(join(DEPLOY_ROOT, 'overlays', 'falco')).objects;
  const svc = mustFind(falcoBuild, 'Service', 'driftwatch-agent-falco');
  t.equal(url.hostname, `${svc.metadata.name}.${svc.metadata.namespace}.svc`, 'Falco posts to the node-local agent Service');
  t.equal(Number(url.port), (svc['spec'] as { ports: { port: number }[] }).ports[0]!.port, 'on its port');
  t.ok(url.href.includes(FAKE_SECRET_VALUE), 'with the token');

  // The rules file the values load with --set-file (written with the Falco source).
  const rules = loadYamlDocuments(join(falcoDir, 'driftwatch-rules.yaml'))[0] as { rule?: string; condition?: string; output?: string }[];
  t.ok(Array.isArray(rules) && rules.some((r) => r.rule && r.condition && r.output), 'driftwatch-rules.yaml is a Falco rules file');

  const dropIn = loadYamlDocuments(join(falcoDir, 'falco-driftwatch.yaml'))[0] as {
    json_output: boolean;
    rule_matching: string;
    http_output: { enabled: boolean; url: string };
    syscall_event_drops: { threshold: number; actions: string[] };
    metrics: { enabled: boolean; output_rule: boolean };
  };
  t.equal(dropIn.json_output, true);
  t.same([dropIn.syscall_event_drops.threshold, dropIn.syscall_event_drops.actions.includes('alert')], [0, true], 'every kernel drop is alerted (sensor-loss)');
  t.same([dropIn.metrics.enabled, dropIn.metrics.output_rule], [true, true], 'exact drop counters in metrics snapshots');
  t.equal(dropIn.rule_matching, 'all');
  t.equal(dropIn.http_output.enabled, true);

  const grpc = loadYamlDocuments(join(falcoDir, 'values-grpc.yaml'))[0] as { falco: { grpc: { enabled: boolean; bind_address: string }; grpc_output: { enabled: boolean } } };
  t.equal(grpc.falco.grpc.enabled, true);
  t.equal(grpc.falco.grpc_output.enabled, true);
  const grpcAgent = effectiveConfig(mustFind(build(join(DEPLOY_ROOT, 'overlays', 'falco-grpc')).objects, 'DaemonSet', 'driftwatch-agent'), 'agent', build(join(DEPLOY_ROOT, 'overlays', 'falco-grpc')).objects, t.testdir()).agent;
  t.equal(grpc.falco.grpc.bind_address, (grpcAgent.sources[0] as GrpcSourceConfig).address, 'Falco binds the socket the falco-grpc overlay reads');
});
