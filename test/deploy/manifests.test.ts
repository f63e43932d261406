/**
 * deploy/daemonset, checked the way a cluster would take it: every kustomization (base,
 * overlays) and every overlay combined with every optional component, rendered by the real
 * `kubectl kustomize`; every object validated against the Kubernetes schema offline, the
 * hardening rules enforced, cross-references resolved, and the agent/collector configuration in
 * the ConfigMaps loaded with the real `loadConfig` plus the environment the pod spec gives the
 * container.
 */
import t from 'tap';
import { tracingPolicyProblems } from '../helpers/tetragon-crd.js';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { FalcoHttpSourceConfig } from '../../agent/sources/falco-http.js';
import type { GrpcSourceConfig } from '../../agent/sources/grpc-config.js';
import { parseHostPort } from '../../common/net.js';
import { packagePath } from '../../common/paths.js';
import { checkImage, checkNetworkPolicies, checkRbac, checkWorkloads, restrictedViolations, selects } from './hardening.js';
import { findKustomizations, loadYamlDocuments, referencedPaths, render, renderKustomization, type K8sObject } from './kustomize.js';
import { DEPLOY_ROOT, ROOT_ALLOWED, FAKE_NODE, FAKE_SECRET_VALUE, container, effectiveConfig, mountFor, mustFind, podLabelsOf, podSpecOf, unixSocketPath, volumeOf, find } from './manifests.js';
import { isBuiltinKind, unknownFields, validateBuiltin, validateCustomResource } from './schema.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version;

/** Every kustomization we ship, and what its agent reads. `null`: the base, which has no source. */
const EXPECTED_SOURCES: Record<string, string[] | null> = {
  base: null,
  'overlays/tetragon': ['tetragon-grpc'],
  'overlays/tetragon-cert-manager': ['tetragon-grpc'],
  'overlays/falco': ['falco-http'],
  'overlays/falco-grpc': ['falco-grpc'],
  'overlays/postgres-cnpg': ['tetragon-grpc'],
  'overlays/postgres-external': ['tetragon-grpc'],
};

/** Components users add to an overlay (docs/install.md); the others are internal to overlays. */
const OPTIONAL_COMPONENTS = ['components/cert-manager', 'components/prometheus'];

/**
 * Secrets the manifests mount but do not create: made by cert-manager or by hand (docs/install.md),
 * the database password by hand (driftwatch-postgres) or by CloudNativePG (driftwatch-db-*; docs/postgres.md).
 */
const EXTERNAL_SECRETS = new Set(['driftwatch-agent-tls', 'driftwatch-collector-tls', 'driftwatch-falco-token', 'driftwatch-postgres', 'driftwatch-db-app', 'driftwatch-db-ca']);

/** Kinds that are cluster-scoped or live outside the driftwatch namespace by design. */
const NOT_IN_NAMESPACE = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'TracingPolicy']);

const AGENT = { kind: 'DaemonSet', name: 'driftwatch-agent', container: 'agent' };
const COLLECTOR = { kind: 'Deployment', name: 'driftwatch-collector', container: 'collector' };

const discovered = findKustomizations(DEPLOY_ROOT);
const rel = (path: string): string => relative(DEPLOY_ROOT, path) || '.';

/** Every subset of `items` (the empty one first). */
function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((all, item) => [...all, ...all.map((s) => [...s, item])], [[]]);
}

interface Variant {
  /** e.g. `overlays/falco + components/prometheus`. */
  name: string;
  /** The shipped kustomization it starts from (keys of EXPECTED_SOURCES). */
  kustomization: string;
  render(dir: string): K8sObject[];
}

/** Each shipped kustomization as is, and each overlay with each combination of the optional components it does not already include. */
const variants: Variant[] = discovered.kustomizations.flatMap((dir): Variant[] => {
  const name = rel(dir);
  const own = { name, kustomization: name, render: () => render(dir) };
  if (!name.startsWith('overlays/')) return [own];
  const included = new Set(referencedPaths(dir).map(rel));
  const extra = subsets(OPTIONAL_COMPONENTS.filter((c) => !included.has(c))).filter((s) => s.length > 0);
  return [
    own,
    ...extra.map((components) => ({
      name: `${name} + ${components.join(' + ')}`,
      kustomization: name,
      render: (tmp: string) => renderKustomization(tmp, { resources: [dir], components: components.map((c) => join(DEPLOY_ROOT, c)) }),
    })),
  ];
});

t.test('every kustomization we ship is known to this test, every component is used or offered, no file is left out', async (t) => {
  t.same(discovered.kustomizations.map(rel).sort(), Object.keys(EXPECTED_SOURCES).sort());
  const referenced = new Set([...discovered.kustomizations, ...discovered.components].flatMap(referencedPaths));
  for (const c of discovered.components) {
    t.ok(referenced.has(c) || OPTIONAL_COMPONENTS.includes(rel(c)), `component ${rel(c)} is used by an overlay or offered to users`);
  }
  for (const c of OPTIONAL_COMPONENTS) t.ok(discovered.components.map(rel).includes(c), `${c} exists`);
  // No orphan: every file under deploy/daemonset is named by a kustomization, except the
  // Falco-side configuration (falco/), which is given to Falco's Helm chart, not to kustomize.
  const orphans: string[] = [];
  const visit = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== join(DEPLOY_ROOT, 'falco')) visit(p);
      } else if (e.name !== 'kustomization.yaml' && !referenced.has(p)) orphans.push(rel(p));
    }
  };
  visit(DEPLOY_ROOT);
  t.same(orphans, [], 'no file is left out of every kustomization');
  t.ok(variants.length > discovered.kustomizations.length, `${variants.length} renderings: every overlay alone and with every optional component combination`);
});

for (const variant of variants) {
  const name = variant.kustomization;
  t.test(`kubectl kustomize ${variant.name}`, async (t) => {
    let objects: K8sObject[];
    try {
      objects = variant.render(t.testdir());
    } catch (err) {
      t.fail((err as Error).message);
      return;
    }

    t.test('every object is valid against the Kubernetes schema', async (t) => {
      for (const o of objects) {
        const id = `${o.apiVersion} ${o.kind}/${o.metadata.name}`;
        if (isBuiltinKind(o)) {
          t.same(validateBuiltin(o), [], `${id}: kubernetes-models`);
          t.same(unknownFields(o), [], `${id}: no unknown fields`);
        } else {
          t.same(validateCustomResource(o), [], `${id}: custom resource structure`);
        }
        if (!NOT_IN_NAMESPACE.has(o.kind)) {
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
      if (find(objects, 'PersistentVolumeClaim', 'driftwatch-data')) {
        t.equal(collectorDeployment.replicas, 1, 'one collector (one SQLite writer)');
        t.equal(collectorDeployment.strategy?.type, 'Recreate', 'the old collector stops before the new one opens the store');
      } else {
        // PostgreSQL mode (components/postgres; its own checks in postgres-deploy.test.ts).
        t.equal(collectorDeployment.strategy?.type, 'RollingUpdate', 'no SQLite volume: replicas roll');
      }
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

      if (collector.store.kind === 'sqlite') {
        const dataMount = mountFor(collectorC, collector.dataDir);
        t.equal(dataMount?.mountPath, collector.dataDir, 'collector.dataDir is a volume mount');
        t.ok(dataMount && volumeOf(collectorSpec, dataMount.name)?.persistentVolumeClaim, 'collector.dataDir is on the PersistentVolumeClaim');
      } else {
        const passwordMount = collector.store.passwordFile ? mountFor(collectorC, collector.store.passwordFile) : undefined;
        t.ok(passwordMount && volumeOf(collectorSpec, passwordMount.name)?.secret, 'collector.store.passwordFile is on a Secret volume');
      }
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
        for (const call of ['udp_sendmsg', 'udpv6_sendmsg']) t.same(byCall.get(call)?.args?.[0], { index: 0, type: 'sock' }, `${call}: UDP egress from the sock`);
        for (const call of ['udp_recvmsg', 'udpv6_recvmsg']) {
          const k = byCall.get(call) as unknown as { args: Record<string, unknown>[]; selectors: { matchArgs: Record<string, unknown>[] }[] };
          t.same(k.args[1], { index: 1, type: 'iov_iter', resolve: 'msg_iter', returnCopy: true }, `${call}: the received payload, read at return`);
          t.same(k.selectors[0]!.matchArgs, [{ index: 0, operator: 'DPort', values: ['53'] }], `${call}: DNS answers only`);
        }
        t.same(tracingPolicyProblems(tp), [], "valid against Tetragon's CRD schema");
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

/** Falco priorities, most severe first (falco.yaml `priority`: rules below it are not loaded). */
const FALCO_PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];

interface FalcoConfig {
  rules_files: string[];
  rules?: { enable?: { rule?: string; tag?: string }; disable?: { rule?: string; tag?: string } }[];
  priority: string;
  json_output?: boolean;
  [output: string]: unknown;
}

t.test('the Falco that feeds driftwatch runs driftwatch rules only and outputs to the agent only', async (t) => {
  const falcoDir = join(DEPLOY_ROOT, 'falco');
  const rules = (loadYamlDocuments(join(falcoDir, 'driftwatch-rules.yaml'))[0] as { rule?: string; priority?: string; tags?: string[] }[]).filter((r) => r.rule);
  const rulePriorities = new Set(rules.map((r) => r.priority!.toLowerCase()));
  t.same([...rulePriorities], ['informational'], 'driftwatch rules are informational');

  const values = loadYamlDocuments(join(falcoDir, 'values.yaml'))[0] as { falco: FalcoConfig; falcoctl: { artifact: { follow: { enabled: boolean } }; config: { artifact: { install: { refs: string[] } } } }; extra: { env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] } };
  const grpcValues = loadYamlDocuments(join(falcoDir, 'values-grpc.yaml'))[0] as { falco: FalcoConfig & { grpc: { enabled: boolean; bind_address: string } }; falcoctl: typeof values.falcoctl };
  const standalone = loadYamlDocuments(join(falcoDir, 'falco-driftwatch.yaml'))[0] as FalcoConfig & { config_files: string[]; webserver: { enabled: boolean } };

  const configs: [string, FalcoConfig, 'http_output' | 'grpc_output'][] = [
    ['values.yaml', values.falco, 'http_output'],
    ['values-grpc.yaml', grpcValues.falco, 'grpc_output'],
    ['falco-driftwatch.yaml', standalone, 'http_output'],
  ];
  for (const [file, c, output] of configs) {
    // Rules: only driftwatch's file, and only rules tagged driftwatch among what is loaded.
    t.same(c.rules_files, file === 'falco-driftwatch.yaml' ? ['/etc/falco-driftwatch/driftwatch-rules.yaml'] : ['/etc/falco/rules.d'], `${file}: loads driftwatch's rules file only (no stock rules)`);
    t.same(c.rules, [{ disable: { rule: '*' } }, { enable: { tag: 'driftwatch' } }], `${file}: of the loaded rules, only those tagged driftwatch run`);
    for (const r of rules) t.ok(r.tags?.includes('driftwatch'), `${file}: ${r.rule} is tagged driftwatch, so it stays enabled`);
    // Priority: exactly what the rules need — not lowered to debug.
    t.equal(c.priority, 'informational', `${file}: priority is the rules' own (informational), not lower`);
    t.ok(FALCO_PRIORITIES.indexOf(c.priority) >= Math.max(...[...rulePriorities].map((p) => FALCO_PRIORITIES.indexOf(p))), `${file}: no driftwatch rule is filtered out by priority`);
    // Outputs: the agent and nothing else.
    for (const other of ['stdout_output', 'syslog_output', 'file_output', 'program_output', 'http_output', 'grpc_output']) {
      t.equal((c[other] as { enabled?: boolean } | undefined)?.enabled, other === output, `${file}: ${other} ${other === output ? 'feeds the agent' : 'is off'}`);
    }
  }
  for (const [file, v] of [['values.yaml', values], ['values-grpc.yaml', grpcValues]] as const) {
    t.same(v.falcoctl.config.artifact.install.refs, [], `${file}: falcoctl installs no stock rules`);
    t.equal(v.falcoctl.artifact.follow.enabled, false, `${file}: and follows none`);
  }
  t.same(standalone.config_files, [], 'falco-driftwatch.yaml: merges none of the host Falco\'s config.d');
  t.equal(standalone.webserver.enabled, false, "falco-driftwatch.yaml: leaves port 8765 to the host's own Falco");

  // HTTP: JSON, to the node-local agent Service, with the token from the Secret.
  t.equal(values.falco.json_output, true, 'json_output: true (else Falco posts plain text)');
  const url = (values.falco['http_output'] as { url: string }).url;
  const urlVar = /^\$\{(\w+)\}$/.exec(url)?.[1];
  t.ok(urlVar, 'the URL comes from the environment (the token is in a Secret)');
  t.equal(standalone.json_output, true);
  t.equal((standalone['http_output'] as { url: string }).url, url, 'the standalone configuration reads the same variable');
  const env = Object.fromEntries(values.extra.env.map((e) => [e.name, e]));
  t.same(env['DRIFTWATCH_FALCO_TOKEN']?.valueFrom?.secretKeyRef, { name: 'driftwatch-falco-token', key: 'token' }, 'token from the Secret the agent also reads');
  const target = new URL(env[urlVar!]!.value!.replace('$(DRIFTWATCH_FALCO_TOKEN)', FAKE_SECRET_VALUE));
  const falcoObjects = render(join(DEPLOY_ROOT, 'overlays', 'falco'));
  const svc = mustFind(falcoObjects, 'Service', 'driftwatch-agent-falco');
  t.equal(target.hostname, `${svc.metadata.name}.${svc.metadata.namespace}.svc`, 'Falco posts to the node-local agent Service');
  t.equal(Number(target.port), (svc['spec'] as { ports: { port: number }[] }).ports[0]!.port, 'on its port');
  t.ok(target.href.includes(FAKE_SECRET_VALUE), 'with the token');

  // Only that Falco release may post: the NetworkPolicy names the release the docs install.
  const fromFalco = mustFind(falcoObjects, 'NetworkPolicy', 'driftwatch-agent-from-falco')['spec'] as { ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[] }[] };
  const release = fromFalco.ingress[0]!.from[0]!.podSelector.matchLabels['app.kubernetes.io/instance'];
  t.equal(release, 'falco-driftwatch', 'only the falco-driftwatch release may post to the agents');
  const doc = readFileSync(packagePath('docs', 'install.md'), 'utf8');
  for (const file of ['values.yaml', 'values-grpc.yaml']) {
    t.match(doc, new RegExp(`helm upgrade --install ${release} falcosecurity/falco[^\\n]*\\\\\\n\\s+-f deploy/daemonset/falco/${file.replace('.', '\\.')}`), `docs/install.md installs ${file} as the release ${release}`);
  }

  // Falco's own losses reach driftwatch (sensor-loss): every kernel drop alerted, exact counters.
  for (const [file, c] of configs) {
    const losses = c as unknown as { syscall_event_drops: { threshold: number; actions: string[] }; metrics: { enabled: boolean; output_rule: boolean } };
    t.same([losses.syscall_event_drops.threshold, losses.syscall_event_drops.actions.includes('alert')], [0, true], `${file}: every kernel drop is alerted`);
    t.same([losses.metrics.enabled, losses.metrics.output_rule], [true, true], `${file}: exact drop counters in metrics snapshots`);
  }

  // gRPC: Falco binds the socket the falco-grpc overlay reads.
  t.equal(grpcValues.falco.grpc.enabled, true);
  const grpcObjects = render(join(DEPLOY_ROOT, 'overlays', 'falco-grpc'));
  const grpcAgent = effectiveConfig(mustFind(grpcObjects, 'DaemonSet', 'driftwatch-agent'), 'agent', grpcObjects, t.testdir()).agent;
  t.equal(grpcValues.falco.grpc.bind_address, (grpcAgent.sources[0] as GrpcSourceConfig).address, 'Falco binds the socket the falco-grpc overlay reads');
});
