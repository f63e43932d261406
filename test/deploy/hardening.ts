/**
 * driftwatch's manifest hardening rules, as code. Each check returns human-readable violations
 * ("<object>: <rule>") so a failing test lists everything that regressed at once.
 */
import type { V1Container, V1IPBlock, V1LabelSelector, V1NetworkPolicyPort, V1PodSpec, V1PolicyRule, V1SecurityContext } from '@kubernetes/client-node';
import type { K8sObject } from './kustomize.js';
import { WORKLOAD_KINDS, allContainers, podSpecOf } from './manifests.js';

/** Host directories an agent may mount: the Tetragon and Falco socket directories, nothing else. */
export const ALLOWED_HOST_PATHS = new Set(['/var/run/tetragon', '/run/falco-driftwatch']);

export interface HardeningOptions {
  /** `Kind/name` of workloads allowed to run as uid 0 (still without capabilities). */
  rootAllowed?: ReadonlySet<string>;
  /** Image tag the manifests must pin (the package version), unless pinned by digest. */
  imageTag: string;
}

const ref = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

function effective<K extends keyof V1SecurityContext>(c: V1Container, pod: V1PodSpec, key: K): unknown {
  const own = c.securityContext?.[key];
  if (own !== undefined) return own;
  return (pod.securityContext as Record<string, unknown> | undefined)?.[key as string];
}

export function checkWorkloads(objects: readonly K8sObject[], opts: HardeningOptions): string[] {
  const v: string[] = [];
  for (const o of objects) {
    if (!WORKLOAD_KINDS.has(o.kind)) continue;
    const spec = podSpecOf(o);
    const name = ref(o);
    if (!spec) {
      v.push(`${name}: no pod template`);
      continue;
    }
    if (spec.hostNetwork) v.push(`${name}: hostNetwork`);
    if (spec.hostPID) v.push(`${name}: hostPID`);
    if (spec.hostIPC) v.push(`${name}: hostIPC`);
    if (spec.automountServiceAccountToken === undefined) v.push(`${name}: automountServiceAccountToken must be set explicitly`);
    if (spec.securityContext?.seccompProfile?.type !== 'RuntimeDefault') v.push(`${name}: pod seccompProfile must be RuntimeDefault`);
    const rootOk = opts.rootAllowed?.has(name) ?? false;
    if (!rootOk && spec.securityContext?.runAsNonRoot !== true) v.push(`${name}: pod runAsNonRoot must be true`);
    if (!rootOk && (spec.securityContext?.runAsUser === undefined || spec.securityContext.runAsUser === 0)) v.push(`${name}: pod runAsUser must be a non-zero uid`);
    if (spec.securityContext?.sysctls?.length) v.push(`${name}: sysctls`);

    for (const vol of spec.volumes ?? []) {
      if (vol.hostPath) {
        if (!ALLOWED_HOST_PATHS.has(vol.hostPath.path)) v.push(`${name}: hostPath ${vol.hostPath.path} is not an allowed socket directory`);
        if (vol.hostPath.type !== 'Directory' && vol.hostPath.type !== 'Socket') v.push(`${name}: hostPath ${vol.hostPath.path} must have type Directory or Socket`);
        for (const c of allContainers(spec)) {
          for (const m of c.volumeMounts ?? []) if (m.name === vol.name && m.readOnly !== true) v.push(`${name}: container ${c.name} mounts hostPath ${vol.hostPath.path} writable`);
        }
      }
      const secretMode = vol.secret?.defaultMode;
      if (vol.secret && (secretMode === undefined || (secretMode & 0o007) !== 0)) v.push(`${name}: Secret volume ${vol.name} must set defaultMode without access for others`);
    }

    for (const c of allContainers(spec)) {
      const cn = `${name} container ${c.name}`;
      const sc = c.securityContext;
      if (sc?.privileged === true) v.push(`${cn}: privileged`);
      if (sc?.allowPrivilegeEscalation !== false) v.push(`${cn}: allowPrivilegeEscalation must be false`);
      if (sc?.readOnlyRootFilesystem !== true) v.push(`${cn}: readOnlyRootFilesystem must be true`);
      if (!sc?.capabilities?.drop?.includes('ALL')) v.push(`${cn}: capabilities must drop ALL`);
      if (sc?.capabilities?.add?.length) v.push(`${cn}: adds capabilities ${sc.capabilities.add.join(',')}`);
      if (sc?.procMount !== undefined && sc.procMount !== 'Default') v.push(`${cn}: procMount ${sc.procMount}`);
      const seccomp = (effective(c, spec, 'seccompProfile') as { type?: string } | undefined)?.type;
      if (seccomp !== 'RuntimeDefault') v.push(`${cn}: seccompProfile must be RuntimeDefault`);
      if (!rootOk) {
        if (effective(c, spec, 'runAsNonRoot') !== true) v.push(`${cn}: runAsNonRoot must be true`);
        if (effective(c, spec, 'runAsUser') === 0) v.push(`${cn}: runs as uid 0`);
      }
      for (const r of ['cpu', 'memory']) {
        if (!c.resources?.requests?.[r]) v.push(`${cn}: no ${r} request`);
        if (!c.resources?.limits?.[r]) v.push(`${cn}: no ${r} limit`);
      }
      v.push(...checkImage(cn, c.image, opts.imageTag));
      for (const p of c.ports ?? []) if (p.hostPort !== undefined) v.push(`${cn}: hostPort ${p.hostPort}`);
    }
  }
  return v;
}

export function checkImage(where: string, image: string | undefined, tag: string): string[] {
  if (!image) return [`${where}: no image`];
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return [];
  const m = /^(?<repo>(?:[^/]+\/)*[^/:@]+)(?::(?<tag>[\w][\w.-]{0,127}))?$/.exec(image);
  if (!m?.groups?.['tag']) return [`${where}: image ${image} has neither a tag nor a digest`];
  if (m.groups['tag'] === 'latest') return [`${where}: image ${image} uses latest`];
  if (m.groups['tag'] !== tag) return [`${where}: image ${image} is not the package version ${tag} (or a digest)`];
  return [];
}

// ---------------------------------------------------------------- RBAC

const READ_VERBS = new Set(['get', 'list', 'watch']);

const WATCH = ['get', 'list', 'watch'];

/**
 * Expected grants, exactly: `apiGroup/resource` → verbs (read verbs only). Both watch pods; owner
 * lookups (ReplicaSet → Deployment, Job → CronJob) need `get` on one object, never a list.
 */
export const EXPECTED_RBAC: Record<string, Record<string, string[]>> = {
  'ClusterRole/driftwatch-agent': { '/pods': WATCH, 'apps/replicasets': ['get'], 'batch/jobs': ['get'] },
  'ClusterRole/driftwatch-collector': { '/pods': WATCH, '/services': WATCH, 'apps/replicasets': ['get'], 'batch/jobs': ['get'] },
};

/** `group/resource [verbs]`, sorted, for comparing grants. */
function formatGrants(grants: Map<string, Set<string>>): string {
  return [...grants].map(([g, verbs]) => `${g} [${[...verbs].sort().join(' ')}]`).sort().join(', ');
}

export function checkRbac(objects: readonly K8sObject[]): string[] {
  const v: string[] = [];
  for (const o of objects) {
    if (o.kind !== 'ClusterRole' && o.kind !== 'Role') continue;
    const rules = (o['rules'] as V1PolicyRule[] | undefined) ?? [];
    if (o['aggregationRule'] !== undefined) v.push(`${ref(o)}: aggregationRule`);
    const grants = new Map<string, Set<string>>();
    for (const [i, r] of rules.entries()) {
      const where = `${ref(o)} rules[${i}]`;
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const) {
        if ((r[field] ?? []).some((x) => x.includes('*'))) v.push(`${where}: wildcard in ${field}`);
      }
      if (r.nonResourceURLs?.length) v.push(`${where}: nonResourceURLs`);
      for (const verb of r.verbs) if (!READ_VERBS.has(verb)) v.push(`${where}: verb ${verb} (only get/list/watch)`);
      for (const g of r.apiGroups ?? []) {
        for (const res of r.resources ?? []) {
          const verbs = grants.get(`${g}/${res}`) ?? new Set<string>();
          for (const verb of r.verbs) verbs.add(verb);
          grants.set(`${g}/${res}`, verbs);
        }
      }
    }
    const expected = EXPECTED_RBAC[ref(o)];
    if (!expected) v.push(`${ref(o)}: unexpected role (add it to EXPECTED_RBAC with a reason)`);
    else {
      const want = formatGrants(new Map(Object.entries(expected).map(([g, verbs]) => [g, new Set(verbs)])));
      const got = formatGrants(grants);
      if (got !== want) v.push(`${ref(o)}: grants ${got}; expected exactly ${want}`);
    }
  }
  for (const o of objects) {
    if (o.kind !== 'ClusterRoleBinding' && o.kind !== 'RoleBinding') continue;
    const roleRef = o['roleRef'] as { kind: string; name: string };
    if (!objects.some((r) => r.kind === roleRef.kind && r.metadata.name === roleRef.name)) v.push(`${ref(o)}: roleRef ${roleRef.kind}/${roleRef.name} does not exist`);
    for (const s of (o['subjects'] as { kind: string; name: string; namespace?: string }[] | undefined) ?? []) {
      if (s.kind !== 'ServiceAccount') v.push(`${ref(o)}: subject ${s.kind}/${s.name} is not a ServiceAccount`);
      else if (!objects.some((a) => a.kind === 'ServiceAccount' && a.metadata.name === s.name && a.metadata.namespace === s.namespace)) v.push(`${ref(o)}: ServiceAccount ${s.namespace}/${s.name} does not exist`);
    }
  }
  for (const o of objects) {
    if (o.kind === 'ServiceAccount' && o['automountServiceAccountToken'] !== false) v.push(`${ref(o)}: automountServiceAccountToken must be false (pods opt in)`);
  }
  return v;
}

// ---------------------------------------------------------------- NetworkPolicy

export function selects(sel: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, val] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== val) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const val = labels[e.key];
    if (e.operator === 'In' && !(has && e.values!.includes(val!))) return false;
    if (e.operator === 'NotIn' && has && e.values!.includes(val!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function isEmptySelector(sel: V1LabelSelector | undefined): boolean {
  return !sel || (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0);
}

function allowsPort(ports: V1NetworkPolicyPort[] | undefined, port: number, name: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if (p.port === undefined) return true;
    if (p.port === name) return true;
    if (typeof p.port === 'number') return p.endPort !== undefined ? port >= p.port && port <= p.endPort : p.port === port;
    return false;
  });
}

function portSet(ports: V1NetworkPolicyPort[] | undefined): string[] {
  return (ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${String(p.port)}${p.endPort ? `-${p.endPort}` : ''}`).sort();
}

const subsetOf = (xs: string[], allowed: string[]): boolean => xs.length > 0 && xs.every((x) => allowed.includes(x));

export interface NetworkRoles {
  agentLabels: Record<string, string>;
  collectorLabels: Record<string, string>;
}

// NetworkPolicy in its JSON shape (the client-node types rename `from` to `_from`).
interface Peer {
  podSelector?: V1LabelSelector;
  namespaceSelector?: V1LabelSelector;
  ipBlock?: V1IPBlock;
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: V1NetworkPolicyPort[];
}
interface NetworkPolicy extends K8sObject {
  spec?: { podSelector?: V1LabelSelector; policyTypes?: string[]; ingress?: Rule[]; egress?: Rule[] };
}

function isAgentPeer(p: Peer): boolean {
  return !p.namespaceSelector && !p.ipBlock && p.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'agent';
}

/**
 * The namespace's network rules: default deny; only agent pods reach the collector's gRPC port;
 * the UI port has its own rule; agents may leave only towards the collector, DNS and the API
 * server; no ingress rule is open to every source.
 */
export function checkNetworkPolicies(objects: readonly K8sObject[], roles: NetworkRoles): string[] {
  const v: string[] = [];
  const policies = objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
  const defaultDeny = policies.find(
    (p) => isEmptySelector(p.spec?.podSelector) && (p.spec?.policyTypes ?? []).includes('Ingress') && (p.spec?.policyTypes ?? []).includes('Egress') && !(p.spec?.ingress ?? []).length && !(p.spec?.egress ?? []).length,
  );
  if (!defaultDeny) v.push('no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)');

  let grpcRules = 0;
  let uiRules = 0;
  for (const p of policies) {
    const name = `NetworkPolicy/${p.metadata.name}`;
    const selAgent = selects(p.spec?.podSelector, roles.agentLabels);
    const selCollector = selects(p.spec?.podSelector, roles.collectorLabels);
    for (const [i, r] of (p.spec?.ingress ?? []).entries()) {
      const where = `${name} ingress[${i}]`;
      if (!r.from || r.from.length === 0) v.push(`${where}: open to every source`);
      if (selCollector && allowsPort(r.ports, 7443, 'grpc')) {
        grpcRules++;
        if (!r.ports?.length) v.push(`${where}: allows every port of the collector`);
        if (!r.from?.length || !r.from.every(isAgentPeer)) v.push(`${where}: lets non-agent peers reach the collector's gRPC port`);
        if (portSet(r.ports).some((x) => x !== 'TCP/7443' && x !== 'TCP/grpc')) v.push(`${where}: the gRPC rule also opens ${portSet(r.ports).join(',')}`);
      }
      if (selCollector && r.ports?.length && allowsPort(r.ports, 8080, 'http') && !allowsPort(r.ports, 7443, 'grpc')) uiRules++;
    }
    if (selAgent) {
      for (const [i, r] of (p.spec?.egress ?? []).entries()) {
        const where = `${name} egress[${i}]`;
        const to = r.to ?? [];
        const ports = portSet(r.ports);
        const toCollector = to.length > 0 && to.every((peer) => !peer.namespaceSelector && !peer.ipBlock && peer.podSelector?.matchLabels?.['app.kubernetes.io/component'] === 'collector');
        const toDns = to.length > 0 && to.every((peer) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'kube-system' && peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns');
        const toIpBlock = to.length > 0 && to.every((peer) => peer.ipBlock && !peer.podSelector && !peer.namespaceSelector);
        const ok = (toCollector && subsetOf(ports, ['TCP/7443'])) || (toDns && subsetOf(ports, ['UDP/53', 'TCP/53'])) || (toIpBlock && subsetOf(ports, ['TCP/443', 'TCP/6443']));
        if (!ok) v.push(`${where}: agents may only reach the collector (7443), DNS (53) and the API server (443/6443); got to=${JSON.stringify(to)} ports=${ports.join(',') || 'all'}`);
      }
    }
  }
  if (grpcRules === 0) v.push('no NetworkPolicy admits agents to the collector gRPC port 7443');
  if (uiRules === 0) v.push('no separate NetworkPolicy rule for the collector UI port 8080');
  return v;
}


// ---------------------------------------------------------------- Pod Security Standards

const RESTRICTED_VOLUME_TYPES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret']);
const SAFE_SYSCTLS = new Set(['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes']);

/**
 * The Pod Security Standard "restricted" (Kubernetes 1.30 definition), as Pod Security Admission
 * evaluates a pod template: the controls a pod breaks, by name. Empty = admitted.
 */
export function restrictedViolations(spec: V1PodSpec): string[] {
  const v = new Set<string>();
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) v.add('host namespaces');
  for (const vol of spec.volumes ?? []) {
    const type = Object.keys(vol).find((k) => k !== 'name');
    if (vol.hostPath) v.add('hostPath volumes');
    else if (!type || !RESTRICTED_VOLUME_TYPES.has(type)) v.add(`volume type ${String(type)}`);
  }
  for (const s of spec.securityContext?.sysctls ?? []) if (!SAFE_SYSCTLS.has(s.name)) v.add(`sysctl ${s.name}`);
  const podNonRoot = spec.securityContext?.runAsNonRoot;
  if (spec.securityContext?.runAsUser === 0) v.add('runAsUser=0');
  const podSeccomp = spec.securityContext?.seccompProfile?.type;
  for (const c of allContainers(spec)) {
    const sc = c.securityContext;
    if (sc?.privileged) v.add('privileged');
    if (sc?.allowPrivilegeEscalation !== false) v.add('allowPrivilegeEscalation != false');
    if (!sc?.capabilities?.drop?.includes('ALL')) v.add('capabilities not dropping ALL');
    if ((sc?.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) v.add('added capabilities');
    if ((sc?.runAsNonRoot ?? podNonRoot) !== true) v.add('runAsNonRoot != true');
    if (sc?.runAsUser === 0) v.add('runAsUser=0');
    const seccomp = sc?.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') v.add('seccompProfile');
    if ((c.ports ?? []).some((p) => p.hostPort)) v.add('hostPort');
    if (sc?.procMount !== undefined && sc.procMount !== 'Default') v.add('procMount');
  }
  return [...v].sort();
}
