import { DnsAnswers } from './dns/answers.js';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { DriftwatchConfig } from '../common/config/schema.js';
import { once } from '../common/lifecycle.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { workloadKey, type Observation, type WorkloadId } from '../common/model.js';
import { OpsServer } from '../common/ops-server.js';
import type { WireSourceCounters } from '../common/wire.js';
import { EdgeFilter } from './filter/edge-filter.js';
import type { ObservationSink, Source } from './pipeline.js';
import { Shipper } from './ship/shipper.js';
import { createIdentityResolver } from './identity/resolver.js';
import { createLineage, createSource } from './sources/index.js';
import { registerLossMetrics } from './sources/loss-metrics.js';

export interface AgentHandle {
  readonly httpPort: number;
  readonly sources: readonly Source[];
  readonly shipper: Shipper;
  readonly filter: EdgeFilter;
  readonly registry: Registry;
  close(): Promise<void>;
}

export interface StartAgentOptions {
  logger?: Logger;
  registry?: Registry;
}

/**
 * Wires the agent: sources → lineage/identity → edge filter → shipper → collector.
 * Start order follows the data backwards (shipper first, sources last) so nothing is read before
 * it can be shipped; close order is the reverse: sources stop, the shipper drains, then exits.
 */
export async function startAgent(config: Readonly<DriftwatchConfig>, opts: StartAgentOptions = {}): Promise<AgentHandle> {
  const logger = opts.logger ?? silentLogger();
  const registry = opts.registry ?? new Registry();
  // prom-client's standard process_* / nodejs_* names, unprefixed: stock Node.js dashboards work.
  if (!opts.registry) collectDefaultMetrics({ register: registry });
  const a = config.agent;
  if (!a.node) throw new Error('agent.node is not set (the DaemonSet passes spec.nodeName as DRIFTWATCH_AGENT__NODE)');
  if (a.sources.length === 0) throw new Error('agent.sources is empty: configure at least one source (tetragon-grpc, falco-http, …)');

  const filter = new EdgeFilter();
  const sources: Source[] = [];
  const matched = new Counter({
    name: 'driftwatch_agent_matched_baseline_total',
    help: 'Observations dropped at the edge because the workload baseline allows them.',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'driftwatch_agent_edge_baselines',
    help: 'Workload baselines the edge filter holds, by phase.',
    labelNames: ['phase'] as const,
    registers: [registry],
    collect() {
      for (const [phase, n] of Object.entries(filter.phaseCounts())) this.labels(phase).set(n);
    },
  });
  const dropped = new Counter({
    name: 'driftwatch_agent_ship_dropped_total',
    help: 'Observations dropped because the ship queue was full.',
    labelNames: ['source'] as const,
    registers: [registry],
  });

  const shipper = new Shipper({
    config: a,
    cluster: config.cluster,
    logger: logger.child({ component: 'ship' }),
    registry,
    sources: () => sources.map((s) => s.name),
    counters: () => sources.map(toWireCounters),
    onSnapshot: (baselines) => filter.replaceAll(baselines),
    onDelta: (upserts, removed) => {
      filter.upsert(upserts);
      filter.remove(removed);
    },
    heldHash: (w) => filter.hashOf(w),
  });

  // Workload identities are interned by the identity resolver, so "seen this workload" is an
  // object-identity check on the hot path; the key string is built once per new workload.
  const announced = new WeakSet<WorkloadId>();
  const sourceByKind = new Map<string, Source>();
  const sink: ObservationSink = {
    offer(obs: Observation): boolean {
      if (!announced.has(obs.workload)) {
        announced.add(obs.workload);
        shipper.announceWorkload(obs.workload, workloadKey(obs.workload));
      }
      if (!filter.shouldSend(obs)) {
        const s = sourceByKind.get(obs.source);
        if (s) s.counters.matchedBaseline++;
        matched.inc({ source: obs.source });
        return true;
      }
      if (shipper.enqueue(obs)) return true;
      dropped.inc({ source: obs.source });
      return false;
    },
    waitForCapacity: () => shipper.waitForCapacity(),
  };

  const lineage = createLineage(a);
  const identity = createIdentityResolver(a, logger.child({ component: 'identity' }));
  // One per node: an answer read by any source names the connections every source reports.
  const dns = new DnsAnswers();
  for (const cfg of a.sources) {
    const source = createSource(cfg, { node: a.node, cluster: config.cluster, logger: logger.child({ component: `source:${cfg.name ?? cfg.kind}` }), registry, sink, lineage, identity, dns });
    sources.push(source);
    sourceByKind.set(source.kind, source);
  }
  registerLossMetrics(registry, () => sources);

  const ops = new OpsServer(a.http.listen, registry, undefined, undefined, a.http.connections);
  ops.addProbe(() => shipper.readiness());
  ops.addProbe(() => identity.readiness());
  ops.addProbe(() => sources.map((s) => ({ name: `source:${s.name}`, ready: s.connected, detail: s.connected ? 'connected' : 'not connected' })));

  const started: { close(): Promise<void> }[] = [];
  try {
    await ops.start();
    started.push(ops);
    await shipper.start();
    started.push(shipper);
    await identity.start();
    started.push(identity);
    for (const s of sources) {
      await s.start();
      started.push(s);
    }
  } catch (err) {
    for (const c of started.reverse()) await c.close();
    throw err;
  }
  logger.info('agent started', { node: a.node, sources: sources.map((s) => s.name), collector: a.collector.addresses ?? [a.collector.address], instance: shipper.instanceId });

  return {
    httpPort: ops.port,
    sources,
    shipper,
    filter,
    registry,
    close: once(async () => {
      for (const s of sources) await s.close();
      await identity.close();
      await shipper.close();
      await ops.close();
    }),
  };
}

function toWireCounters(s: Source): WireSourceCounters {
  return { source: s.name, ...s.counters, connected: s.connected, lastEventMs: s.lastEventMs };
}
