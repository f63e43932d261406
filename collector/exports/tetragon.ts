import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { dnsLabel, splitItems, workloadPodLabels } from './keys.js';

/** What Tetragon does with an execution outside the baseline: report it, or kill the process. */
export const TETRAGON_ACTIONS = ['audit', 'sigkill'] as const;
export type TetragonAction = (typeof TETRAGON_ACTIONS)[number];

export interface TracingPolicyOptions {
  /** `audit` (default): an event per execution outside the baseline. `sigkill`: also kill it. */
  action?: TetragonAction;
  /** Labels selecting the workload's pods; default `app.kubernetes.io/name: <workload name>`. */
  podLabels?: Record<string, string>;
}

/**
 * The exec hook. `security_bprm_check` runs inside execve before the new program gets control,
 * once per binary format handler, with the `linux_binprm` of the file about to run: Tetragon's
 * own exec examples (examples/tracingpolicy/security_bprm_check.yaml, lsm_bprm_check.yaml) filter
 * it there. A kprobe rather than the BPF-LSM hook, so it loads on kernels without `lsm=bpf`.
 *
 * Why `matchArgs` on the binprm and not `matchBinaries NotIn`: at this hook `matchBinaries` is
 * the binary of the process *calling* execve (Tetragon updates a process's binary only at
 * `sched_process_exec`, after the exec succeeded), so an allowed shell starting a disallowed tool
 * would pass. The binprm argument is the file being executed; `NotEqual` over the baseline's
 * paths is the same allow-list as `matchBinaries NotIn`, applied to the right process.
 */
const EXEC_HOOK = 'security_bprm_check';

/**
 * A Tetragon TracingPolicy that reports (or, opt-in, kills with `Sigkill`) every execution in the
 * workload's container of a file that is not one of the approved baseline's executables.
 * Pods: `TracingPolicyNamespaced` in the workload's namespace, pods by label, the container by
 * name. Host workloads: a cluster-wide `TracingPolicy` for host processes of that node.
 *
 * Baseline process items are exact paths, so the policy matches exact paths (`NotEqual`, no
 * `NotPrefix`): widening an executable to its directory would also allow whatever is dropped
 * there later. Learned argument patterns are context, not constraints (the baseline does not
 * match on them either), so no argument filter is written.
 */
export function toTracingPolicy(baseline: BaselineView, items: readonly BaselineItemView[], opts: TracingPolicyOptions = {}): Record<string, unknown> {
  const w = baseline.workload;
  const action = opts.action ?? 'audit';
  const paths = [...new Set(splitItems(items).processes.map((p) => p.exe))];
  const host = w.kind === 'Host';
  const selector: Record<string, unknown> = {
    // No paths (a baseline without processes): every execution is outside it.
    ...(paths.length ? { matchArgs: [{ index: 0, operator: 'NotEqual', values: paths }] } : {}),
    // Sigkill also posts the event, so an enforced policy still reports what it killed.
    matchActions: [{ action: action === 'sigkill' ? 'Sigkill' : 'Post' }],
  };
  return {
    apiVersion: 'cilium.io/v1alpha1',
    kind: host ? 'TracingPolicy' : 'TracingPolicyNamespaced',
    metadata: {
      name: dnsLabel('driftwatch-exec', ...(host ? ['host', w.name] : [w.name, w.container])),
      ...(host ? {} : { namespace: w.namespace }),
      labels: { 'app.kubernetes.io/managed-by': 'driftwatch' },
      annotations: {
        'driftwatch.dev/baseline': `${baseline.id}`,
        'driftwatch.dev/version': `${baseline.version}`,
        'driftwatch.dev/workload': host ? `Host/${w.name}` : `${w.kind}/${w.name}/${w.container}`,
        'driftwatch.dev/action': action,
        'driftwatch.dev/note':
          (host ? 'Applies to the host processes of the node named by nodeSelector. ' : 'Check podSelector matches the workload pods. ') +
          'Paths are compared with the file the kernel executes (symlinks resolved; a script passes the hook as itself and as its interpreter): run it in audit mode before opting in to Sigkill.',
      },
    },
    spec: {
      ...(host
        ? { hostSelector: {}, nodeSelector: { matchLabels: { 'kubernetes.io/hostname': w.name } } }
        : {
            podSelector: { matchLabels: opts.podLabels ?? workloadPodLabels(w.name) },
            containerSelector: { matchExpressions: [{ key: 'name', operator: 'In', values: [w.container] }] },
          }),
      kprobes: [
        {
          call: EXEC_HOOK,
          syscall: false,
          args: [{ index: 0, type: 'linux_binprm' }],
          selectors: [selector],
        },
      ],
    },
  };
}
