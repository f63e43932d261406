/**
 * Detection, assembled: the baseline and deviation modules over one store, the ingest unit of work
 * that drives them, the reviews people use, and the edge baselines pushed to agents. This file
 * only wires; what happens to an observation is in `ingest/unit-of-work.ts`.
 */
import { Counter, type Registry } from 'prom-client';
import type { CollectorConfig } from '../common/config/schema.js';
import type { BaselineSummary, Deviation, DeviationStatus } from '../common/deviations.js';
import { parseDuration } from '../common/duration.js';
import { ItemDeriver, type PeerResolver } from '../common/items/derive.js';
import { once, type Component, type Readiness } from '../common/lifecycle.js';
import type { Logger } from '../common/logger.js';
import type { WorkloadId } from '../common/model.js';
import { DeclaredBaselines, formatDeclaredError, type DeclaredError, type ReloadResult } from './baselines/declared.js';
import { EdgeBaselines } from './baselines/edge.js';
import { Learner } from './baselines/learn.js';
import { BaselineLifecycle, type LearningWindows } from './baselines/lifecycle.js';
import { BaselineReview } from './baselines/review.js';
import { HandStartedJobs, RunLearning } from './baselines/runs.js';
import { BaselineViews } from './baselines/view.js';
import { clusterWindowStart } from './baselines/windows.js';
import { loadAddressSetsDir, type AddressSets } from './addresses/address-sets.js';
import { DeclaredNameHistory } from './addresses/declared-names.js';
import { commitChanges, type ChangeRunner, type ChangeSet } from './changes.js';
import { applyReplicaMessage, replicaMessages } from './replicas.js';
import { DeviationEvaluator } from './deviations/evaluate.js';
import { DeviationReview } from './deviations/review.js';
import { SessionTracker } from './deviations/sessions.js';
import { SeverityRules } from './deviations/severity.js';
import type { CollectorBus } from './events.js';
import { IngestUnitOfWork } from './ingest/unit-of-work.js';
import type { Repositories, Store } from './store/contract.js';
import { join } from 'node:path';

export interface DetectionOptions {
  store: Store;
  bus: CollectorBus;
  config: Readonly<CollectorConfig>;
  logger: Logger;
  registry?: Registry;
  /** Resolves pod and service addresses (Kubernetes API watcher); without it pods are a class. */
  resolver?: PeerResolver | null;
  /** Cached baseline views (default 10,000). */
  maxCachedBaselines?: number;
}

export class Detection implements Component, ChangeRunner {
  readonly name = 'detection';
  readonly store: Store;
  private readonly stopExternalWrites: () => void;
  private readonly stopReplicas: () => void;
  readonly declared: DeclaredBaselines;
  readonly edge: EdgeBaselines;
  readonly unitOfWork: IngestUnitOfWork;
  readonly baselineReview: BaselineReview;
  readonly deviationReview: DeviationReview;
  /** The named address sets in force (read once at start: provider files change daily, not per event). */
  readonly addressSets: AddressSets;
  /** Exact declared names resolved by the collector, with the history of their answers (null: off). */
  readonly declaredNames: DeclaredNameHistory | null;
  private readonly views: BaselineViews;
  private readonly windows: LearningWindows;
  private readonly created: Counter<'kind'>;

  constructor(private readonly opts: DetectionOptions) {
    const c = opts.config;
    this.store = opts.store;
    const windowMs = parseDuration(c.learning.window);
    const sets = loadAddressSetsDir(c.network.addressSetsDir ?? join(c.dataDir, 'address-sets'));
    for (const e of sets.errors) opts.logger.warn('address set file left out', { error: e });
    if (sets.files.length) opts.logger.info('address sets loaded', { files: sets.files.map((f) => `${f.path} (${f.format}, ${f.entries} ranges)`), sets: sets.sets.size });
    this.addressSets = sets.sets;
    const dn = c.network.declaredNames;
    this.declaredNames = dn.resolve
      ? new DeclaredNameHistory({
          intervalMs: parseDuration(dn.every),
          keepForMs: parseDuration(dn.keepFor),
          maxNames: dn.maxNames,
          maxAddressesPerName: dn.maxAddressesPerName,
          servers: dn.servers,
          registry: opts.registry,
          onError: (name, error) => opts.logger.warn('resolving a declared DNS name failed; its earlier answers stay in force until they expire', { name, error }),
        })
      : null;
    const deriver = new ItemDeriver(c.network, opts.resolver ?? null, sets.sets, this.declaredNames);
    this.views = new BaselineViews(opts.maxCachedBaselines);
    this.declared = new DeclaredBaselines({
      dir: c.baselinesDir,
      onChange: () => {
        this.updateDeclaredNames();
        this.edge.allChanged().catch((err: unknown) => opts.logger.error('edge push after a declared change failed', { error: String(err) }));
      },
      onError: (errors) => {
        for (const e of errors) opts.logger.warn('declared baseline rejected; its last good version stays in force', { error: formatDeclaredError(e) });
      },
      lastGood: opts.store.declared,
      onSaveError: (file, err) => opts.logger.error('saving the last good content of a declared baseline file failed: after a restart with a broken file it would not be in force', { file, error: String(err) }),
    });
    const evaluator = new DeviationEvaluator(deriver, new SeverityRules({ serviceCidrs: c.network.serviceCidrs }), windowMs);
    const lifecycle = new BaselineLifecycle(this.views, evaluator, {
      windowMs,
      maxWindowMs: Math.max(windowMs, parseDuration(c.learning.maxWindow)),
      // Never longer than the window itself: the first item must not set the minimum learning time.
      extensionMs: Math.min(windowMs, parseDuration(c.learning.extension ?? '6h')),
      graceMs: parseDuration(c.learning.startupGrace),
      imagePolicy: c.learning.imagePolicy,
      runs: c.learning.runs ?? 3,
      // Set in start(): `install` is read from the store.
      clusterWindowEndMs: null,
    });
    this.windows = lifecycle.windows;
    const learner = new Learner(deriver, lifecycle, evaluator, { maxItems: c.learning.maxItemsPerBaseline, generaliseAfter: c.network.generaliseAfter ?? 1 }, new RunLearning(lifecycle));
    this.edge = new EdgeBaselines(this.store, this.views, this.declared, deriver, parseDuration(c.learning.edgeDedupWindow ?? '10m'));
    this.unitOfWork = new IngestUnitOfWork(this, { deriver, declared: this.declared, lifecycle, learner, sessions: new SessionTracker(deriver, evaluator), evaluator, handStartedJobs: new HandStartedJobs() }, opts.registry);
    // Another replica on the database wrote: the views may hold what it changed since.
    this.stopExternalWrites = this.store.onExternalWrite(() => this.views.discard());
    const receiver = { store: this.store, bus: opts.bus, discard: () => this.views.discard(), edgeChanged: (ids: number[]) => this.edge.changed(ids) };
    this.stopReplicas = this.store.replicas.subscribe((message) => {
      applyReplicaMessage(message, receiver).catch((err: unknown) => opts.logger.warn('a change from another replica could not be applied', { error: (err as Error).message }));
    });
    this.baselineReview = new BaselineReview(this.views, lifecycle);
    this.deviationReview = new DeviationReview(this.views, lifecycle, learner);
    this.created = new Counter({
      name: 'driftwatch_engine_deviations_created_total',
      help: 'Deviations created, by kind',
      labelNames: ['kind'],
      registers: opts.registry ? [opts.registry] : [],
    });
  }

  async start(): Promise<void> {
    const startMs = clusterWindowStart(this.opts.config.learning.startAt, await this.store.learning.installedAtMs());
    this.windows.clusterWindowEndMs = startMs === null ? null : startMs + this.windows.windowMs;
    await this.declared.restore();
    this.declared.reload();
    this.declared.watch();
    // The reload above handed the names over (onChange); resolving starts now.
    this.declaredNames?.start();
  }

  private updateDeclaredNames(): void {
    if (!this.declaredNames) return;
    this.declaredNames.setNames(this.declared.exactDnsNames());
    if (this.declaredNames.namesLeftOut) this.opts.logger.warn('more exact declared DNS names than collector.network.declaredNames.maxNames: the rest are not resolved', { leftOut: this.declaredNames.namesLeftOut });
  }

  close = once(async () => {
    this.stopExternalWrites();
    this.stopReplicas();
    await this.declaredNames?.close();
    this.declared.close();
    await this.declared.saved();
    this.edge.close();
  });

  /**
   * /readyz: a declared file with a problem degrades the collector (its last good content, or
   * nothing of it, is in force) but must not take it out of its Service — ingest and detection go
   * on, and the fix is a commit, not a restart.
   */
  declaredReadiness(): Readiness {
    const errors = this.declared.errors();
    return {
      name: 'declared-baselines',
      ready: errors.length === 0,
      detail: errors.length === 0 ? `${this.declared.all().length} declared baseline(s) in force` : errors.map(formatDeclaredError).join('; '),
    };
  }

  /** Re-reads the declared baselines now (the directory is also watched). */
  reload(): ReloadResult {
    return this.declared.reload();
  }

  /** Problems of the declared baselines' last reload (file:line:column + reason). */
  declaredErrors(): DeclaredError[] {
    return this.declared.errors();
  }

  /** Runs a change (a review, with its audit entry) in one transaction; announces it after commit. */
  change<T>(fn: (tx: Repositories, changes: ChangeSet) => Promise<T>): Promise<T> {
    return commitChanges(this, fn);
  }

  discard(): void {
    this.views.discard();
  }

  async publish(changes: ChangeSet): Promise<void> {
    const { bus } = this.opts;
    for (const e of changes.events) bus.emit(e);
    // One read for the whole batch: a batch of an agent can create hundreds of deviations.
    const stored = await this.store.deviations.getMany([...changes.deviations.keys(), ...changes.statuses.map((s) => s.id)]);
    for (const [id, what] of changes.deviations) {
      const d = stored.get(id)?.deviation;
      if (d) bus.emit({ type: what === 'created' ? 'deviation.created' : 'deviation.updated', deviation: d });
    }
    for (const s of changes.statuses) {
      const d = stored.get(s.id)?.deviation;
      if (d) bus.emit({ type: 'deviation.status', deviation: d, previous: s.previous, actor: s.actor });
    }
    for (const kind of changes.createdKinds) this.created.inc({ kind });
    await this.edge.changed(changes.edgeWorkloads);
    if (this.store.backend === 'sqlite') return;
    for (const message of replicaMessages(changes)) {
      await this.store.replicas.publish(message).catch((err: unknown) => this.opts.logger.warn('other replicas could not be told of a change', { error: (err as Error).message }));
    }
  }

  // One-call forms of the reviews, each its own transaction (the CLI, tests and the demo use them).

  approve(id: number, version: number, actor: string, comment: string): Promise<BaselineSummary> {
    return this.change((tx, ch) => this.baselineReview.approve(tx, ch, id, version, actor, comment));
  }

  reject(id: number, version: number, actor: string, comment: string): Promise<BaselineSummary> {
    return this.change((tx, ch) => this.baselineReview.reject(tx, ch, id, version, actor, comment));
  }

  relearn(workload: WorkloadId): Promise<BaselineSummary> {
    return this.change((tx, ch) => this.baselineReview.relearn(tx, ch, workload));
  }

  setStatus(id: number, status: Exclude<DeviationStatus, 'added-to-baseline'>, actor: string, comment: string): Promise<Deviation> {
    return this.change((tx, ch) => this.deviationReview.setStatus(tx, ch, id, status, actor, comment));
  }

  addToBaseline(id: number, actor: string, comment: string): Promise<Deviation> {
    return this.change((tx, ch) => this.deviationReview.addToBaseline(tx, ch, id, actor, comment));
  }

  async getDeviation(id: number): Promise<Deviation | undefined> {
    return (await this.store.deviations.get(id))?.deviation;
  }

  async listBaselines(filter: { namespace?: string; phase?: string } = {}): Promise<BaselineSummary[]> {
    const out: BaselineSummary[] = [];
    for (const id of await this.store.baselines.currentIds(filter)) {
      const s = await this.store.baselines.summary(id);
      if (s) out.push(s);
    }
    return out;
  }

  async currentBaseline(workload: WorkloadId): Promise<BaselineSummary | undefined> {
    const wid = await this.store.workloads.find(workload);
    const b = wid === undefined ? undefined : await this.store.baselines.current(wid);
    return b ? this.store.baselines.summary(b.id) : undefined;
  }
}
