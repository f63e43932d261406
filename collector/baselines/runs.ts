/**
 * Run-to-completion workloads (Jobs, CronJob runs) learn per run, not per start-up:
 * - a run is learned as a whole: no start-up/steady split inside it (lifecycle `isStartup`), so what
 *   a short run did within the start-up grace is allowed in a later, longer run too;
 * - a generation learns from the first `learning.runs` runs it sees (by the order in which their
 *   first observations arrive); the first observation of a later run ends learning, and time only
 *   bounds it (windows.ts: maxWindow, or the cluster-wide period). An observation of one of the
 *   learning runs is learned whenever it arrives, also after a later run ended learning;
 * - a run is the pod's Job (`Observation.run`, set by the agent from the Job's uid or name; from
 *   older agents, the pod name without its `-<5>` suffix).
 *
 * A Job started by hand from a CronJob (`kubectl create job x-manual --from=cronjob/x`) is one of
 * that CronJob's runs. The agent maps it through the Kubernetes API (the Job's owner reference);
 * when the API could not say, `HandStartedJobs` here maps a Job named `<cronjob>-<suffix>` to a
 * CronJob already known in the same namespace with the same container (the limits of that rule
 * are in common/kube/naming.ts `cronJobByNamePrefix`).
 */
import { cronJobByNamePrefix, jobRunOf } from '../../common/kube/naming.js';
import { isRunToCompletion, type Observation } from '../../common/model.js';
import type { ChangeSet } from '../changes.js';
import type { Repositories } from '../store/contract.js';
import type { BaselineLifecycle } from './lifecycle.js';
import type { BaselineView } from './view.js';
import { inClusterWindow, learningCap } from './windows.js';

/** The run an observation belongs to. */
export function runOf(obs: Observation): string {
  return obs.run ?? jobRunOf(null, obs.pod ?? '');
}

export class RunLearning {
  constructor(private readonly lifecycle: BaselineLifecycle) {}

  applies(view: BaselineView): boolean {
    return isRunToCompletion(view.workload.kind);
  }

  /** Does this observation belong to one of the runs the generation learns from? */
  async learns(tx: Repositories, view: BaselineView, obs: Observation, changes: ChangeSet): Promise<boolean> {
    const b = view.b;
    const w = this.lifecycle.windows;
    if (b.learningStartMs === null || obs.time >= learningCap(w, b.learningStartMs)) return false;
    const runs = await this.learningRuns(tx, view);
    const run = runOf(obs);
    if (runs.has(run)) return true;
    if (b.phase !== 'learning') return false;
    if (runs.size < w.runs || inClusterWindow(w, obs.time)) {
      runs.set(run, obs.time);
      await tx.learning.addRun(b.id, { run, firstSeenMs: obs.time });
      return true;
    }
    // The first observation of a run past the learning runs: learning ends here.
    b.learningUntilMs = obs.time;
    await tx.baselines.update(b.id, { learningUntilMs: obs.time });
    await this.lifecycle.activate(tx, view, changes);
    return false;
  }

  /** Another node shows the generation earlier: it starts there; its runs, not time, decide what it learned. */
  async moveStart(tx: Repositories, view: BaselineView, startMs: number): Promise<void> {
    const b = view.b;
    b.learningStartMs = startMs;
    if (b.phase === 'learning') b.learningUntilMs = learningCap(this.lifecycle.windows, startMs);
    await tx.baselines.update(b.id, { learningStartMs: b.learningStartMs, learningUntilMs: b.learningUntilMs });
  }

  private async learningRuns(tx: Repositories, view: BaselineView): Promise<Map<string, number>> {
    if (!view.learningRuns) view.learningRuns = new Map((await tx.learning.runs(view.b.id)).map((r) => [r.run, r.firstSeenMs]));
    return view.learningRuns;
  }
}

/** Bound of the CronJobs remembered for the name-prefix rule (far more than a cluster has). */
const MAX_CRONJOBS = 50_000;

/** Maps Jobs started by hand from a CronJob to it by name when the agent could not ask the API. */
export class HandStartedJobs {
  /** `cluster \0 namespace \0 container` → names of CronJobs seen; loaded from the store on first use. */
  private cronJobs: Map<string, Set<string>> | null = null;
  private remembered = 0;

  /** The observations, with those of a hand-started Job given its CronJob's workload. */
  async map(tx: Repositories, observations: readonly Observation[]): Promise<readonly Observation[]> {
    let out: Observation[] | null = null;
    for (let i = 0; i < observations.length; i++) {
      const obs = observations[i]!;
      const w = obs.workload;
      // The API's answer (identity source `kubernetes-api`) is the Job's real owner: never overruled.
      if (w.kind !== 'CronJob' && (w.kind !== 'Job' || obs.identitySource === 'kubernetes-api')) continue;
      const cronJobs = await this.load(tx);
      const key = `${w.cluster}\0${w.namespace}\0${w.container}`;
      if (w.kind === 'CronJob') {
        this.remember(cronJobs, key, w.name);
        continue;
      }
      const known = cronJobs.get(key);
      const cron = known ? cronJobByNamePrefix(w.name, (name) => known.has(name)) : null;
      if (cron === null) continue;
      out ??= [...observations];
      out[i] = { ...obs, workload: { ...w, kind: 'CronJob', name: cron }, identitySource: 'inferred', run: runOf(obs) };
    }
    return out ?? observations;
  }

  private async load(tx: Repositories): Promise<Map<string, Set<string>>> {
    if (!this.cronJobs) {
      const cronJobs = new Map<string, Set<string>>();
      for (const r of await tx.workloads.all()) if (r.workload.kind === 'CronJob') this.remember(cronJobs, `${r.workload.cluster}\0${r.workload.namespace}\0${r.workload.container}`, r.workload.name);
      this.cronJobs = cronJobs;
    }
    return this.cronJobs;
  }

  private remember(cronJobs: Map<string, Set<string>>, key: string, name: string): void {
    let names = cronJobs.get(key);
    if (names?.has(name) || this.remembered >= MAX_CRONJOBS) return;
    if (!names) cronJobs.set(key, (names = new Set()));
    names.add(name);
    this.remembered++;
  }
}
