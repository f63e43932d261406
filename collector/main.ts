import { Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftwatchConfig } from '../common/config.js';
import { once } from '../common/lifecycle.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { OpsServer } from '../common/ops-server.js';
import type { DetectionEngine } from './contracts.js';
import { createEngine, type Engine } from './baselines/engine.js';
import { CollectorBus } from './events.js';
import { IngestServer } from './ingest/server.js';
import { openDatabase, type SqlDatabase } from './store/db.js';

export interface CollectorHandle {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly db: SqlDatabase;
  readonly bus: CollectorBus;
  readonly engine: DetectionEngine;
  readonly registry: Registry;
  readonly ops: OpsServer;
  close(): Promise<void>;
}

export interface StartCollectorOptions {
  logger?: Logger;
  registry?: Registry;
  /** Replaces the detection engine (transport tests). */
  engine?: (deps: { db: SqlDatabase; bus: CollectorBus; logger: Logger }) => DetectionEngine;
}

/**
 * Wires the collector: store → engine → ingest (gRPC) → alerting → API/UI on the HTTP server.
 * Start order is the data's order; close order is the reverse, each step awaited: stop intake
 * first, then flush what is in flight, then close the store.
 */
export async function startCollector(config: Readonly<DriftwatchConfig>, opts: StartCollectorOptions = {}): Promise<CollectorHandle> {
  const logger = opts.logger ?? silentLogger();
  const registry = opts.registry ?? new Registry();
  if (!opts.registry) collectDefaultMetrics({ register: registry, prefix: 'driftwatch_collector_' });
  const c = config.collector;

  const db = openDatabase({ dataDir: c.dataDir });
  const bus = new CollectorBus();
  const closers: (() => Promise<void> | void)[] = [() => db.close()];
  try {
    const engine: DetectionEngine = opts.engine
      ? opts.engine({ db, bus, logger })
      : createEngine({ db, bus, config: c, cluster: config.cluster, logger: logger.child({ component: 'engine' }), registry });
    if (!opts.engine) closers.unshift(() => (engine as Engine).close());
    if (!opts.engine) await (engine as Engine).start();

    const ingest = new IngestServer({ config: c.grpc, db, engine, bus, logger: logger.child({ component: 'ingest' }), registry });
    await ingest.start();
    closers.unshift(() => ingest.close());

    const ops = new OpsServer(c.http.listen, registry);
    ops.addProbe(() => ingest.readiness());
    await ops.start();
    closers.unshift(() => ops.close());

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
