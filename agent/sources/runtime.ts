/**
 * What every source shares: its counters and Prometheus metrics, the normalise context, and
 * delivery to the sink with back-pressure.
 *
 * Hot path = plain integer increments on `counters`; the Prometheus counters are brought up to
 * date from them when /metrics is scraped (`collect`), so no label lookup happens per event.
 * Label sets are closed: source (config name), kind (SOURCE_KINDS), result (EVENT_RESULTS).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../common/logger.js';
import { emptyCounters, type Observation, type RejectReason, type SourceCounters, type SourceKind } from '../../common/model.js';
import type { LineageCache } from '../lineage/cache.js';
import type { WorkloadResolver } from '../identity/resolver.js';
import type { SourceConfig } from '../../common/config/schema.js';
import type { ObservationSink, Source } from '../pipeline.js';
import type { NormaliseContext, NormaliseResult } from '../normalise/context.js';
import type { DnsAnswers } from '../dns/answers.js';

export interface SourceDeps {
  /** This node's name (events that name none are attributed to it). */
  node: string;
  cluster: string;
  logger: Logger;
  registry: Registry;
  sink: ObservationSink;
  lineage: LineageCache;
  identity: WorkloadResolver;
  /** The node's DNS answers, shared by its sources (one per agent). */
  dns?: DnsAnswers;
}

export const EVENT_RESULTS = ['observed', 'ignored', 'state', 'malformed', 'dropped'] as const;
export type EventResult = (typeof EVENT_RESULTS)[number];

interface Exported {
  runtime: SourceRuntime;
  last: Record<EventResult, number>;
}

class SourceMetrics {
  readonly runtimes: Exported[] = [];
  readonly lineages = new Set<LineageCache>();
  readonly reconnects: Counter<'source' | 'kind'>;
  readonly httpRequests: Counter<'source' | 'status'>;

  constructor(registry: Registry) {
    const self = this;
    new Counter({
      name: 'driftwatch_source_events_total',
      help: 'Source events by result: observed (became an observation), ignored (not used), state (fed the process cache only), malformed, dropped (downstream full).',
      labelNames: ['source', 'kind', 'result'] as const,
      registers: [registry],
      collect() {
        for (const e of self.runtimes) {
          for (const result of EVENT_RESULTS) {
            const now = e.runtime.results[result];
            const delta = now - e.last[result];
            if (delta > 0 || now === 0) this.labels(e.runtime.name, e.runtime.kind, result).inc(delta);
            e.last[result] = now;
          }
        }
      },
    });
    new Gauge({
      name: 'driftwatch_source_connected',
      help: '1 when the source is connected to its peer (gRPC), listening (HTTP) or reading (file).',
      labelNames: ['source', 'kind'] as const,
      registers: [registry],
      collect() {
        for (const e of self.runtimes) this.labels(e.runtime.name, e.runtime.kind).set(e.runtime.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'driftwatch_source_last_event_timestamp_seconds',
      help: 'Event time of the last event a source read.',
      labelNames: ['source', 'kind'] as const,
      registers: [registry],
      collect() {
        for (const e of self.runtimes) this.labels(e.runtime.name, e.runtime.kind).set(e.runtime.lastEventMs / 1000);
      },
    });
    new Gauge({
      name: 'driftwatch_lineage_processes',
      help: 'Processes held in the lineage cache.',
      registers: [registry],
      collect() {
        let n = 0;
        for (const l of self.lineages) n += l.size;
        this.set(n);
      },
    });
    const evicted = new Counter({
      name: 'driftwatch_lineage_evictions_total',
      help: 'Processes evicted from the lineage cache because it was full (oldest first).',
      registers: [registry],
      collect() {
        let n = 0;
        for (const l of self.lineages) n += l.stats.evicted;
        const delta = n - lastEvicted;
        if (delta > 0) this.inc(delta);
        lastEvicted = n;
      },
    });
    let lastEvicted = 0;
    void evicted;
    this.reconnects = new Counter({
      name: 'driftwatch_source_reconnects_total',
      help: 'Reconnect attempts of a source whose peer (Tetragon, Falco) went away or was not there.',
      labelNames: ['source', 'kind'] as const,
      registers: [registry],
    });
    this.httpRequests = new Counter({
      name: 'driftwatch_source_http_requests_total',
      help: 'Requests received by the Falco HTTP source, by response status.',
      labelNames: ['source', 'status'] as const,
      registers: [registry],
    });
  }
}

const metricsByRegistry = new WeakMap<Registry, SourceMetrics>();

function metricsFor(registry: Registry): SourceMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) metricsByRegistry.set(registry, (m = new SourceMetrics(registry)));
  return m;
}

/** The state a source reports (Source interface fields) plus accounting of normalise results. */
export class SourceRuntime {
  readonly counters: SourceCounters = emptyCounters();
  readonly results: Record<EventResult, number> = { observed: 0, ignored: 0, state: 0, malformed: 0, dropped: 0 };
  readonly ctx: NormaliseContext;
  readonly metrics: SourceMetrics;
  connected = false;
  lastEventMs = 0;

  constructor(
    readonly kind: SourceKind,
    readonly name: string,
    readonly deps: SourceDeps,
  ) {
    this.ctx = { source: kind, cluster: deps.cluster, node: deps.node, lineage: deps.lineage, identity: deps.identity, counters: this.counters, ...(deps.dns ? { dns: deps.dns } : {}) };
    this.metrics = metricsFor(deps.registry);
    this.metrics.runtimes.push({ runtime: this, last: { observed: 0, ignored: 0, state: 0, malformed: 0, dropped: 0 } });
    this.metrics.lineages.add(deps.lineage);
  }

  /** Counts one event's result; returns the observation to deliver, or null. */
  account(r: NormaliseResult): Observation | null {
    this.counters.seen++;
    if (typeof r === 'string') {
      this.results[r]++;
      if (r === 'malformed') this.rejected(this.ctx.rejection ?? 'not-an-event');
      else this.counters.ignored++;
      return null;
    }
    this.results.observed++;
    this.counters.observed++;
    if (r.time > this.lastEventMs) this.lastEventMs = r.time;
    return r;
  }

  /**
   * Normalises and accounts one decoded event. A normaliser that throws on some hostile shape
   * (JSON input is not type-checked) counts the event as malformed instead of killing the source.
   */
  normalise<T>(normaliser: (value: T, ctx: NormaliseContext) => NormaliseResult, value: T): Observation | null {
    let r: NormaliseResult;
    try {
      r = normaliser(value, this.ctx);
    } catch {
      r = 'malformed';
      this.ctx.rejection = 'normaliser-error';
    }
    return this.account(r);
  }

  /** An event that could not even be decoded (or was refused before decoding: too large…). */
  malformed(reason: RejectReason = 'undecodable'): void {
    this.counters.seen++;
    this.results.malformed++;
    this.rejected(reason);
  }

  private rejected(reason: RejectReason): void {
    this.counters.malformed++;
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
  }

  dropped(): void {
    this.counters.dropped++;
    this.results.dropped++;
  }

  reconnected(): void {
    this.metrics.reconnects.labels(this.name, this.kind).inc();
  }

  detach(): void {
    const i = this.metrics.runtimes.findIndex((e) => e.runtime === this);
    if (i >= 0) this.metrics.runtimes.splice(i, 1);
  }
}

/** What every source exposes, backed by its runtime. */
export abstract class RuntimeSource implements Source {
  readonly kind: SourceKind;
  readonly name: string;
  protected readonly runtime: SourceRuntime;

  constructor(cfg: SourceConfig, deps: SourceDeps) {
    this.kind = cfg.kind;
    this.name = cfg.name ?? cfg.kind;
    this.runtime = new SourceRuntime(this.kind, this.name, deps);
  }

  get counters(): SourceCounters {
    return this.runtime.counters;
  }
  get connected(): boolean {
    return this.runtime.connected;
  }
  get lastEventMs(): number {
    return this.runtime.lastEventMs;
  }

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;
}

/**
 * Delivery for sources that can pause their input (gRPC streams, files): when the sink refuses an
 * observation, the input is paused, the observation (and whatever was already in flight) waits
 * in a small backlog, and the input resumes once the sink has taken them all. Memory stays
 * bounded; only a backlog overflow (input that ignores pause) drops, and counts it.
 */
export class PausableDelivery {
  private readonly backlog: Observation[] = [];
  private draining = false;
  private drainDone: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly runtime: SourceRuntime,
    private readonly pause: () => void,
    private readonly resume: () => void,
    private readonly maxBacklog = 10_000,
  ) {}

  get paused(): boolean {
    return this.draining;
  }

  deliver(obs: Observation): void {
    if (this.draining) {
      if (this.backlog.length >= this.maxBacklog) this.runtime.dropped();
      else this.backlog.push(obs);
      return;
    }
    if (this.runtime.deps.sink.offer(obs)) return;
    this.backlog.push(obs);
    this.draining = true;
    this.pause();
    this.drainDone = this.drain();
  }

  /** Resolves when nothing waits (for file sources that await between reads). */
  idle(): Promise<void> {
    return this.drainDone;
  }

  private async drain(): Promise<void> {
    const sink = this.runtime.deps.sink;
    while (this.backlog.length > 0 && !this.closed) {
      await sink.waitForCapacity();
      let taken = 0;
      while (taken < this.backlog.length && sink.offer(this.backlog[taken]!)) taken++;
      this.backlog.splice(0, taken);
    }
    this.draining = false;
    if (!this.closed) this.resume();
  }

  close(): void {
    this.closed = true;
    for (let i = 0; i < this.backlog.length; i++) this.runtime.dropped();
    this.backlog.length = 0;
  }
}
