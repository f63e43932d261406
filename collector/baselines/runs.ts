/**
 * Run-to-completion workloads (Jobs, CronJob runs) learn per run, not per start-up:
 * - a run is learned as a whole: no start-up/steady split inside it (lifecycle `isStartup`), so what
 *   a short run did within the start-up grace is allowed in a later, longer run too;
 * - a generation learns from its first `learning.runs` runs by the event time they started; the start
 *   of the next run ends learning, and time only bounds it (windows.ts: maxWindow, or the
 *   cluster-wide period). An observation of a learning run is learned whenever it arrives, also
 *   after a later run ended learning; a run that arrives late (another node's stream) but started
 *   before a learning run takes that run's place, and what was first seen from that run's start on
 *   is un-learned (learned again when an earlier sighting arrives), as when a window's start moves;
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

/** What a run-to-completion observation means for learning. */
export interface RunVerdict {
  learns: boolean;
  /** Learned items first seen at or after this time came from a run that is no longer a learning run. */
  unlearnFromMs: number | null;
}

export class RunLearning {
  constructor(private readonly lifecycle: BaselineLifecycle) {}

  applies(view: BaselineView): boolean {
    return isRunToCompletion(view.workload.kind);
  }

  /**
   * Does this observation belong to one of the runs the generation learns from: the first
   * `learning.runs` by the event time they started (and every run starting inside the cluster-wide
   * period)? A run that arrives late but started earlier than a learning run takes its place.
   */
  async learns(tx: Repositories, view: BaselineView, obs: Observation, changes: ChangeSet): Promise<RunVerdict> {
    const b = view.b;
    const w = this.lifecycle.windows;
    const no: RunVerdict = { learns: false, unlearnFromMs: null };
    if (b.learningStartMs === null || b.learningUntilMs === null || obs.time >= learningCap(w, b.learningStartMs)) return no;
    const runs = await this.learningRuns(tx, view);
    const run = runOf(obs);
    const known = runs.get(run);
    if (known !== undefined) {
      if (obs.time < known) await this.setRun(tx, view, run, obs.time);
      return { learns: true, unlearnFromMs: null };
    }
    // A run that started after learning ended (in event time) is enforced.
    if (obs.time >= b.learningUntilMs) return no;
    if (runs.size < w.runs || inClusterWindow(w, obs.time)) {
      await this.setRun(tx, view, run, obs.time);
      return { learns: true, unlearnFromMs: null };
    }
    const [latest, latestStart] = [...runs].reduce((a, r) => (r[1] > a[1] ? r : a));
    let verdict: RunVerdict;
    let endMs: number;
    if (obs.time < latestStart) {
      // Started before the latest learning run: it is one of the first runs, that one is not.
      runs.delete(latest);
      await tx.learning.removeRun(b.id, latest);
      await this.setRun(tx, view, run, obs.time);
      verdict = { learns: true, unlearnFromMs: latestStart };
      endMs = latestStart;
    } else {
      verdict = no;
      endMs = obs.time;
    }
    // Learning ends where the first run past the learning runs started.
    b.learningUntilMs = endMs;
    await tx.baselines.update(b.id, { learningUntilMs: endMs });
    await this.lifecycle.activate(tx, view, changes);
    return verdict;
  }

  /**
   * Another node shows the generation earlier: it starts there, so its time bound comes earlier
   * too. Runs that started past the new bound are no learning runs; the returned time is where
   * learned items stop being part of learning (null: nothing changes).
   */
  async moveStart(tx: Repositories, view: BaselineView, startMs: number, changes: ChangeSet): Promise<number | null> {
    const b = view.b;
    const cap = learningCap(this.lifecycle.windows, startMs);
    b.learningStartMs = startMs;
    const ends = b.learningUntilMs === null || cap < b.learningUntilMs;
    if (ends) b.learningUntilMs = cap;
    await tx.baselines.update(b.id, { learningStartMs: b.learningStartMs, learningUntilMs: b.learningUntilMs });
    if (!ends || view.maxSeenMs < cap) return null;
    const runs = await this.learningRuns(tx, view);
    for (const [run, first] of runs) {
      if (first < cap) continue;
      runs.delete(run);
      await tx.learning.removeRun(b.id, run);
    }
    await this.lifecycle.activate(tx, view, changes);
    return cap;
  }

  private async setRun(tx: Repositories, view: BaselineView, run: string, firstSeenMs: number): Promise<void> {
    view.learningRuns!.set(run, firstSeenMs);
    await tx.learning.putRun(view.b.id, { run, firstSeenMs });
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
