import { Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftwatchConfig } from '../common/config.js';
import { parseDuration } from '../common/duration.js';
import { once } from '../common/lifecycle.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { OpsServer } from '../common/ops-server.js';
import { createApi } from './api/server.js';
import { createEngine, type Engine } from './baselines/engine.js';
import { createAlerting } from './outbox/index.js';
import { CollectorBus } from './events.js';
import { IngestServer } from './ingest/server.js';
import { createPeerResolver } from './kubernetes/peer-resolver.js';
import { openDatabase, type SqlDatabase } from './store/db.js';
import { registerStateMetrics } from './state-metrics.js';

export interface CollectorHandle {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly db: SqlDatabase;
  readonly bus: CollectorBus;
  readonly engine: Engine;
  readonly registry: Registry;
  readonly ops: OpsServer;
  close(): Promise<void>;
}

export interface StartCollectorOptions {
  logger?: Logger;
  registry?: Registry;
}

/**
 * Wires the collector: store → Kubernetes peer resolver → engine → ingest (gRPC) → alerting →
 * API/UI on the HTTP server.
 * Start order is the data's order; close order is the reverse, each step awaited: stop intake
 * first, then flush what is in flight, then close the store.
 */
export async function startCollector(config: Readonly<DriftwatchConfig>, opts: StartCollectorOptions = {}): Promise<CollectorHandle> {
  const logger = opts.logger ?? silentLogger();
  const registry = opts.registry ?? new Registry();
  // prom-client's standard process_* / nodejs_* names, unprefixed: stock Node.js dashboards work.
  if (!opts.registry) collectDefaultMetrics({ register: registry });
  const c = config.collector;

  const db = openDatabase({ dataDir: c.dataDir });
  registerStateMetrics(registry, db);
  const bus = new CollectorBus();
  const closers: (() => Promise<void> | void)[] = [() => db.close()];
  try {
    // Names pod and Service peers; it answers null until the API is listed (pods are a class then).
    const resolver = createPeerResolver(c, logger.child({ component: 'kubernetes' }));
    await resolver.start();
    closers.unshift(() => resolver.close());

    const engine = createEngine({ db, bus, config: c, cluster: config.cluster, logger: logger.child({ component: 'engine' }), registry, resolver });
    await engine.start();
    closers.unshift(() => engine.close());

    // Alerting subscribes before ingest starts, so no deviation can be raised unseen.
    const alerting = createAlerting({ db, bus, config, logger: logger.child({ component: 'alerting' }), registry, deviations: engine });
    await alerting.start();
    closers.unshift(() => alerting.close());

    const ingest = new IngestServer({ config: c.grpc, cluster: config.cluster, db, engine, bus, logger: logger.child({ component: 'ingest' }), registry });
    await ingest.start();
    closers.unshift(() => ingest.close());
    const retention = { observationsMs: parseDuration(c.retention.observations), agentsMs: parseDuration(c.retention.agents) };
    const prune = (): void => {
      try {
        const n = ingest.prune(retention);
        if (n.observations || n.agents) logger.info('retention: pruned', n);
      } catch (err) {
        logger.error('retention failed', { error: String(err) });
      }
    };
    prune();
    const housekeeping = setInterval(prune, 10 * 60_000);
    housekeeping.unref();
    closers.unshift(() => clearInterval(housekeeping));

    const api = createApi({ db, bus, baselines: engine, deviations: engine, config, logger: logger.child({ component: 'api' }) });
    await api.start();
    closers.unshift(() => api.close());
    const ops = new OpsServer(c.http.listen, registry, api.handle, c.http.tls);
    ops.addProbe(() => ingest.readiness());
    // A failing alert receiver or Kubernetes API is reported, but must not take the collector
    // out of its Service: that would cut off every agent's ingest.
    ops.addProbe(() => alerting.readiness(), { critical: false });
    ops.addProbe(() => resolver.readiness(), { critical: false });
    await ops.start();
    // Closed right after the API, not before it: the API's WebSocket clients are upgraded
    // sockets that the HTTP server's close would wait for.
    closers.splice(1, 0, () => ops.close());
    api.attachStream(ops.httpServer!);

    return {
      httpPort: ops.port,
      grpcPort: ingest.port,
      db,
      bus,
      engine,
      registry,
      ops,
      close: once(async () => {
        for (const close of closers) await close();
      }),
    };
  } catch (err) {
    for (const close of closers) await close();
    throw err;
  }
}
