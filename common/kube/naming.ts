/**
 * Workload identity from a pod's name and labels alone: what driftwatch falls back to when
 * neither the source (Tetragon `pod.workload`) nor the Kubernetes API can say. Results are
 * marked `inferred`. The rules mirror what Kubernetes controllers do when they name pods:
 *
 * | controller            | pod name                               | labels that confirm it |
 * |-----------------------|----------------------------------------|------------------------|
 * | Deployment (via RS)   | `<deploy>-<pod-template-hash>-<5>`     | `pod-template-hash` |
 * | CronJob (via Job)     | `<cronjob>-<8..10 digits>-<5>`         | `job-name` / `batch.kubernetes.io/job-name` |
 * | Job                   | `<job>-<5>`                            | `job-name` |
 * | StatefulSet           | `<sts>-<ordinal>`                      | `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` |
 * | DaemonSet             | `<ds>-<5>`                             | `pod-template-generation` + `controller-revision-hash` |
 * | bare Pod              | anything else                          | |
 *
 * `<5>` and the hash use Kubernetes' "safe" alphabet (no vowels, no 0/1/3). Every run of a
 * CronJob maps to the CronJob, never to one workload per run. A bare `<name>-<5>` without labels
 * is taken for a DaemonSet (a Job pod looks the same; the kind may be wrong, the name is stable).
 */
import type { WorkloadKind } from '../model.js';

export interface InferredWorkload {
  kind: WorkloadKind;
  name: string;
}

const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';
const CRONJOB_RUN = /^(.+)-\d{8,10}$/;
const CRONJOB_POD = /^(.+)-\d{8,10}-[a-z0-9]{5}$/;
const DEPLOYMENT_POD = new RegExp(`^(.+)-${SAFE}{6,10}-${SAFE}{5}$`);
const STATEFULSET_POD = /^(.+)-(\d+)$/;
const FIVE_CHAR_SUFFIX = new RegExp(`^(.+)-${SAFE}{5}$`);

export type PodLabels = Readonly<Record<string, string>>;

/** A Job's owner when only its name is known: `<cronjob>-<scheduled time in minutes>`. */
export function cronJobOfJob(jobName: string): string | null {
  return CRONJOB_RUN.exec(jobName)?.[1] ?? null;
}

/** Labels the Job controller puts on its pods (the `batch.kubernetes.io/` ones since Kubernetes 1.27). */
const JOB_UID_LABELS = ['batch.kubernetes.io/controller-uid', 'controller-uid'] as const;
const JOB_NAME_LABELS = ['batch.kubernetes.io/job-name', 'job-name'] as const;

/**
 * The run a Job's pod belongs to: the Job's uid (a Job deleted and created again under the same
 * name is another run), else the Job's name, else the pod name without the `-<5>` suffix the Job
 * controller adds (all of one run's pods — retries, parallel pods — share it).
 */
export function jobRunOf(labels: PodLabels | null | undefined, podName: string): string {
  for (const k of JOB_UID_LABELS) if (labels?.[k]) return labels[k];
  for (const k of JOB_NAME_LABELS) if (labels?.[k]) return labels[k];
  return FIVE_CHAR_SUFFIX.exec(podName)?.[1] ?? /^(.+)-[a-z0-9]{5}$/.exec(podName)?.[1] ?? podName;
}

/**
 * The CronJob a Job was started from by hand (`kubectl create job <cronjob>-<suffix>
 * --from=cronjob/<cronjob>`) when only its name is known: the longest `<prefix>` at a `-` boundary
 * that names a known CronJob. Limits: the CronJob must already be known (seen running), the Job
 * must be named after it, and an unrelated Job named `<cronjob>-…` is taken for one of its runs.
 */
export function cronJobByNamePrefix(jobName: string, isCronJob: (name: string) => boolean): string | null {
  for (let i = jobName.lastIndexOf('-'); i > 0; i = jobName.lastIndexOf('-', i - 1)) {
    const prefix = jobName.slice(0, i);
    if (isCronJob(prefix)) return prefix;
  }
  return null;
}

/** A ReplicaSet's Deployment when only its name and the pod's hash label are known. */
export function deploymentOfReplicaSet(rsName: string, podTemplateHash: string | undefined): string | null {
  if (podTemplateHash && rsName.endsWith(`-${podTemplateHash}`)) return rsName.slice(0, -podTemplateHash.length - 1);
  return null;
}

export function inferWorkload(podName: string, labels: PodLabels | null | undefined): InferredWorkload {
  const l = labels ?? {};
  const hash = l['pod-template-hash'];
  if (hash) {
    const m = /^(.+)-([^-]+)-[a-z0-9]{5}$/.exec(podName);
    if (m && m[2] === hash) return { kind: 'Deployment', name: m[1]! };
  }
  const job = l['batch.kubernetes.io/job-name'] ?? l['job-name'];
  if (job) {
    const cron = cronJobOfJob(job);
    return cron ? { kind: 'CronJob', name: cron } : { kind: 'Job', name: job };
  }
  if (l['statefulset.kubernetes.io/pod-name'] !== undefined || l['apps.kubernetes.io/pod-index'] !== undefined) {
    const m = STATEFULSET_POD.exec(podName);
    if (m) return { kind: 'StatefulSet', name: m[1]! };
  }
  if (l['pod-template-generation'] !== undefined && l['controller-revision-hash'] !== undefined) {
    const m = FIVE_CHAR_SUFFIX.exec(podName) ?? /^(.+)-[a-z0-9]{5}$/.exec(podName);
    if (m) return { kind: 'DaemonSet', name: m[1]! };
  }
  let m = CRONJOB_POD.exec(podName);
  if (m) return { kind: 'CronJob', name: m[1]! };
  m = DEPLOYMENT_POD.exec(podName);
  if (m) return { kind: 'Deployment', name: m[1]! };
  m = STATEFULSET_POD.exec(podName);
  if (m) return { kind: 'StatefulSet', name: m[1]! };
  m = FIVE_CHAR_SUFFIX.exec(podName);
  if (m) return { kind: 'DaemonSet', name: m[1]! };
  return { kind: 'Pod', name: podName };
}

/** Falco's `k8s.pod.labels` text (`k1:v1,k2:v2`) → a label map. */
export function parseFalcoLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const i = pair.indexOf(':');
    if (i > 0) out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

/**
 * Docker Engine names Kubernetes containers `k8s_<container>_<pod>_<namespace>_<uid>_<n>` (what
 * Falco's `container.name` shows there); CRI runtimes give the plain container name.
 */
export function containerNameFromRuntimeName(name: string): string {
  if (name.startsWith('k8s_')) {
    const parts = name.split('_');
    if (parts.length >= 6 && parts[1]) return parts[1];
  }
  return name;
}

/** `containerd://<64 hex>` → its first 12 hex characters (what both sources can be compared on). */
export function stripToKey(containerId: string): string {
  const i = containerId.indexOf('://');
  const id = i >= 0 ? containerId.slice(i + 3) : containerId;
  return id.slice(0, 12);
}
