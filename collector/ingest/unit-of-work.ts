/**
 * The ingest unit of work: one agent batch in one store transaction. The batch's observations, the
 * learning and deviations they cause and the agent's sequence number commit together — that is
 * what makes a batch count exactly once (a batch re-sent after a reconnect or a restart is
 * recognised by (instance, seq) and only acknowledged).
 *
 * Per observation, in the data's direction: its baseline generation (baselines/lifecycle) → the
 * declared deny list (deviations/evaluate) → learning (baselines/learn) → sessions
 * (deviations/sessions) → the high-risk rules that alert while learning (deviations/evaluate) →
 * evaluation (deviations/evaluate). Nothing below calls back up here.
 */
import { Counter, type Registry } from 'prom-client';
import type { ItemDeriver } from '../../common/items/derive.js';
import type { Observation } from '../../common/model.js';
import type { DeclaredBaselines } from '../baselines/declared.js';
import type { Learner } from '../baselines/learn.js';
import type { BaselineLifecycle } from '../baselines/lifecycle.js';
import type { HandStartedJobs } from '../baselines/runs.js';
import { commitChanges, type ChangeRunner, type ChangeSet } from '../changes.js';
import type { DeviationEvaluator } from '../deviations/evaluate.js';
import type { SessionTracker } from '../deviations/sessions.js';
import type { Repositories } from '../store/contract.js';

export interface IngestBatch {
  agentInstanceId: string;
  seq: number;
  observations: readonly Observation[];
}

export interface DetectionModules {
  deriver: ItemDeriver;
  declared: DeclaredBaselines;
  lifecycle: BaselineLifecycle;
  learner: Learner;
  sessions: SessionTracker;
  evaluator: DeviationEvaluator;
  handStartedJobs: HandStartedJobs;
}

type Outcome = 'denied' | 'session' | 'learned' | 'allowed' | 'deviation';
const OUTCOMES: readonly Outcome[] = ['denied', 'session', 'learned', 'allowed', 'deviation'];

/** Batches handed to the unit of work whose transaction has not committed (or failed) yet. */
export interface IngestPending {
  batches: number;
  observations: number;
}

/** Batches counted from when they are received until they are done with (the completion signal). */
export class InFlightBatches {
  private readonly counts: IngestPending = { batches: 0, observations: 0 };

  /** Counts a batch; the returned release uncounts it, once however often it is called. */
  hold(observations: number): () => void {
    this.counts.batches += 1;
    this.counts.observations += observations;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.counts.batches -= 1;
      this.counts.observations -= observations;
    };
  }

  pending(): IngestPending {
    return { ...this.counts };
  }
}

export class IngestUnitOfWork {
  private readonly outcomes: Counter<'result'>;
  private readonly inFlight = new InFlightBatches();

  constructor(
    private readonly runner: ChangeRunner,
    private readonly m: DetectionModules,
    registry?: Registry,
  ) {
    this.outcomes = new Counter({
      name: 'driftwatch_engine_observations_total',
      help: 'Observations evaluated by the engine, by result',
      labelNames: ['result'],
      registers: registry ? [registry] : [],
    });
  }

  /** Stores and evaluates a batch; false when it was stored before (a re-send: only acknowledge it). */
  async ingest(batch: IngestBatch): Promise<boolean> {
    const release = this.inFlight.hold(batch.observations.length);
    try {
      return await this.commit(batch);
    } finally {
      release();
    }
  }

  /** Handed in and not yet stored: the ingest stage of the completion signal (collector/status.ts). */
  pending(): IngestPending {
    return this.inFlight.pending();
  }

  private async commit(batch: IngestBatch): Promise<boolean> {
    const counts = new Map<Outcome, number>();
    const stored = await commitChanges(this.runner, async (tx, changes) => {
      if (batch.seq <= (await tx.agents.lastSeq(batch.agentInstanceId))) return false;
      // Stored and evaluated as the workload they belong to: a Job started by hand from a CronJob is its run.
      const observations = await this.m.handStartedJobs.map(tx, batch.observations);
      await tx.observations.insertBatch(batch.agentInstanceId, batch.seq, observations);
      let newest = 0;
      for (const obs of observations) {
        const outcome = await this.observe(tx, obs, changes);
        counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
        if (obs.time > newest) newest = obs.time;
      }
      // Learning windows end in event time: the batch's newest event moves the clock.
      if (newest > 0) await this.m.lifecycle.tick(tx, newest, changes);
      await tx.agents.commitSeq(batch.agentInstanceId, batch.seq, new Date().toISOString());
      return true;
    });
    for (const o of OUTCOMES) if (counts.has(o)) this.outcomes.inc({ result: o }, counts.get(o));
    return stored;
  }

  /** Advances event-time state (ends learning windows) up to this event time, outside a batch. */
  tick(nowEventMs: number): Promise<void> {
    return commitChanges(this.runner, (tx, changes) => this.m.lifecycle.tick(tx, nowEventMs, changes));
  }

  private async observe(tx: Repositories, obs: Observation, changes: ChangeSet): Promise<Outcome> {
    const { lifecycle, learner, sessions, evaluator } = this.m;
    const decl = this.m.declared.forWorkload(obs.workload);
    const view = await lifecycle.viewFor(tx, obs, decl, changes);
    const item = this.m.deriver.derive(obs);
    const startup = lifecycle.isStartup(obs);
    if (await evaluator.denied(tx, view, obs, item, decl, startup, changes)) return 'denied';
    const learns = await learner.learns(tx, view, obs, changes);
    const enforced = !learns || decl.mode === 'replace';
    const session = await sessions.observe(tx, view, obs, item, decl, startup, enforced, changes);
    if (session) return session;
    if (learns && !enforced && (await evaluator.alertWhileLearning(tx, view, obs, item, decl, startup, changes))) return 'deviation';
    if (learns) await learner.learn(tx, view, item, obs, startup, changes);
    if (!enforced) return 'learned';
    return evaluator.evaluate(tx, view, obs, item, decl, startup, changes);
  }
}
