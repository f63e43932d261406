/**
 * Which Kubernetes API access `*.kubernetes` asks for, decided without loading the Kubernetes
 * client library (a process that ends up not using the API should not pay for it).
 */
import { existsSync } from 'node:fs';
import type { KubernetesAccessConfig } from '../config/fields.js';

export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * `off` = no API; `in-cluster` = the pod's service account; `kubeconfig` = the given file (or the
 * default kubeconfig); `auto` = in-cluster when running in a pod with a service account token,
 * else off (so that tests and local runs never reach for a cluster).
 */
export function kubernetesAccess(access: Partial<KubernetesAccessConfig> | undefined): 'off' | 'in-cluster' | 'kubeconfig' {
  const mode = access?.mode ?? 'auto';
  if (mode !== 'auto') return mode;
  return process.env.KUBERNETES_SERVICE_HOST !== undefined && existsSync(SERVICE_ACCOUNT_TOKEN) ? 'in-cluster' : 'off';
}
