/**
 * agent-missing: a node that runs workloads while no agent of it is known to the collector.
 * Nothing there is monitored, and zero deviations from it would look like good news.
 *
 * Rule (documented in docs/alerting.md):
 * - the node runs at least one pod that counts: phase Running, scheduled on the node, not a
 *   DaemonSet pod (kube-proxy, CNI, log shippers and the driftwatch agent itself run on every
 *   node, including nodes deliberately left without workloads), not a static pod (its mirror:
 *   annotation `kubernetes.io/config.mirror`, or owned by the Node), and not driftwatch's own
 *   (label `app.kubernetes.io/name: driftwatch`: a node that only runs the collector is no blind
 *   spot in the workloads);
 * - and the collector has no agent of that node: none connected, and none disconnected recently
 *   enough to still be tracked (that case is agent-disconnected, within `forgetAfter`);
 * - continuously for `missingAgentAfter` (default 5 min), counted from when the monitor started
 *   at the earliest: agents reconnect after a collector restart, and a new node's agent pod needs
 *   time to be scheduled, pull its image and connect.
 * Nothing is decided while the collector's pod watch is not synced (an API server outage keeps
 * alerts as they are); without a Kubernetes API the check is off.
 */
import type { HealthEvent } from '../../common/deviations.js';
import type { PodInfo } from '../../common/kube/pods.js';

/** The collector's cluster-wide pod view (collector/kubernetes). */
export interface PodsView {
  readonly synced: boolean;
  all(): Iterable<PodInfo>;
}

export const DRIFTWATCH_LABEL = 'app.kubernetes.io/name';
const DRIFTWATCH_NAME = 'driftwatch';

/** Whether a pod counts as a workload its node's agent must watch. */
export function runsWorkload(pod: PodInfo): boolean {
  return (
    pod.node !== null &&
    pod.phase === 'Running' &&
    pod.controllerKind !== 'DaemonSet' &&
    pod.controllerKind !== 'Node' &&
    !pod.mirror &&
    pod.labels[DRIFTWATCH_LABEL] !== DRIFTWATCH_NAME
  );
}

export class AgentMissingCheck {
  /** node → since when it has run workloads without an agent (wall clock ms). */
  private readonly uncoveredSince = new Map<string, number>();

  constructor(
    private readonly view: PodsView,
    private readonly cluster: string,
    private readonly afterMs: number,
  ) {}

  /**
   * Adds the alerts due to `bad`; returns false when it cannot decide (pod watch not synced): the
   * caller then leaves this check's open alerts as they are.
   */
  check(knownNodes: ReadonlySet<string>, now: number, startedAtMs: number, bad: Map<string, HealthEvent>): boolean {
    if (!this.view.synced) return false;
    const workloads = new Map<string, { pods: number; example: string }>();
    for (const pod of this.view.all()) {
      if (!runsWorkload(pod) || knownNodes.has(pod.node!)) continue;
      const w = workloads.get(pod.node!);
      if (w) w.pods++;
      else workloads.set(pod.node!, { pods: 1, example: `${pod.namespace}/${pod.name}` });
    }
    for (const node of this.uncoveredSince.keys()) if (!workloads.has(node)) this.uncoveredSince.delete(node);
    for (const [node, w] of workloads) {
      let since = this.uncoveredSince.get(node);
      if (since === undefined) this.uncoveredSince.set(node, (since = Math.max(now, startedAtMs)));
      const forMs = now - Math.max(since, startedAtMs);
      if (forMs < this.afterMs) continue;
      const key = `agent-missing/${this.cluster}/${node}`;
      bad.set(key, {
        kind: 'agent-missing',
        key,
        severity: 'high',
        summary: `node ${node} runs ${w.pods} workload pod(s) (e.g. ${w.example}) but no driftwatch agent of it is connected: nothing on this node is monitored`,
        node,
        resolved: false,
        atMs: now,
        detail: { pods: w.pods, examplePod: w.example, withoutAgentForSeconds: Math.round(forMs / 1000) },
      });
    }
    return true;
  }
}
