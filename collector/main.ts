import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftwatchConfig } from '../common/config/schema.js';
import { parseDuration } from '../common/duration.js';
import { once } from '../common/lifecycle.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { isLoopbackAddress } from '../common/net.js';
import { OpsServer } from '../common/ops-server.js';
import { createApi } from './api/server.js';
import { createAlerting } from './outbox/index.js';
import { CollectorBus } from './events.js';
import { WireRejections } from './health/rejections.js';
import { StorageMonitor } from './health/storage.js';
import { IngestServer } from './ingest/server.js';
import { createPeerResolver } from './kubernetes/peer-resolver.js';
import { Detection } from './detection.js';
import { openStore, redactedUrl, type Store } from './store/index.js';
import { registerStateMetrics } from './state-metrics.js';
import { readPipelineStatus } from './status.js';

export interface CollectorHandle {
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly store: Store;
  readonly bus: CollectorBus;
  readonly detection: Detection;
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

  const store = await openStore({ dataDir: c.dataDir, store: c.store });
  if (store.backend === 'postgres') logger.info('store: PostgreSQL', { url: redactedUrl(c.store.url ?? '') });
  registerStateMetrics(registry, store.reports);
  const bus = new CollectorBus();
  const closers: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    closers.unshift(watchLeadership(store, registry, logger));
    // A full or failing database volume makes the collector not ready, never stops it.
    const storage = new StorageMonitor({ store, logger: logger.child({ component: 'storage' }), registry });
    await storage.start();
    closers.unshift(() => storage.close());

    // Names pod and Service peers; it answers null until the API is listed (pods are a class then).
    const resolver = createPeerResolver(c, logger.child({ component: 'kubernetes' }));
    await resolver.start();
    closers.unshift(() => resolver.close());

    const detection = new Detection({ store, bus, config: c, logger: logger.child({ component: 'detection' }), registry, resolver });
    await detection.start();
    closers.unshift(() => detection.close());

    // Alerting subscribes before ingest starts, so no deviation can be raised unseen.
    const rejections = new WireRejections();
    const healthInputs = { rejections, pods: resolver.podsView(), declared: detection.declared };
    const alerting = createAlerting({ store, bus, config, logger: logger.child({ component: 'alerting' }), registry, healthInputs });
    await alerting.start();
    closers.unshift(() => alerting.close());

    const ingest = new IngestServer({ config: c.grpc, cluster: config.cluster, store, unitOfWork: detection.unitOfWork, edge: detection.edge, bus, logger: logger.child({ component: 'ingest' }), registry, rejections });
    await ingest.start();
    closers.unshift(() => ingest.close());
    const retention = { observationsMs: parseDuration(c.retention.observations), agentsMs: parseDuration(c.retention.agents) };
    const prune = async (): Promise<void> => {
      // Of several replicas on one database, the leader alone applies retention.
      if (!store.leadership.isLeader()) return;
      try {
        const n = await store.prune(retention, Date.now());
        if (n.observations || n.agents) logger.info('retention: pruned', n);
      } catch (err) {
        logger.error('retention failed', { error: String(err) });
      }
    };
    await prune();
    const housekeeping = setInterval(() => void prune(), 10 * 60_000);
    housekeeping.unref();
    closers.unshift(() => clearInterval(housekeeping));

    const status = () => readPipelineStatus({ ingest, alerting });
    const api = createApi({ store, bus, reviews: detection, declared: detection.declared, config, logger: logger.child({ component: 'api' }), status });
    await api.start();
    closers.unshift(() => api.close());
    const ops = new OpsServer(c.http.listen, registry, api.handle, c.http.tls, c.http.connections);
    ops.addProbe(() => ingest.readiness());
    ops.addProbe(() => storage.readiness());
    // A failing alert receiver or Kubernetes API is reported, but must not take the collector
    // out of its Service: that would cut off every agent's ingest.
    ops.addProbe(() => alerting.readiness(), { critical: false });
    ops.addProbe(() => resolver.readiness(), { critical: false });
    ops.addProbe(() => detection.declaredReadiness(), { critical: false });
    await ops.start();
    // Tokens travel in the Authorization header: in plaintext beyond loopback anyone on the path
    // reads them (fine behind a TLS-terminating ingress or a mesh, which this cannot see).
    if (!(c.http.tls?.cert && c.http.tls.key) && !isLoopbackAddress(c.http.listen))
      logger.warn('the HTTP API listens in plaintext on a non-loopback address: API tokens cross the network unencrypted; set collector.http.tls or terminate TLS in front', { listen: c.http.listen });
    // Closed right after the API, not before it: the API's WebSocket clients are upgraded
    // sockets that the HTTP server's close would wait for.
    closers.splice(1, 0, () => ops.close());
    api.attachStream(ops.httpServer!);

    return {
      httpPort: ops.port,
      grpcPort: ingest.port,
      store,
      bus,
      detection,
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

/**
 * Leadership (several replicas on one PostgreSQL database) as a gauge and a log line on every
 * change: which replica does the periodic work. Returns the unsubscribe.
 */
function watchLeadership(store: Store, registry: Registry, logger: Logger): () => void {
  const gauge = new Gauge({
    name: 'driftwatch_collector_leader',
    help: '1 while this collector does the periodic work (alert sweeps, outbox delivery, retention); one replica on a database at a time',
    registers: [registry],
  });
  gauge.set(store.leadership.isLeader() ? 1 : 0);
  if (store.backend === 'postgres' && store.leadership.isLeader()) logger.info('leadership: this replica does the periodic work');
  return store.leadership.onChange((leading) => {
    gauge.set(leading ? 1 : 0);
    logger.info(leading ? 'leadership: this replica does the periodic work' : 'leadership: lost; another replica does the periodic work');
  });
}
