/**
 * The pipeline `driftwatch replay` runs recordings through, in one process: the agent's file
 * source (parse → normalise → lineage → identity), one edge filter and batcher per node as each
 * node's agent would have, then the collector's unit of work, detection and alerting over a real
 * store. Nothing is simulated but the network between them.
 *
 * Event time drives everything: learning windows and deviations already follow it; the alerting
 * clock follows the newest event shipped, so a grouping wait or the rate limit covers the same
 * stretch of the recording as it would have live, and days replay in seconds. Decisions are
 * swept after every batch. At the end of the input the clock runs on from the last event (in
 * steps of the grouping wait (or the update interval) while deviations wait for a decision or
 * alerts for their update, then in wall time while the
 * outbox delivers), so the replay ends exactly when the completion signal says idle.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { EdgeFilter } from '../agent/filter/edge-filter.js';
import { IdentityResolver } from '../agent/identity/resolver.js';
import type { ObservationSink } from '../agent/pipeline.js';
import { createLineage, FileSource } from '../agent/sources/index.js';
import type { SourceCounters, Observation } from '../common/model.js';
import type { DriftwatchConfig } from '../common/config/schema.js';
import { parseDuration } from '../common/duration.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { Detection } from '../collector/detection.js';
import { CollectorBus } from '../collector/events.js';
import { createAlerting, type AlertingComponent } from '../collector/outbox/index.js';
import { readPipelineStatus, type PipelineStatus } from '../collector/status.js';
import type { Store } from '../collector/store/index.js';
import { openSqliteStore } from '../collector/store/sqlite/store.js';
import type { DeviationCursor, DeviationListItem } from '../collector/store/queries.js';

export type RecordingKind = 'tetragon-json' | 'falco-json';

/** Observations per batch: what an agent ships at once under load (`agent.ship` batches). */
const BATCH_SIZE = 25;
/** How often the end of a replay looks again while notifications are being delivered. */
const DELIVERY_POLL_MS = 50;

/** Event time while the recording plays; after its end, event time runs on (jumps, then wall time). */
class ReplayClock {
  private eventMs = 0;
  private jumpedMs = 0;
  private endedAt: number | null = null;

  advance(ms: number): void {
    if (ms > this.eventMs) this.eventMs = ms;
  }

  get lastEventMs(): number {
    return this.eventMs;
  }

  end(): void {
    this.endedAt ??= Date.now();
  }

  jump(ms: number): void {
    this.jumpedMs += ms;
  }

  now(): number {
    return this.eventMs + this.jumpedMs + (this.endedAt === null ? 0 : Date.now() - this.endedAt);
  }
}

interface NodeAgent {
  instanceId: string;
  filter: EdgeFilter;
  batch: Observation[];
  seq: number;
}

export interface ReplayCounts {
  /** Observations the sources made (after normalising), and those the edge filters let through. */
  observations: number;
  sent: number;
  source: SourceCounters[];
}

export class ReplayPipeline {
  readonly store: Store;
  readonly detection: Detection;
  readonly alerting: AlertingComponent;
  private readonly bus = new CollectorBus();
  /** Alerting's own metrics: the replay's summary reads the notifications it decided there. */
  private readonly registry = new Registry();
  private readonly clock = new ReplayClock();
  private readonly agents = new Map<string, NodeAgent>();
  private readonly lineage;
  private readonly identity = new IdentityResolver(null);
  private readonly stepMs: number;
  private readonly sourceCounters: SourceCounters[] = [];
  private observations = 0;
  private sent = 0;
  /** The batch being shipped: the source waits for it (back-pressure, as from an agent's queue). */
  private shipping: Promise<void> | null = null;
  private lastNode: string | null = null;
  private failure: Error | null = null;
  /**
   * Agent instances are new in every run: a store kept with --data-dir knows the batch numbers of
   * an earlier replay, and would take this one's batches for re-sends of those.
   */
  private readonly runId = randomUUID().slice(0, 8);

  constructor(
    private readonly config: Readonly<DriftwatchConfig>,
    opts: { logger?: Logger; stdout?: Writable } = {},
  ) {
    const logger = opts.logger ?? silentLogger();
    // A replay is one process in event time: the embedded store, whatever collector.store says.
    this.store = openSqliteStore({ dataDir: config.collector.dataDir });
    this.detection = new Detection({ store: this.store, bus: this.bus, config: config.collector, logger });
    this.alerting = createAlerting({ store: this.store, bus: this.bus, config, logger, registry: this.registry, clock: this.clock, ...(opts.stdout ? { stdout: opts.stdout } : {}) });
    this.lineage = createLineage(config.agent, { now: () => this.clock.lastEventMs });
    const a = config.collector.alerting;
    this.stepMs = Math.max(parseDuration(a.grouping.wait), parseDuration(a.rateLimit.per) / a.rateLimit.max, parseDuration(a.updateInterval), 1000);
    this.detection.edge.onChange((changed) => {
      for (const agent of this.agents.values()) agent.filter.upsert(changed);
    });
  }

  async start(): Promise<void> {
    await this.detection.start();
    await this.alerting.start();
  }

  /** Reads one recording to its end; throws when it cannot be read. */
  async play(path: string, kind: RecordingKind): Promise<void> {
    const sink: ObservationSink = { offer: (obs) => this.offer(obs), waitForCapacity: () => this.shipping ?? Promise.resolve() };
    const source = new FileSource(
      { kind, name: kind, address: path },
      { node: 'replay', cluster: this.config.cluster, logger: silentLogger(), registry: new Registry(), sink, lineage: this.lineage, identity: this.identity },
    );
    await source.start();
    await source.done;
    await source.close();
    await this.shipping;
    for (const agent of this.agents.values()) await this.ship(agent);
    this.sourceCounters.push(source.counters);
    if (this.failure) throw this.failure;
    if (source.error) throw new Error(`${path}: ${source.error.message}`);
  }

  private offer(obs: Observation): boolean {
    if (this.failure) throw this.failure;
    if (this.shipping) return false;
    let agent = this.agents.get(obs.node);
    if (!agent) {
      agent = { instanceId: `${obs.node}-replay-${this.runId}`, filter: new EdgeFilter(), batch: [], seq: 0 };
      this.agents.set(obs.node, agent);
      // A new agent gets what the collector already knows, as on connect; then the source offers again.
      this.inBackground(this.snapshotTo(agent.filter));
      return false;
    }
    // Each node's stream is shipped in its own order: a change of node first ships the previous one's batch.
    const previous = this.lastNode !== null && this.lastNode !== obs.node ? this.agents.get(this.lastNode) : undefined;
    if (previous && previous.batch.length > 0) {
      this.inBackground(this.ship(previous));
      return false;
    }
    this.lastNode = obs.node;
    this.observations += 1;
    if (agent.filter.shouldSend(obs)) {
      this.sent += 1;
      agent.batch.push(obs);
      if (agent.batch.length >= BATCH_SIZE) this.inBackground(this.ship(agent));
    }
    return true;
  }

  /** Work the source waits for before it offers more; a failure stops the source (offer throws it). */
  private inBackground(work: Promise<void>): void {
    this.shipping = work
      .catch((err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
      })
      .finally(() => {
        this.shipping = null;
      });
  }

  private async snapshotTo(filter: EdgeFilter): Promise<void> {
    const known = (await this.detection.listBaselines()).map((b) => b.workload);
    filter.replaceAll(await this.detection.edge.forWorkloads(known));
  }

  private async ship(agent: NodeAgent): Promise<void> {
    if (agent.batch.length === 0) return;
    const observations = agent.batch.splice(0);
    await this.detection.unitOfWork.ingest({ agentInstanceId: agent.instanceId, seq: ++agent.seq, observations });
    // Deviations of this batch are admitted at the time reached so far, then the clock moves on.
    await this.alerting.sweep();
    this.clock.advance(Math.max(...observations.map((o) => o.time)));
    await this.alerting.sweep();
  }

  /**
   * After the input: lets event time run on until every deviation is decided and every
   * notification delivered, or until `timeoutMs` of wall time. Returns the last status.
   */
  async settle(timeoutMs: number): Promise<PipelineStatus> {
    this.clock.end();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.alerting.sweep();
      const s = await this.status();
      if (s.idle || Date.now() >= deadline) return s;
      if (s.alerting.grouping > 0 || s.alerting.heldBack > 0 || s.alerting.updates > 0) this.clock.jump(this.stepMs);
      else await new Promise((resolve) => setTimeout(resolve, DELIVERY_POLL_MS));
    }
  }

  status(): Promise<PipelineStatus> {
    return readPipelineStatus({ ingest: this.detection.unitOfWork, alerting: this.alerting });
  }

  /** Every deviation the replay raised, oldest first. */
  async deviations(): Promise<DeviationListItem[]> {
    const out: DeviationListItem[] = [];
    let after: DeviationCursor | undefined;
    do {
      const page = await this.store.queries.listDeviations({ scope: null, sort: 'created', descending: false, limit: 500, ...(after ? { after } : {}) });
      out.push(...page.items);
      after = page.next ?? undefined;
    } while (after);
    return out;
  }

  /** Notifications decided (before fan-out to sinks), by reason: new, renotify, resolved. */
  async notificationsDecided(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const metric = await this.registry.getSingleMetric('driftwatch_alert_notifications_total')?.get();
    for (const v of metric?.values ?? []) if (v.value > 0) out[String(v.labels.reason)] = (out[String(v.labels.reason)] ?? 0) + v.value;
    return out;
  }

  counts(): ReplayCounts {
    return { observations: this.observations, sent: this.sent, source: this.sourceCounters };
  }

  async close(): Promise<void> {
    await this.alerting.close();
    await this.detection.close();
    await this.identity.close();
    await this.store.close();
  }
}
