/**
 * Alerting, wired: bus → Alerter (decisions into the outbox) → one SinkDispatcher per sink,
 * plus the health monitor. `createAlerting` validates and builds everything synchronously
 * (configuration errors throw ConfigError); `start()` resumes whatever the outbox holds.
 */
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import type { DriftwatchConfig } from '../../common/config/schema.js';
import { parseDuration } from '../../common/duration.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { Deviation } from '../../common/deviations.js';
import type { CollectorBus } from '../events.js';
import { HealthMonitor, type HealthInputs } from '../health/monitor.js';
import { createSink, SINKS, validateSinks } from '../sinks/index.js';
import type { SinkContext } from '../sinks/types.js';
import type { OutboxRepository, Store } from '../store/contract.js';
import { Alerter, type RoutedSink } from './alerter.js';
import { uiBaseUrl } from '../links.js';
import { SinkDispatcher } from './dispatcher.js';
import { createAlertingMetrics } from './metrics.js';
import { compileRoute } from './routing.js';

export interface AlertingOptions {
  store: Store;
  bus: CollectorBus;
  config: Readonly<DriftwatchConfig>;
  logger: Logger;
  registry: Registry;
  /** Wall clock (ms); tests inject one. */
  clock?: { now(): number };
  /** Where the stdout sink writes (default process.stdout). */
  stdout?: NodeJS.WritableStream;
  /**
   * Where deviations are read from when alerting catches up at start with events missed in a crash
   * (open deviations of the last retry.maxAge without alert state, ended ones still alerting).
   * Default: the store.
   */
  deviations?: { getDeviation(id: number): Promise<Deviation | undefined> };
  /** What the health monitor reads beyond the agents table (rejections, the cluster's pods). */
  healthInputs?: Omit<HealthInputs, 'cluster' | 'missingAgentAfterMs'>;
}

export interface AlertingComponent extends Component {
  /** One entry per sink: not ready while it has been failing for longer than alerting.unreadyAfter. */
  readiness(): Readiness[];
  /** What alerting has not finished: undecided deviations and undelivered notifications per sink. */
  pending(): Promise<AlertingPending>;
  /** Runs due decisions (grouping, held back, updates, re-notify) now instead of at their time. */
  sweep(): Promise<void>;
  /** Runs the health checks now. */
  checkHealth(): Promise<void>;
  /** Expires rows older than retry.maxAge and prunes old ones now (normally every minute). */
  housekeeping(): Promise<void>;
  readonly outbox: OutboxRepository;
}

export interface AlertingPending {
  /** Deviation and health events received from the bus whose decision has not committed. */
  undecidedEvents: number;
  /** Deviations waiting for their workload's grouping decision. */
  grouping: number;
  /** Notifications held back by the rate limit (sent when tokens return). */
  heldBack: number;
  /** Notified alerts whose grown content (new commands, new members) waits for its update. */
  updates: number;
  /** Notifications in the outbox not yet delivered (nor failed for good, nor expired), per sink. */
  outbox: Record<string, number>;
}

const HOUSEKEEPING_MS = 60_000;
/** The decision timer is set at most this far ahead (setTimeout's own limit is ~24.8 days); it is set again when it fires. */
const MAX_TIMER_MS = 3_600_000;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

export function createAlerting(opts: AlertingOptions): AlertingComponent {
  const cfg = opts.config.collector.alerting;
  const now = opts.clock ? () => opts.clock!.now() : Date.now;
  const outbox = opts.store.outbox;
  // Several replicas on one database: sweeps (grouping, rate limit, re-notification), delivery and
  // housekeeping run on the leader only (collector/store/postgres/leader.ts).
  const leading = (): boolean => opts.store.leadership.isLeader();
  const sinkConfigs = cfg.enabled ? cfg.sinks : [];
  validateSinks(sinkConfigs);

  const ctx: SinkContext = { now, hostname: hostname(), stdout: opts.stdout ?? process.stdout };
  const renotifyMs = parseDuration(cfg.renotifyInterval);
  const routed: RoutedSink[] = sinkConfigs.map((c) => ({
    name: c.name,
    route: compileRoute(c),
    keepAlive: SINKS[c.type].keepAlive,
    intervalMs: c.renotifyInterval !== undefined ? parseDuration(c.renotifyInterval) : (SINKS[c.type].defaultRenotifyMs ?? renotifyMs),
  }));
  const dispatchers = new Map<string, SinkDispatcher>();
  const metrics = createAlertingMetrics(
    opts.registry,
    sinkConfigs.map((c) => c.name),
    () => outbox.queueStats(),
    () => new Map([...dispatchers].map(([name, d]) => [name, d.failing])),
    now,
  );
  const retry = { initialMs: parseDuration(cfg.retry.initial), maxMs: parseDuration(cfg.retry.max) };
  const maxAgeMs = parseDuration(cfg.retry.maxAge);
  const retentionMs = parseDuration(cfg.retention);
  const groupWaitMs = parseDuration(cfg.grouping.wait);
  const ratePerMs = parseDuration(cfg.rateLimit.per);
  const idlePollMs = clamp(retry.initialMs, 10, 1000);
  try {
    for (const c of sinkConfigs) {
      const sink = createSink(c, ctx);
      dispatchers.set(c.name, new SinkDispatcher(sink, c.enabled, { store: outbox, metrics, logger: opts.logger, now, retry, unreadyAfterMs: parseDuration(cfg.unreadyAfter), idlePollMs, leading }));
    }
  } catch (err) {
    metrics.unregister();
    for (const d of dispatchers.values()) void d.sink.close();
    throw err;
  }

  const alerter = new Alerter(
    opts.store,
    routed,
    {
      cluster: opts.config.cluster,
      baseUrl: uiBaseUrl(opts.config.collector.http),
      renotifyMs,
      groupThreshold: cfg.grouping.threshold,
      groupWindowMs: parseDuration(cfg.grouping.window),
      groupWaitMs,
      maxListed: cfg.grouping.maxListed,
      immediateSeverity: cfg.grouping.immediateSeverity === 'none' ? null : cfg.grouping.immediateSeverity,
      updateIntervalMs: parseDuration(cfg.updateInterval),
      rateMax: cfg.rateLimit.max,
      ratePerMs,
      storeRetryMs: idlePollMs,
    },
    now,
    metrics,
    (sinks) => {
      for (const name of sinks) dispatchers.get(name)?.wake();
    },
    (atMs) => armDecisionTimer(atMs),
  );

  const h = cfg.health;
  const health = new HealthMonitor({
    bus: opts.bus,
    agents: opts.store.agents,
    now,
    openKeys: () => outbox.openHealthKeys(),
    logger: opts.logger,
    inputs: { ...opts.healthInputs, cluster: opts.config.cluster, missingAgentAfterMs: parseDuration(h.missingAgentAfter) },
    settings: {
      checkIntervalMs: parseDuration(h.checkInterval),
      disconnectedAfterMs: parseDuration(h.disconnectedAfter),
      forgetAfterMs: parseDuration(h.forgetAfter),
      silentAfterMs: parseDuration(h.silentAfter),
      silentFactor: h.silentFactor,
      dropRatio: h.dropRatio,
      malformedRatio: h.malformedRatio,
      minEvents: h.minEvents,
    },
  });

  const timers: NodeJS.Timeout[] = [];
  let unsubscribe: (() => void) | undefined;

  const housekeeping = async (): Promise<void> => {
    if (!leading()) return;
    try {
      const t = now();
      for (const [sink, n] of await outbox.expire(t - maxAgeMs, t)) {
        metrics.sends.inc({ sink, result: 'expired' }, n);
        opts.logger.warn('alert notifications expired undelivered', { sink, count: n, maxAge: cfg.retry.maxAge });
      }
      await outbox.prune(t - retentionMs);
    } catch (err) {
      metrics.errors.inc();
      opts.logger.error('alert outbox housekeeping failed', { error: (err as Error).message });
    }
  };

  const sweep = async (): Promise<void> => {
    if (!leading()) return;
    try {
      await alerter.sweep();
    } catch (err) {
      metrics.errors.inc();
      opts.logger.error('alert sweep failed', { error: (err as Error).message });
      // The decisions stay due in the store: look again after a retry delay rather than never.
      if (!decisionTimer) armDecisionTimer(now() + idlePollMs);
    }
  };

  // One timer, set after each decision run to the next decision it reports (read from the store,
  // so always the earliest): a notification leaves when its grouping wait, update interval or
  // re-notify interval ends, not at a later tick.
  let decisionTimer: NodeJS.Timeout | undefined;
  let accepting = false;
  function armDecisionTimer(atMs: number | undefined): void {
    clearTimeout(decisionTimer);
    decisionTimer = undefined;
    if (!accepting || atMs === undefined) return;
    decisionTimer = setTimeout(() => {
      decisionTimer = undefined;
      void sweep();
    }, clamp(atMs - now(), 0, MAX_TIMER_MS));
    decisionTimer.unref();
  }

  return {
    name: 'alerting',
    outbox,
    async start() {
      if (!cfg.enabled) return;
      accepting = true;
      unsubscribe = opts.bus.subscribe((e) => alerter.handle(e));
      await housekeeping();
      {
        const read = opts.deviations ? (id: number) => opts.deviations!.getDeviation(id) : async (id: number) => (await opts.store.deviations.get(id))?.deviation;
        try {
          const caughtUp = await alerter.reconcile(read, now() - maxAgeMs);
          if (caughtUp > 0) opts.logger.info('alerting caught up with deviations changed while it was not listening', { count: caughtUp });
        } catch (err) {
          metrics.errors.inc();
          opts.logger.error('alerting could not catch up with missed deviations', { error: (err as Error).message });
        }
      }
      for (const d of dispatchers.values()) d.start();
      timers.push(setInterval(() => void housekeeping(), clamp(maxAgeMs / 4, 10, HOUSEKEEPING_MS)));
      for (const t of timers) t.unref();
      await health.start();
      await sweep();
      opts.logger.info('alerting started', { sinks: sinkConfigs.map((c) => `${c.name}(${c.type}${c.enabled ? '' : ', disabled'})`).join(' ') || 'none' });
    },
    readiness: () => [...dispatchers.values()].map((d) => d.readiness()),
    async pending() {
      // Read before the store: an event decided meanwhile is then counted twice, never missed.
      const undecidedEvents = cfg.enabled ? alerter.undecidedEvents : 0;
      const [undecided, queues] = await Promise.all([outbox.undecided(), outbox.queueStats()]);
      const perSink = Object.fromEntries(sinkConfigs.map((c) => [c.name, 0]));
      for (const q of queues) perSink[q.sink] = q.depth;
      return { undecidedEvents, ...undecided, outbox: perSink };
    },
    sweep,
    checkHealth: () => health.check(),
    housekeeping,
    close: once(async () => {
      unsubscribe?.();
      await alerter.drain();
      accepting = false;
      armDecisionTimer(undefined);
      for (const t of timers) clearInterval(t);
      await health.close();
      await Promise.all([...dispatchers.values()].map((d) => d.close()));
      metrics.unregister();
    }),
  };
}
