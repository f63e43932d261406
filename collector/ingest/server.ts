import * as grpc from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CollectorConfig } from '../../common/config-schema.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import { workloadKey } from '../../common/model.js';
import { grpcServerCredentials } from '../../common/tls.js';
import {
  INGEST_SERVICE,
  edgeBaselineToWire,
  observationFromWire,
  toNumber,
  validateWireObservation,
  workloadFromWire,
  type AgentMessage,
  type CollectorMessage,
  type WireObservation,
} from '../../common/wire.js';
import type { DetectionEngine, EdgeBaseline } from '../contracts.js';
import type { CollectorBus } from '../events.js';
import { AgentsTable } from '../store/agents.js';
import type { SqlDatabase } from '../store/db.js';
import { ObservationsTable } from '../store/observations.js';

type Stream = grpc.ServerDuplexStream<AgentMessage, CollectorMessage>;

interface Session {
  stream: Stream;
  instanceId: string;
  node: string;
  /** Workloads the agent announced, by key: deltas for them are pushed. */
  workloads: Map<string, WorkloadId>;
  snapshotSent: boolean;
}

export interface IngestOptions {
  config: CollectorConfig['grpc'];
  db: SqlDatabase;
  engine: DetectionEngine;
  bus: CollectorBus;
  logger: Logger;
  registry: Registry;
}

/**
 * The collector's gRPC endpoint: authenticates agents (mTLS), validates what they send, stores each
 * batch exactly once — the batch's observations, the engine's learning/deviations and the agent's
 * sequence number commit in ONE transaction, so a batch re-sent after a reconnect or a collector
 * restart is recognised by (instance, seq) and only acknowledged — and pushes edge baselines back.
 */
export class IngestServer implements Component {
  readonly name = 'ingest-grpc';
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.keepalive_permit_without_calls': 1 });
  private readonly sessions = new Set<Session>();
  private readonly agents: AgentsTable;
  private readonly observations: ObservationsTable;
  private boundPort = 0;
  private edgeVersion = 0;
  private unsubscribeEdge: (() => void) | undefined;
  private readonly metrics;

  constructor(private readonly opts: IngestOptions) {
    this.agents = new AgentsTable(opts.db);
    this.observations = new ObservationsTable(opts.db);
    const registers = [opts.registry];
    this.metrics = {
      observations: new Counter({
        name: 'driftwatch_collector_observations_total',
        help: 'Observations received from agents, by result (stored, duplicate = part of a re-sent batch, invalid).',
        labelNames: ['result'] as const,
        registers,
      }),
      batches: new Counter({ name: 'driftwatch_collector_batches_total', help: 'Observation batches received, by result.', labelNames: ['result'] as const, registers }),
      batchSeconds: new Histogram({
        name: 'driftwatch_collector_batch_seconds',
        help: 'Time to validate, store and evaluate one batch (one transaction).',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers,
      }),
      agentsConnected: new Gauge({ name: 'driftwatch_collector_agents_connected', help: 'Agent streams currently open.', registers }),
    };
    for (const r of ['stored', 'duplicate', 'invalid'] as const) this.metrics.observations.inc({ result: r }, 0);
  }

  get port(): number {
    return this.boundPort;
  }

  readiness(): Readiness {
    return { name: this.name, ready: this.boundPort > 0, detail: `${this.sessions.size} agent(s) connected` };
  }

  async start(): Promise<void> {
    this.agents.markAllDisconnected();
    const { listen, tls, insecure } = this.opts.config;
    const credentials = grpcServerCredentials(listen, tls, insecure);
    this.server.addService(INGEST_SERVICE, { connect: (call: Stream) => this.onConnect(call) });
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(listen, credentials, (err, port) => (err ? reject(err) : resolve(port)));
    });
    this.unsubscribeEdge = this.opts.engine.onEdgeChange((changed) => this.pushEdgeChanges(changed));
    this.opts.logger.info('ingest listening', { listen, port: this.boundPort, tls: Boolean(tls?.cert), mtls: Boolean(tls?.cert) && (tls?.requireClientCert ?? true) });
  }

  private onConnect(stream: Stream): void {
    let session: Session | undefined;
    stream.on('data', (msg: AgentMessage) => {
      try {
        if (msg.hello) session = this.onHello(stream, msg.hello);
        else if (!session) {
          stream.destroy(Object.assign(new Error('first message must be hello'), { code: grpc.status.FAILED_PRECONDITION }));
        } else if (msg.batch) this.onBatch(session, msg.batch.seq, msg.batch.observations ?? []);
        else if (msg.counters) this.agents.setCounters(session.instanceId, { sources: msg.counters.sources, shipDropped: toNumber(msg.counters.shipDropped) }, new Date().toISOString());
        else if (msg.workloads) this.onWorkloads(session, (msg.workloads.workloads ?? []).map(workloadFromWire));
      } catch (err) {
        this.opts.logger.error('ingest failed; closing the stream so the agent re-sends', { error: String((err as Error).stack ?? err) });
        stream.destroy(Object.assign(new Error('collector error'), { code: grpc.status.UNAVAILABLE }));
      }
    });
    const end = (): void => {
      if (!session || !this.sessions.delete(session)) return;
      this.metrics.agentsConnected.set(this.sessions.size);
      const at = new Date().toISOString();
      this.agents.disconnected(session.instanceId, at);
      const agent = this.agents.get(session.instanceId);
      if (agent) this.opts.bus.emit({ type: 'agent.disconnected', agent });
    };
    stream.on('end', () => {
      end();
      stream.end();
    });
    stream.on('error', end);
    stream.on('close', end);
  }

  private onHello(stream: Stream, hello: NonNullable<AgentMessage['hello']>): Session {
    if (!hello.instanceId || !hello.node) throw new Error('hello without instance id or node');
    const at = new Date().toISOString();
    const lastSeq = this.agents.hello({ instanceId: hello.instanceId, node: hello.node, cluster: hello.cluster, version: hello.agentVersion, sources: hello.sources ?? [] }, at);
    const session: Session = { stream, instanceId: hello.instanceId, node: hello.node, workloads: new Map(), snapshotSent: false };
    this.sessions.add(session);
    this.metrics.agentsConnected.set(this.sessions.size);
    // Acknowledge what is already stored, so a reconnecting agent drops those batches at once.
    if (lastSeq > 0) stream.write({ ack: { seq: lastSeq } });
    const agent = this.agents.get(hello.instanceId);
    if (agent) this.opts.bus.emit({ type: 'agent.connected', agent });
    return session;
  }

  private onBatch(session: Session, seqValue: number | { toNumber(): number }, wire: readonly WireObservation[]): void {
    const seq = toNumber(seqValue);
    const endTimer = this.metrics.batchSeconds.startTimer();
    const observations: Observation[] = [];
    let invalid = 0;
    for (const w of wire) {
      if (validateWireObservation(w) === null) observations.push(observationFromWire(w));
      else invalid++;
    }
    const ctx = { agentInstanceId: session.instanceId, node: session.node };
    const { engine } = this.opts;
    let stored: boolean;
    try {
      stored = this.opts.db.transaction(() => {
        if (seq <= this.agents.lastSeq(session.instanceId)) return false;
        this.observations.insertBatch(session.instanceId, seq, observations);
        engine.ingest(observations, ctx);
        // Learning windows end in event time: the batch's newest event moves the clock.
        let newest = 0;
        for (const o of observations) if (o.time > newest) newest = o.time;
        if (newest > 0) engine.tick(newest);
        this.agents.commitSeq(session.instanceId, seq, new Date().toISOString());
        return true;
      });
    } catch (err) {
      // Rolled back: the engine's caches must not run ahead of the database.
      engine.discardPending();
      throw err;
    }
    engine.flushEvents();
    endTimer();
    this.metrics.batches.inc({ result: stored ? 'stored' : 'duplicate' });
    this.metrics.observations.inc({ result: stored ? 'stored' : 'duplicate' }, observations.length);
    if (invalid) this.metrics.observations.inc({ result: 'invalid' }, invalid);
    session.stream.write({ ack: { seq } });
  }

  private onWorkloads(session: Session, workloads: WorkloadId[]): void {
    const fresh: WorkloadId[] = [];
    for (const w of workloads) {
      const key = workloadKey(w);
      if (!session.workloads.has(key)) {
        session.workloads.set(key, w);
        fresh.push(w);
      }
    }
    const version = ++this.edgeVersion;
    if (!session.snapshotSent) {
      session.snapshotSent = true;
      const baselines = this.opts.engine.edgeBaselines([...session.workloads.values()]).map(edgeBaselineToWire);
      session.stream.write({ snapshot: { version, baselines } });
    } else if (fresh.length) {
      session.stream.write({ delta: { version, upserts: this.opts.engine.edgeBaselines(fresh).map(edgeBaselineToWire), removed: [] } });
    }
  }

  private pushEdgeChanges(changed: EdgeBaseline[]): void {
    if (!changed.length) return;
    const version = ++this.edgeVersion;
    for (const s of this.sessions) {
      const upserts = changed.filter((b) => s.workloads.has(workloadKey(b.workload))).map(edgeBaselineToWire);
      if (upserts.length) s.stream.write({ delta: { version, upserts, removed: [] } });
    }
  }

  close = once(async () => {
    this.unsubscribeEdge?.();
    for (const s of this.sessions) s.stream.end();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 3000);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  });
}
