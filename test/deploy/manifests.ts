/**
 * Reading driftwatch's built manifests the way the cluster will: pod specs, the environment a
 * container really gets (downward API, Secrets, `$(VAR)` expansion), the config file it is
 * started with, and the effective configuration `loadConfig` produces from both.
 */
import { writeFileSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import type { V1Container, V1PodSpec, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { loadConfig, type DriftwatchConfig } from '../../cli/config.js';
import { packagePath } from '../../common/paths.js';
import type { K8sObject } from './kustomize.js';

export const DEPLOY_ROOT = packagePath('deploy', 'daemonset');

/** Documented exceptions to runAsNonRoot, by kustomization: Falco's legacy gRPC socket is root:root 0755 (agent-falco-grpc.yaml). */
export const ROOT_ALLOWED: Record<string, string[]> = { 'overlays/falco-grpc': ['DaemonSet/driftwatch-agent'] };

/** Stand-ins for what only a cluster knows, used when resolving a container's environment. */
export const FAKE_NODE = 'node-a.example';
export const FAKE_SECRET_VALUE = 'f'.repeat(64);

export const WORKLOAD_KINDS = new Set(['DaemonSet', 'Deployment', 'StatefulSet', 'Job', 'CronJob', 'Pod']);

export function find(objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

export function mustFind(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const o = find(objects, kind, name);
  if (!o) throw new Error(`${kind}/${name} is not in the build`);
  return o;
}

export function podSpecOf(o: K8sObject): V1PodSpec | undefined {
  const spec = o['spec'] as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec as unknown as V1PodSpec;
  if (o.kind === 'CronJob') return ((spec['jobTemplate'] as { spec?: { template?: { spec?: V1PodSpec } } } | undefined)?.spec?.template?.spec);
  return (spec['template'] as { spec?: V1PodSpec } | undefined)?.spec;
}

export function podLabelsOf(o: K8sObject): Record<string, string> {
  const spec = o['spec'] as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined;
  return spec?.template?.metadata?.labels ?? {};
}

export function allContainers(spec: V1PodSpec): V1Container[] {
  return [...(spec.initContainers ?? []), ...spec.containers];
}

export function container(o: K8sObject, name: string): V1Container {
  const c = podSpecOf(o)?.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${o.kind}/${o.metadata.name} has no container ${name}`);
  return c;
}

/**
 * The environment the kubelet gives the container: `value` with `$(VAR)` references expanded from
 * the variables defined before it (`$$` escapes), downward-API fields and Secret/ConfigMap keys
 * replaced by stand-ins. Throws on a source the resolver does not know.
 */
export function containerEnv(c: V1Container, objects: readonly K8sObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = e.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
        if (m === '$$') return '$';
        return name !== undefined && env[name] !== undefined ? env[name]! : m;
      });
    } else if (e.valueFrom?.fieldRef) {
      const path = e.valueFrom.fieldRef.fieldPath;
      if (path === 'spec.nodeName') env[e.name] = FAKE_NODE;
      else if (path === 'metadata.namespace') env[e.name] = 'driftwatch';
      else if (path === 'metadata.name') env[e.name] = 'driftwatch-pod-0';
      else if (path === 'status.hostIP' || path === 'status.podIP') env[e.name] = '10.0.0.10';
      else throw new Error(`env ${e.name}: fieldRef ${path} is not modelled`);
    } else if (e.valueFrom?.secretKeyRef) {
      env[e.name] = FAKE_SECRET_VALUE;
    } else if (e.valueFrom?.configMapKeyRef) {
      const cm = find(objects, 'ConfigMap', e.valueFrom.configMapKeyRef.name ?? '');
      const data = cm?.['data'] as Record<string, string> | undefined;
      const v = data?.[e.valueFrom.configMapKeyRef.key];
      if (v === undefined) throw new Error(`env ${e.name}: ConfigMap key ${e.valueFrom.configMapKeyRef.name}/${e.valueFrom.configMapKeyRef.key} does not exist`);
      env[e.name] = v;
    } else {
      throw new Error(`env ${e.name}: unsupported source`);
    }
  }
  return env;
}

/** The `--config FILE` argument of a driftwatch container. */
export function configPathOf(c: V1Container): string {
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  const i = args.indexOf('--config');
  if (i < 0 || args[i + 1] === undefined) throw new Error(`container ${c.name} is started without --config`);
  return args[i + 1]!;
}

/** The mount that serves `path` inside the container (the deepest mountPath that contains it). */
export function mountFor(c: V1Container, path: string): V1VolumeMount | undefined {
  let best: V1VolumeMount | undefined;
  for (const m of c.volumeMounts ?? []) {
    const covers = m.subPath ? m.mountPath === path : path === m.mountPath || path.startsWith(m.mountPath.endsWith('/') ? m.mountPath : `${m.mountPath}/`);
    if (covers && (!best || m.mountPath.length > best.mountPath.length)) best = m;
  }
  return best;
}

export function volumeOf(spec: V1PodSpec, name: string): V1Volume | undefined {
  return spec.volumes?.find((v) => v.name === name);
}

/** The text of the config file the container reads: ConfigMap key behind the `--config` path. */
export function configFileText(o: K8sObject, c: V1Container, objects: readonly K8sObject[]): string {
  const path = configPathOf(c);
  const spec = podSpecOf(o)!;
  const mount = mountFor(c, path);
  if (!mount) throw new Error(`${o.kind}/${o.metadata.name}: --config ${path} is not on any volume mount`);
  const volume = volumeOf(spec, mount.name);
  if (!volume?.configMap) throw new Error(`${o.kind}/${o.metadata.name}: --config ${path} is not on a ConfigMap volume`);
  const key = mount.subPath ?? posix.relative(mount.mountPath, path);
  const item = volume.configMap.items?.find((i) => i.path === key);
  const cm = mustFind(objects, 'ConfigMap', volume.configMap.name!);
  const text = (cm['data'] as Record<string, string> | undefined)?.[item?.key ?? key];
  if (text === undefined) throw new Error(`ConfigMap ${volume.configMap.name} has no key ${item?.key ?? key} (the --config file)`);
  return text;
}

/**
 * What `driftwatch agent|collector --config …` would load in the pod. `overrides` (dotted paths,
 * as flags would give them) lets a test move what only exists in a cluster, and nothing else.
 */
export function effectiveConfig(o: K8sObject, containerName: string, objects: readonly K8sObject[], tmpDir: string, overrides?: Record<string, unknown>): Readonly<DriftwatchConfig> {
  const c = container(o, containerName);
  const file = join(tmpDir, `${o.kind}-${o.metadata.name}-${basename(configPathOf(c))}`);
  writeFileSync(file, configFileText(o, c, objects));
  return loadConfig({ file, env: containerEnv(c, objects), ...(overrides ? { overrides } : {}) });
}

/** The filesystem path behind a `unix://` gRPC address, or undefined for TCP addresses. */
export function unixSocketPath(address: string | undefined): string | undefined {
  return address?.startsWith('unix://') ? address.slice('unix://'.length) : undefined;
}
