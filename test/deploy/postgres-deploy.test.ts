/**
 * PostgreSQL mode (components/postgres, docs/postgres.md) as `kubectl kustomize` renders its two
 * examples: CloudNativePG in the driftwatch namespace, and an external database.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { parseHostPort } from '../../common/net.js';
import { packagePath } from '../../common/paths.js';
import { cnpgClusterProblems } from '../helpers/vendored-crd.js';
import { NetworkPolicyEvaluator, type Endpoint, type NetworkPolicyDoc } from '../helpers/network-policy-evaluator.js';
import { render, type K8sObject } from './kustomize.js';
import { DEPLOY_ROOT, container, effectiveConfig, mountFor, mustFind, podLabelsOf, podSpecOf, volumeOf } from './manifests.js';
import { selects } from './hardening.js';

const NS = 'driftwatch';
const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);
const rbacOf = (objects: readonly K8sObject[]): K8sObject[] => objects.filter((o) => RBAC_KINDS.has(o.kind));

/** The same install on SQLite: what PostgreSQL mode is compared with. */
const sqlite = render(join(DEPLOY_ROOT, 'overlays', 'tetragon'));

interface Example {
  overlay: string;
  /** The Secret behind collector.store.passwordFile. */
  passwordSecret: string;
  /** Where the database is, as the NetworkPolicy evaluator sees it. */
  database(objects: readonly K8sObject[]): Endpoint;
}

const EXAMPLES: Example[] = [
  {
    overlay: 'overlays/postgres-cnpg',
    passwordSecret: 'driftwatch-db-app',
    database: (objects) => {
      const cluster = mustFind(objects, 'Cluster', 'driftwatch-db');
      const inherited = (cluster['spec'] as { inheritedMetadata?: { labels?: Record<string, string> } }).inheritedMetadata?.labels ?? {};
      // CloudNativePG labels its instance pods with cnpg.io/cluster and the inherited labels.
      return { kind: 'pod', namespace: NS, ip: '10.244.3.7', labels: { ...inherited, 'cnpg.io/cluster': cluster.metadata.name, 'cnpg.io/instanceRole': 'primary' } };
    },
  },
  {
    overlay: 'overlays/postgres-external',
    passwordSecret: 'driftwatch-postgres',
    database: () => ({ kind: 'external', ip: '192.0.2.10' }),
  },
];

for (const example of EXAMPLES) {
  t.test(example.overlay, async (t) => {
    const objects = render(join(DEPLOY_ROOT, example.overlay));
    const deployment = mustFind(objects, 'Deployment', 'driftwatch-collector');
    const spec = (deployment as unknown as V1Deployment).spec!;
    const pod = podSpecOf(deployment)!;
    const collectorLabels = podLabelsOf(deployment);
    const c = container(deployment, 'collector');
    const config = effectiveConfig(deployment, 'collector', objects, t.testdir()).collector;

    t.test('three replicas that roll, spread over nodes, under a disruption budget', async (t) => {
      t.equal(spec.replicas, 3);
      t.same(spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } }, 'rolling updates, one replica at a time');
      const preferred = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      t.equal(preferred.length, 1, 'one preferred anti-affinity term');
      t.equal(preferred[0]?.podAffinityTerm.topologyKey, 'kubernetes.io/hostname', 'across nodes');
      t.ok(selects(preferred[0]?.podAffinityTerm.labelSelector, collectorLabels), 'against the other collector pods');
      t.notOk(pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, 'preferred only: small clusters still run every replica');
      const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget') as unknown as V1PodDisruptionBudget[];
      t.equal(pdbs.length, 1);
      const pdb = pdbs[0]!.spec!;
      t.ok(selects(pdb.selector, collectorLabels), 'the budget covers the collector pods');
      t.equal(pdb.maxUnavailable, 1, 'one voluntary disruption at a time');
      t.equal(pdb.minAvailable, undefined);
      t.ok(spec.replicas! - Number(pdb.maxUnavailable) >= 2, 'two replicas keep serving during a drain');
      t.equal(pdb.unhealthyPodEvictionPolicy, 'AlwaysAllow', 'replicas not ready (database away) do not block a drain');
      t.equal(c.readinessProbe?.httpGet?.path, '/readyz', 'readiness is /readyz (it reports the store)');
    });

    t.test('the store is PostgreSQL: no SQLite volume, the password only as a Secret file', async (t) => {
      t.equal(config.store.kind, 'postgres');
      t.notOk(objects.some((o) => o.kind === 'PersistentVolumeClaim'), 'no PersistentVolumeClaim');
      t.notOk(pod.volumes?.some((v) => v.persistentVolumeClaim), 'no claim mounted');
      t.notOk(mountFor(c, config.dataDir), 'nothing mounted at dataDir');
      const url = new URL(config.store.url!);
      t.equal(url.password, '', 'no password in the url');
      t.equal(url.searchParams.get('sslmode'), 'verify-full', 'the server certificate is verified');
      const mount = mountFor(c, config.store.passwordFile!);
      const volume = mount && volumeOf(pod, mount.name);
      t.equal(volume?.secret?.secretName, example.passwordSecret, `passwordFile is the Secret ${example.passwordSecret}`);
      t.same(volume?.secret?.items, [{ key: 'password', path: 'password' }], 'only its key password, at the configured file');
      t.equal(config.store.passwordFile, `${mount?.mountPath}/password`);
      t.equal(mount?.readOnly, true);
      t.notOk(objects.some((o) => o.kind === 'Secret' && o.metadata.name === example.passwordSecret), 'the password is not in the manifests');
      for (const e of c.env ?? []) {
        t.notOk(e.valueFrom?.secretKeyRef, `env ${e.name} is not from a Secret`);
        t.notOk(/PASSWORD(?!_FILE)/.test(e.name), `env ${e.name} carries no password`);
      }
    });

    t.test('RBAC is the SQLite install\'s: nothing more for PostgreSQL mode', async (t) => {
      t.same(rbacOf(objects), rbacOf(sqlite));
    });

    t.test('agents reach the replicas through one ClusterIP Service', async (t) => {
      const agentObj = mustFind(objects, 'DaemonSet', 'driftwatch-agent');
      const agent = effectiveConfig(agentObj, 'agent', objects, t.testdir()).agent;
      const service = mustFind(objects, 'Service', 'driftwatch-collector-grpc');
      const svc = service['spec'] as { clusterIP?: string; selector: Record<string, string> };
      t.equal(parseHostPort(agent.collector.address).host, `${service.metadata.name}.${NS}.svc`);
      t.equal(agent.collector.addresses, undefined, 'one address: the Service spreads connections and fails over');
      t.not(svc.clusterIP, 'None', 'not headless: one virtual IP in front of every ready replica');
      t.ok(selects({ matchLabels: svc.selector }, collectorLabels), 'the Service selects every collector replica');
    });

    t.test('the collector reaches PostgreSQL on the database only', async (t) => {
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy') as unknown as NetworkPolicyDoc[];
      const np = new NetworkPolicyEvaluator(policies, { [NS]: {}, 'kube-system': {}, other: {} });
      const collector: Endpoint = { kind: 'pod', namespace: NS, ip: '10.244.1.5', labels: collectorLabels };
      const agent: Endpoint = { kind: 'pod', namespace: NS, ip: '10.244.2.6', labels: podLabelsOf(mustFind(objects, 'DaemonSet', 'driftwatch-agent')) };
      const database = example.database(objects);
      const port = Number(new URL(config.store.url!).port);
      t.equal(port, 5432);
      t.equal(np.evaluate({ from: collector, to: database, protocol: 'TCP', port }).allowed, true, 'collector → database:5432');
      t.equal(np.evaluate({ from: agent, to: database, protocol: 'TCP', port }).allowed, false, 'agent → database denied');
      t.equal(np.evaluate({ from: collector, to: database, protocol: 'TCP', port: 22 }).allowed, false, 'collector → database: other ports denied');
      const elsewhere: Endpoint[] = [
        { kind: 'external', ip: '203.0.113.9' },
        { kind: 'pod', namespace: 'other', ip: '10.244.4.8', labels: { 'driftwatch.io/database': 'true', 'cnpg.io/cluster': 'driftwatch-db' } },
        { kind: 'pod', namespace: NS, ip: '10.244.4.9', labels: { 'app.kubernetes.io/name': 'something-else' } },
      ];
      for (const to of elsewhere) t.equal(np.evaluate({ from: collector, to, protocol: 'TCP', port }).allowed, false, `collector → ${to.ip}:${port} (not the database) denied`);
    });
  });
}

t.test('the CloudNativePG Cluster is valid against the operator\'s CRD and is what the collector uses', async (t) => {
  const objects = render(join(DEPLOY_ROOT, 'overlays', 'postgres-cnpg'));
  const cluster = mustFind(objects, 'Cluster', 'driftwatch-db');
  t.same(cnpgClusterProblems(cluster), [], 'accepted by postgresql.cnpg.io_clusters.yaml v1');
  const deployment = mustFind(objects, 'Deployment', 'driftwatch-collector');
  const config = effectiveConfig(deployment, 'collector', objects, t.testdir()).collector;
  const url = new URL(config.store.url!);
  const initdb = (cluster['spec'] as { bootstrap: { initdb: { database: string; owner: string; localeCollate?: string } } }).bootstrap.initdb;
  t.equal(url.hostname, `${cluster.metadata.name}-rw.${NS}.svc`, 'the <name>-rw Service (the primary)');
  t.equal(decodeURIComponent(url.username), initdb.owner, 'as the database owner, whose password is the <name>-app Secret');
  t.equal(url.pathname, `/${initdb.database}`);
  t.equal(initdb.localeCollate, 'C', 'byte order, as SQLite sorts (docs/postgres.md)');
  const caMount = mountFor(container(deployment, 'collector'), (container(deployment, 'collector').env ?? []).find((e) => e.name === 'NODE_EXTRA_CA_CERTS')!.value!);
  const ca = caMount && volumeOf(podSpecOf(deployment)!, caMount.name)?.secret;
  t.equal(ca?.secretName, `${cluster.metadata.name}-ca`, 'the server certificate is verified against the cluster CA');
  t.same(ca?.items, [{ key: 'ca.crt', path: 'ca.crt' }], 'never the CA key');

  // The check bites: a wrong type and a misspelt field are refused.
  const broken = structuredClone(cluster) as K8sObject & { spec: Record<string, unknown> };
  broken.spec['instances'] = 'three';
  broken.spec['storge'] = { size: '1Gi' };
  const problems = cnpgClusterProblems(broken);
  t.ok(problems.some((p) => p.startsWith('/spec/instances')), 'instances must be an integer');
  t.ok(problems.some((p) => p === '/spec/storge: unknown field'), 'unknown field');
});

t.test('docs/postgres.md installs exactly the examples tested here', async (t) => {
  const doc = readFileSync(packagePath('docs', 'postgres.md'), 'utf8');
  const applied = [...doc.matchAll(/^kubectl apply -k deploy\/daemonset\/(\S+)/gm)].map((m) => m[1]!);
  t.same(applied.sort(), EXAMPLES.map((e) => e.overlay).sort());
});
