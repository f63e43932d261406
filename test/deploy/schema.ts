/**
 * Offline schema validation of built manifests.
 *
 * - Built-in kinds: `kubernetes-models` 4 (the Kubernetes OpenAPI schema as JSON Schema; types,
 *   required fields, enums, formats). It does not reject unknown fields, so a typo such as
 *   `readOnlyRootFileSystem` would pass it and be silently dropped by the API server; the same
 *   objects are therefore also walked with the field lists of `@kubernetes/client-node` (Kubernetes
 *   1.34 models), which is what `kubectl apply --validate=strict` would refuse.
 * - Prometheus Operator kinds (PodMonitor, ServiceMonitor, PrometheusRule):
 *   `@kubernetes-models/prometheus-operator` (the operator's CRD schemas, same library as above:
 *   types, required fields, patterns), plus an unknown-field check of the parts we write, which
 *   the CRD schemas leave open.
 * - CloudNativePG `Cluster`: the operator's own CRD schema, vendored (test/helpers/vendored-crd.ts).
 * - Other CRD kinds (Tetragon TracingPolicy, cert-manager Issuer/Certificate): their schemas are
 *   not available offline, so their structure is checked here field by field for what we use.
 */
import * as k8s from '@kubernetes/client-node';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { cnpgClusterProblems } from '../helpers/vendored-crd.js';
import type { K8sObject } from './kustomize.js';

interface Validatable {
  validate(): void;
}

const BUILTIN: Record<string, (data: object) => Validatable> = {
  'v1/Namespace': (d) => new Namespace(d as ConstructorParameters<typeof Namespace>[0]),
  'v1/ServiceAccount': (d) => new ServiceAccount(d as ConstructorParameters<typeof ServiceAccount>[0]),
  'v1/ConfigMap': (d) => new ConfigMap(d as ConstructorParameters<typeof ConfigMap>[0]),
  'v1/Secret': (d) => new Secret(d as ConstructorParameters<typeof Secret>[0]),
  'v1/Service': (d) => new Service(d as ConstructorParameters<typeof Service>[0]),
  'v1/PersistentVolumeClaim': (d) => new PersistentVolumeClaim(d as ConstructorParameters<typeof PersistentVolumeClaim>[0]),
  'apps/v1/DaemonSet': (d) => new DaemonSet(d as ConstructorParameters<typeof DaemonSet>[0]),
  'apps/v1/Deployment': (d) => new Deployment(d as ConstructorParameters<typeof Deployment>[0]),
  'rbac.authorization.k8s.io/v1/ClusterRole': (d) => new ClusterRole(d as ConstructorParameters<typeof ClusterRole>[0]),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': (d) => new ClusterRoleBinding(d as ConstructorParameters<typeof ClusterRoleBinding>[0]),
  'rbac.authorization.k8s.io/v1/Role': (d) => new Role(d as ConstructorParameters<typeof Role>[0]),
  'rbac.authorization.k8s.io/v1/RoleBinding': (d) => new RoleBinding(d as ConstructorParameters<typeof RoleBinding>[0]),
  'networking.k8s.io/v1/NetworkPolicy': (d) => new NetworkPolicy(d as ConstructorParameters<typeof NetworkPolicy>[0]),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d as ConstructorParameters<typeof PodDisruptionBudget>[0]),
};

export const CLUSTER_SCOPED_CRDS = new Set(['cilium.io/v1alpha1/TracingPolicy', 'cert-manager.io/v1/ClusterIssuer']);
const NAMESPACED_CRDS = new Set(['cilium.io/v1alpha1/TracingPolicyNamespaced', 'cert-manager.io/v1/Issuer', 'cert-manager.io/v1/Certificate']);

const PROMETHEUS_OPERATOR: Record<string, (data: object) => Validatable> = {
  'monitoring.coreos.com/v1/PodMonitor': (d) => new PodMonitor(d as ConstructorParameters<typeof PodMonitor>[0]),
  'monitoring.coreos.com/v1/ServiceMonitor': (d) => new ServiceMonitor(d as ConstructorParameters<typeof ServiceMonitor>[0]),
  'monitoring.coreos.com/v1/PrometheusRule': (d) => new PrometheusRule(d as ConstructorParameters<typeof PrometheusRule>[0]),
};

const typeKey = (o: K8sObject): string => `${o.apiVersion}/${o.kind}`;

export function isBuiltinKind(o: K8sObject): boolean {
  return typeKey(o) in BUILTIN;
}

/** kubernetes-models validation; returns the problems (empty when valid). */
export function validateBuiltin(o: K8sObject): string[] {
  const make = BUILTIN[typeKey(o)];
  if (!make) return [`${typeKey(o)} is not a kind this test knows (add it to BUILTIN or the CRD checks)`];
  return modelProblems(make, o);
}

function modelProblems(make: (data: object) => Validatable, o: K8sObject): string[] {
  try {
    make(o).validate();
    return [];
  } catch (err) {
    const details = (err as { errors?: { instancePath?: string; message?: string }[] }).errors;
    return details?.length ? details.map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()) : [String((err as Error).message)];
  }
}

// ---------------------------------------------------------------- unknown fields

interface AttributeType {
  baseName: string;
  type: string;
}
type ModelClass = { getAttributeTypeMap(): AttributeType[] };
const models = k8s as unknown as Record<string, ModelClass | undefined>;

const LEAF_TYPES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

function walk(value: unknown, type: string, path: string, out: string[]): void {
  if (value === null || value === undefined || LEAF_TYPES.has(type)) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, map[1]!, `${path}.${k}`, out);
    return;
  }
  const model = models[type];
  if (!model || typeof model.getAttributeTypeMap !== 'function' || typeof value !== 'object' || Array.isArray(value)) return;
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    const t = attributes.get(k);
    if (t === undefined) out.push(`${path}.${k}: unknown field`);
    else walk(v, t, `${path}.${k}`, out);
  }
}

/** Fields that the Kubernetes API does not know (they would be dropped, or refused by strict validation). */
export function unknownFields(o: K8sObject): string[] {
  const version = o.apiVersion.split('/').pop()!;
  const modelName = `${version.charAt(0).toUpperCase()}${version.slice(1)}${o.kind}`;
  if (!models[modelName]) return [`no client-node model ${modelName} to check fields against`];
  const out: string[] = [];
  walk(o, modelName, '', out);
  return out;
}

// ---------------------------------------------------------------- CRDs

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const GO_DURATION = /^(\d+h)?(\d+m)?(\d+s)?$/;

function only(where: string, value: unknown, allowed: string[], out: string[]): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    out.push(`${where}: must be a mapping`);
    return false;
  }
  for (const k of Object.keys(value)) if (!allowed.includes(k)) out.push(`${where}.${k}: unknown field`);
  return true;
}

const CERT_USAGES = new Set(['signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only', 'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc']);

function checkCertificate(spec: unknown, out: string[]): void {
  if (!only('spec', spec, ['secretName', 'commonName', 'dnsNames', 'ipAddresses', 'uris', 'emailAddresses', 'usages', 'duration', 'renewBefore', 'privateKey', 'issuerRef', 'isCA', 'subject', 'secretTemplate', 'revisionHistoryLimit'], out)) return;
  if (typeof spec['secretName'] !== 'string' || !DNS1123_SUBDOMAIN.test(spec['secretName'])) out.push('spec.secretName: required DNS-1123 name');
  for (const d of ['duration', 'renewBefore']) if (spec[d] !== undefined && !GO_DURATION.test(String(spec[d]))) out.push(`spec.${d}: not a Go duration`);
  for (const u of (spec['usages'] as string[] | undefined) ?? []) if (!CERT_USAGES.has(u)) out.push(`spec.usages: unknown usage ${u}`);
  if (only('spec.issuerRef', spec['issuerRef'], ['name', 'kind', 'group'], out)) {
    const ir = spec['issuerRef'];
    if (typeof ir['name'] !== 'string') out.push('spec.issuerRef.name: required');
    if (ir['kind'] !== undefined && ir['kind'] !== 'Issuer' && ir['kind'] !== 'ClusterIssuer') out.push('spec.issuerRef.kind: Issuer or ClusterIssuer');
  }
  if (spec['privateKey'] !== undefined && only('spec.privateKey', spec['privateKey'], ['algorithm', 'size', 'rotationPolicy', 'encoding'], out)) {
    const pk = spec['privateKey'];
    if (pk['algorithm'] !== undefined && !['RSA', 'ECDSA', 'Ed25519'].includes(String(pk['algorithm']))) out.push('spec.privateKey.algorithm: RSA, ECDSA or Ed25519');
    if (pk['rotationPolicy'] !== undefined && !['Always', 'Never'].includes(String(pk['rotationPolicy']))) out.push('spec.privateKey.rotationPolicy: Always or Never');
  }
  if (spec['dnsNames'] !== undefined && (!Array.isArray(spec['dnsNames']) || spec['dnsNames'].some((d) => typeof d !== 'string' || !DNS1123_SUBDOMAIN.test(d)))) out.push('spec.dnsNames: DNS names');
}

function checkIssuer(spec: unknown, out: string[]): void {
  if (!only('spec', spec, ['selfSigned', 'ca', 'acme', 'vault', 'venafi'], out)) return;
  if (Object.keys(spec).length !== 1) out.push('spec: exactly one issuer type');
  if (spec['ca'] !== undefined && only('spec.ca', spec['ca'], ['secretName', 'crlDistributionPoints', 'ocspServers', 'issuingCertificateURLs'], out) && typeof spec['ca']['secretName'] !== 'string') {
    out.push('spec.ca.secretName: required');
  }
}

const KPROBE_ARG_TYPES = new Set(['auto', 'int', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'size_t', 'long', 'string', 'char_buf', 'char_iovec', 'fd', 'file', 'path', 'skb', 'sock', 'sockaddr', 'socket', 'cred', 'nop', 'bpf_attr', 'perf_event', 'bpf_map', 'user_namespace', 'capability', 'kiocb', 'iov_iter', 'load_info', 'module', 'syscall64', 'kernel_cap_t', 'cap_inheritable', 'cap_permitted', 'cap_effective', 'linux_binprm', 'data_loc', 'net_device', 'bpf_cmd', 'dentry', 'bpf_prog']);

function checkKprobeArg(where: string, arg: unknown, out: string[]): void {
  if (!only(where, arg, ['index', 'type', 'label', 'returnCopy', 'maxData', 'sizeArgIndex', 'resolve'], out)) return;
  if (!Number.isInteger(arg['index']) || (arg['index'] as number) < 0) out.push(`${where}.index: non-negative integer`);
  if (!KPROBE_ARG_TYPES.has(String(arg['type']))) out.push(`${where}.type: unknown type ${String(arg['type'])}`);
}

function checkTracingPolicy(spec: unknown, out: string[]): void {
  if (!only('spec', spec, ['kprobes', 'tracepoints', 'uprobes', 'lsmhooks', 'usdts', 'podSelector', 'containerSelector', 'options', 'lists', 'enforcers'], out)) return;
  const kprobes = spec['kprobes'];
  if (!Array.isArray(kprobes) || kprobes.length === 0) {
    out.push('spec.kprobes: a non-empty list');
    return;
  }
  kprobes.forEach((kp: unknown, i) => {
    const where = `spec.kprobes[${i}]`;
    if (!only(where, kp, ['call', 'syscall', 'args', 'return', 'returnArg', 'returnArgAction', 'selectors', 'message', 'tags', 'ignore', 'data'], out)) return;
    if (typeof kp['call'] !== 'string' || kp['call'] === '') out.push(`${where}.call: required`);
    if (kp['syscall'] !== undefined && typeof kp['syscall'] !== 'boolean') out.push(`${where}.syscall: boolean`);
    if (kp['return'] !== undefined && typeof kp['return'] !== 'boolean') out.push(`${where}.return: boolean`);
    if (kp['returnArg'] !== undefined) {
      if (kp['return'] !== true) out.push(`${where}.returnArg: needs return: true`);
      checkKprobeArg(`${where}.returnArg`, kp['returnArg'], out);
    }
    ((kp['args'] as unknown[] | undefined) ?? []).forEach((a, j) => checkKprobeArg(`${where}.args[${j}]`, a, out));
    ((kp['selectors'] as unknown[] | undefined) ?? []).forEach((s, j) => {
      only(`${where}.selectors[${j}]`, s, ['matchPIDs', 'matchArgs', 'matchData', 'matchReturnArgs', 'matchActions', 'matchReturnActions', 'matchBinaries', 'matchParentBinaries', 'matchNamespaces', 'matchNamespaceChanges', 'matchCapabilities', 'matchCapabilityChanges'], out);
    });
  });
}

const RELABEL_FIELDS = ['action', 'sourceLabels', 'separator', 'targetLabel', 'regex', 'modulus', 'replacement'];

function checkScrapeEndpoints(where: string, endpoints: unknown, out: string[]): void {
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    out.push(`${where}: a non-empty list`);
    return;
  }
  endpoints.forEach((e: unknown, i) => {
    if (!only(`${where}[${i}]`, e, ['port', 'path', 'scheme', 'interval', 'scrapeTimeout', 'tlsConfig', 'relabelings', 'metricRelabelings', 'honorLabels'], out)) return;
    ((e['relabelings'] as unknown[] | undefined) ?? []).forEach((r, j) => only(`${where}[${i}].relabelings[${j}]`, r, RELABEL_FIELDS, out));
  });
}

function checkPrometheusOperator(o: K8sObject, out: string[]): void {
  const spec = o['spec'];
  if (o.kind === 'PodMonitor' && only('spec', spec, ['selector', 'namespaceSelector', 'podMetricsEndpoints', 'jobLabel'], out)) checkScrapeEndpoints('spec.podMetricsEndpoints', spec['podMetricsEndpoints'], out);
  if (o.kind === 'ServiceMonitor' && only('spec', spec, ['selector', 'namespaceSelector', 'endpoints', 'jobLabel', 'targetLabels', 'podTargetLabels'], out)) checkScrapeEndpoints('spec.endpoints', spec['endpoints'], out);
  if (o.kind === 'PrometheusRule' && only('spec', spec, ['groups'], out)) {
    ((spec['groups'] as unknown[] | undefined) ?? []).forEach((g: unknown, i) => {
      if (!only(`spec.groups[${i}]`, g, ['name', 'interval', 'rules'], out)) return;
      ((g['rules'] as unknown[] | undefined) ?? []).forEach((r: unknown, j) => {
        const where = `spec.groups[${i}].rules[${j}]`;
        if (!only(where, r, ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'], out)) return;
        if ((r['alert'] === undefined) === (r['record'] === undefined)) out.push(`${where}: exactly one of alert and record`);
        if (r['alert'] !== undefined && !['critical', 'warning', 'info'].includes(String((r['labels'] as Record<string, unknown> | undefined)?.['severity']))) out.push(`${where}: labels.severity must be critical, warning or info (what Alertmanager routes on)`);
      });
    });
  }
}

/** Structural checks of the custom resources we ship. */
export function validateCustomResource(o: K8sObject): string[] {
  const out: string[] = [];
  const key = typeKey(o);
  const prometheusOperator = PROMETHEUS_OPERATOR[key];
  if (prometheusOperator) {
    checkPrometheusOperator(o, out);
    return [...modelProblems(prometheusOperator, o), ...out];
  }
  if (key === 'postgresql.cnpg.io/v1/Cluster') return [...cnpgClusterProblems(o), ...(o.metadata.namespace ? [] : ['metadata.namespace: required for a namespaced kind'])];
  const namespaced = NAMESPACED_CRDS.has(key);
  if (!namespaced && !CLUSTER_SCOPED_CRDS.has(key)) return [`${key} is not a kind this test knows`];
  only('', o, ['apiVersion', 'kind', 'metadata', 'spec'], out);
  if (only('metadata', o.metadata, ['name', 'namespace', 'labels', 'annotations'], out)) {
    if (!DNS1123_SUBDOMAIN.test(o.metadata.name) || o.metadata.name.length > 253) out.push('metadata.name: not a DNS-1123 subdomain');
    if (namespaced && !o.metadata.namespace) out.push('metadata.namespace: required for a namespaced kind');
    if (!namespaced && o.metadata.namespace !== undefined) out.push('metadata.namespace: set on a cluster-scoped kind');
    for (const m of ['labels', 'annotations'] as const) {
      const v = o.metadata[m];
      if (v !== undefined && (typeof v !== 'object' || Object.values(v).some((x) => typeof x !== 'string'))) out.push(`metadata.${m}: string map`);
    }
  }
  if (o.kind === 'Certificate') checkCertificate(o['spec'], out);
  else if (o.kind === 'Issuer' || o.kind === 'ClusterIssuer') checkIssuer(o['spec'], out);
  else checkTracingPolicy(o['spec'], out);
  return out;
}
