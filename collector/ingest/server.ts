import * as grpc from '@grpc/grpc-js';
import { createServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CollectorConfig } from '../../common/config/schema.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import { ConnectionGuard } from '../../common/connections.js';
import { parseDuration } from '../../common/duration.js';
import { parseHostPort } from '../../common/net.js';
import { grpcServerCredentials } from '../../common/tls.js';
import {
  INGEST_SERVICE,
  observationFromWire,
  toNumber,
  validateWireObservation,
  WIRE_REJECT_REASONS,
  workloadFromWire,
  type WireRejectReason,
  type AgentMessage,
  type CollectorMessage,
  type WireObservation,
} from '../../common/wire.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import type { CollectorBus } from '../events.js';
import type { WireRejections } from '../health/rejections.js';
import { StorageUnavailableError, type Store } from '../store/contract.js';
import { AgentSelfReports } from './agent-counters.js';
import { EdgeSync } from './edge-sync.js';
import { AgentPresence } from './presence.js';
import { InFlightBatches, type IngestBatch, type IngestPending } from './unit-of-work.js';
import { certificateNames, endWithStatus, MAX_WORKLOADS_PER_AGENT, NAME, ProtocolError, writeBounded, type ProtocolViolation, type Stream } from './protocol.js';


interface Session {
  stream: Stream;
  instanceId: string;
  node: string;
  /** The edge baselines of the workloads the agent announced: what it holds, what it still needs. */
  edge: EdgeSync;
}

/** Stores and evaluates a batch exactly once (`ingest/unit-of-work.ts`); false for a re-sent batch. */
export interface BatchIngest {
  ingest(batch: IngestBatch): Promise<boolean>;
  /** Batches handed to it and not yet stored. */
  pending(): IngestPending;
}

/** The edge baselines agents filter with (`baselines/edge.ts`). */
export interface EdgeSource {
  forWorkloads(workloads: readonly WorkloadId[]): Promise<EdgeBaseline[]>;
  onChange(listener: (changed: EdgeBaseline[]) => void): () => void;
}

export interface IngestOptions {
  config: CollectorConfig['grpc'];
  /** The cluster this collector serves (config `cluster`): every observation is stamped with it. */
  cluster: string;
  store: Store;
  unitOfWork: BatchIngest;
  edge: EdgeSource;
  bus: CollectorBus;
  logger: Logger;
  registry: Registry;
  /** Where refused observations are recorded for the health monitor (per node and reason). */
  rejections?: WireRejections;
}

/**
 * The collector's gRPC endpoint: authenticates agents (mTLS), validates what they send, stores each
 * batch exactly once — the batch's observations, the engine's learning/deviations and the agent's
 * sequence number commit in ONE transaction, so a batch re-sent after a reconnect or a collector
 * restart is recognised by (instance, seq) and only acknowledged — and pushes edge baselines back.
 */
export class IngestServer implements Component {
  readonly name = 'ingest-grpc';
  private readonly server: grpc.Server;
  /** Accepts the TCP connections (capped in all and per address) and hands them to grpc-js. */
  private listener: NetServer | undefined;
  readonly connectionGuard: ConnectionGuard;
  private readonly sessions = new Set<Session>();
  private boundPort = 0;
  private unsubscribeEdge: (() => void) | undefined;
  private readonly metrics;
  private readonly maxSkewMs: number;
  private readonly presence: AgentPresence;
  /** What agents say about themselves (hello, counters), bounded before it is stored. */
  private readonly selfReports: AgentSelfReports;
  /** Batches received from a stream and not yet handed to the unit of work (queued, checked). */
  private readonly received = new InFlightBatches();

  constructor(private readonly opts: IngestOptions) {
    const limits = opts.config.connections;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
      // A connection without a call (one that never started one, or an agent gone quiet) is closed.
      'grpc.max_connection_idle_ms': parseDuration(limits.idleTimeout),
      // Pings find peers that vanished without closing (a node lost): their connections are freed.
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
      // An agent holds one stream; a few more cover a reconnect's overlap, not a flood of calls.
      'grpc.max_concurrent_streams': 8,
    });
    this.connectionGuard = new ConnectionGuard(this.name, limits, opts.registry);
    const registers = [opts.registry];
    this.metrics = {
      observations: new Counter({
        name: 'driftwatch_collector_observations_total',
        help: 'Observations received from agents, by result (stored, duplicate = part of a re-sent batch, invalid) and, for invalid ones, reason.',
        labelNames: ['result', 'reason'] as const,
        registers,
      }),
      batches: new Counter({ name: 'driftwatch_collector_batches_total', help: 'Observation batches received, by result.', labelNames: ['result'] as const, registers }),
      batchSeconds: new Histogram({
        name: 'driftwatch_collector_batch_seconds',
        help: 'Time to validate, store and evaluate one batch (one transaction).',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
        registers,
      }),
      unavailable: new Counter({
        name: 'driftwatch_collector_ingest_unavailable_total',
        help: 'Agent messages answered UNAVAILABLE because the store cannot take writes (disk full, I/O error, read-only): the agent keeps them and retries.',
        labelNames: ['message'] as const,
        registers,
      }),
      agentsConnected: new Gauge({ name: 'driftwatch_collector_agents_connected', help: 'Agent streams currently open.', registers }),
      protocolErrors: new Counter({
        name: 'driftwatch_collector_agent_protocol_errors_total',
        help: 'Agent streams closed for breaking the protocol, by reason.',
        labelNames: ['reason'] as const,
        registers,
      }),
      ...this.edgeMetrics(registers),
    };
    this.maxSkewMs = parseDuration(opts.config.maxClockSkew);
    this.presence = new AgentPresence({ agents: opts.store.agents, bus: opts.bus, logger: opts.logger, isConnected: (id) => [...this.sessions].some((s) => s.instanceId === id) });
    this.selfReports = new AgentSelfReports(opts.registry);
    for (const r of ['stored', 'duplicate'] as const) this.metrics.observations.inc({ result: r }, 0);
    for (const reason of WIRE_REJECT_REASONS) this.metrics.observations.inc({ result: 'invalid', reason }, 0);
  }

  /**
   * Per connected agent (by node): the edge version it acknowledged, how many of its workloads'
   * baselines are not yet in force there, and for how long — an agent that never gets a baseline
   * shows a pending count and a growing lag instead of quietly shipping what it should drop.
   */
  private edgeMetrics(registers: Registry[]) {
    const perNode = (fill: (set: (node: string, v: number) => void, now: number) => void) =>
      function (this: Gauge<'node'>): void {
        this.reset();
        fill((node, v) => this.set({ node }, v), Date.now());
      };
    const each = (pick: (s: ReturnType<EdgeSync['state']>) => number) =>
      perNode((set, now) => {
        for (const s of this.sessions) set(s.node, pick(s.edge.state(now)));
      });
    return {
      edgeVersion: new Gauge({ name: 'driftwatch_collector_agent_edge_version', help: 'Edge-baseline delta version the agent acknowledged on its current stream.', labelNames: ['node'] as const, registers, collect: each((s) => s.version) }),
      edgePending: new Gauge({
        name: 'driftwatch_collector_agent_edge_pending_baselines',
        help: "Edge baselines of the agent's workloads not yet acknowledged by it (0: in step with the collector).",
        labelNames: ['node'] as const,
        registers,
        collect: each((s) => s.pending),
      }),
      edgeLag: new Gauge({ name: 'driftwatch_collector_agent_edge_lag_seconds', help: 'Age of the oldest edge-baseline delta the agent has not acknowledged (0: none).', labelNames: ['node'] as const, registers, collect: each((s) => s.lagSeconds) }),
      edgeTruncated: new Counter({
        name: 'driftwatch_collector_edge_truncated_baselines_total',
        help: 'Edge baselines sent with their allow list cut to fit one message (the agent drops less of that workload than it could).',
        registers,
      }),
    };
  }

  get port(): number {
    return this.boundPort;
  }

  readiness(): Readiness {
    return { name: this.name, ready: this.boundPort > 0, detail: `${this.sessions.size} agent(s) connected` };
  }

  async start(): Promise<void> {
    // The only collector on its database (SQLite): no agent is connected to anything yet. Replicas
    // on one PostgreSQL database must not reset the others' agents (one of a replica that died
    // reconnects to another within seconds, and its hello marks it connected there).
    if (this.opts.store.backend === 'sqlite') await this.presence.reset();
    const { listen, tls, insecure } = this.opts.config;
    const credentials = grpcServerCredentials(listen, tls, insecure);
    this.server.addService(INGEST_SERVICE, { connect: (call: Stream) => this.onConnect(call) });
    const injector = this.server.createConnectionInjector(credentials);
    const listener = createServer();
    this.connectionGuard.attach(listener, (socket) => injector.injectConnection(socket));
    const { host, port } = parseHostPort(listen);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => resolve());
    });
    this.listener = listener;
    this.boundPort = (listener.address() as AddressInfo).port;
    this.unsubscribeEdge = this.opts.edge.onChange((changed) => this.pushEdgeChanges(changed));
    this.opts.logger.info('ingest listening', { listen, port: this.boundPort, tls: Boolean(tls?.cert), mtls: Boolean(tls?.cert) && (tls?.requireClientCert ?? true) });
  }

  private onConnect(stream: Stream): void {
    let session: Session | undefined;
    // A stream's messages are handled one at a time, in order; the stream is paused meanwhile, so
    // a slow store pushes back on the agent through gRPC flow control.
    let work = Promise.resolve();
    stream.on('data', (msg: AgentMessage) => {
      stream.pause();
      const handedOver = msg.batch ? this.received.hold(msg.batch.observations?.length ?? 0) : () => {};
      work = work
        .then(() => this.onMessage(stream, session, msg, handedOver))
        .finally(handedOver)
        .then(
          (s) => {
            session = s;
            if (!stream.destroyed) stream.resume();
          },
          (err: unknown) => {
            if (err instanceof ProtocolError) return this.refuse(stream, err.reason, err.message);
            if (err instanceof StorageUnavailableError) return this.unavailable(stream, msg, err);
            this.opts.logger.error('ingest failed; closing the stream so the agent re-sends', { error: String((err as Error).stack ?? err) });
            endWithStatus(stream, grpc.status.UNAVAILABLE, 'collector error');
          },
        );
    });
    const end = (): void => {
      if (!session || !this.sessions.delete(session)) return;
      const ended = session;
      this.metrics.agentsConnected.set(this.sessions.size);
      // An agent that reconnected before its old stream died is still connected.
      if ([...this.sessions].some((s) => s.instanceId === ended.instanceId)) return;
      work = work.then(() => this.presence.disconnected(ended.instanceId));
    };
    stream.on('end', () => {
      end();
      stream.end();
    });
    stream.on('error', end);
    stream.on('close', end);
  }

  /** Received and not yet stored, from the stream to the unit of work's commit (the completion signal). */
  pending(): IngestPending {
    const waiting = this.received.pending();
    const storing = this.opts.unitOfWork.pending();
    return { batches: waiting.batches + storing.batches, observations: waiting.observations + storing.observations };
  }

  /** Handles one agent message (`handedOver` is called when a batch goes to the unit of work); returns the stream's session (created by the hello). */
  private async onMessage(stream: Stream, session: Session | undefined, msg: AgentMessage, handedOver: () => void): Promise<Session | undefined> {
    if (msg.hello) {
      // One hello per stream: a second one would leave a session behind.
      if (session) throw new ProtocolError('second-hello', 'hello was already sent on this stream');
      return this.onHello(stream, msg.hello);
    }
    if (!session) throw new ProtocolError('no-hello', 'first message must be hello');
    if (msg.batch) {
      this.assertWritable();
      await this.onBatch(session, msg.batch.seq, msg.batch.observations ?? [], handedOver);
    } else if (msg.counters) await this.opts.store.agents.setCounters(session.instanceId, this.selfReports.counters(msg.counters), new Date().toISOString());
    else if (msg.workloads) this.onWorkloads(session, (msg.workloads.workloads ?? []).map(workloadFromWire), msg.workloads.hashes ?? []);
    else if (msg.edgeAck) session.edge.acknowledge(toNumber(msg.edgeAck.version));
    return session;
  }

  /** Writes to the store are refused now: the agent is told so before anything is tried. */
  private assertWritable(): void {
    const state = this.opts.store.storage();
    if (!state.available) throw new StorageUnavailableError(state.failure, state.code, state.message);
  }

  /**
   * Ends a stream whose message could not be stored, with the retryable UNAVAILABLE: the agent
   * keeps every unacknowledged batch and reconnects with backoff; a hello is refused as long as
   * the store is unavailable, so its backoff grows instead of re-sending into a full disk.
   */
  private unavailable(stream: Stream, msg: AgentMessage, err: StorageUnavailableError): void {
    this.metrics.unavailable.inc({ message: msg.hello ? 'hello' : msg.batch ? 'batch' : 'counters' });
    this.opts.logger.debug('agent message refused: the store cannot take writes', { peer: stream.getPeer(), reason: err.message });
    endWithStatus(stream, grpc.status.UNAVAILABLE, `collector storage unavailable (${err.failure}): keep the data and retry later`);
  }

  /** Ends a stream that broke the protocol, with a status the agent logs, and counts why. */
  private refuse(stream: Stream, reason: ProtocolViolation, message: string): void {
    this.metrics.protocolErrors.inc({ reason });
    this.opts.logger.warn('agent stream refused', { reason, message, peer: stream.getPeer() });
    endWithStatus(stream, reason === 'certificate-node' ? grpc.status.PERMISSION_DENIED : grpc.status.FAILED_PRECONDITION, message);
  }

  private async onHello(stream: Stream, hello: NonNullable<AgentMessage['hello']>): Promise<Session> {
    const { instanceId, node, cluster } = hello;
    if (!instanceId || !node || !NAME.test(node) || instanceId.length > 300) throw new ProtocolError('bad-hello', 'hello needs a node name and an instance id');
    // Sequence numbers are scoped to the instance; an instance belongs to one node.
    if (!instanceId.startsWith(`${node}-`)) throw new ProtocolError('bad-hello', `instance id ${JSON.stringify(instanceId)} does not belong to node ${JSON.stringify(node)}`);
    if (cluster !== this.opts.cluster) throw new ProtocolError('bad-hello', `agent is configured for cluster ${JSON.stringify(cluster)}, this collector serves ${JSON.stringify(this.opts.cluster)}`);
    if (this.opts.config.nodeIdentity === 'certificate') {
      const names = certificateNames(stream.getAuthContext()?.sslPeerCertificate);
      if (!names.includes(node)) throw new ProtocolError('certificate-node', `the client certificate (${names.join(', ') || 'none'}) is not issued to node ${JSON.stringify(node)}`);
    }
    this.assertWritable();
    await this.presence.catchUp();
    const at = new Date().toISOString();
    const lastSeq = await this.opts.store.agents.hello({ instanceId, node, cluster, ...this.selfReports.hello(hello) }, at);
    const session: Session = { stream, instanceId, node, edge: this.edgeSync(stream, node) };
    this.sessions.add(session);
    this.metrics.agentsConnected.set(this.sessions.size);
    // Acknowledge what is already stored (0 for a new instance), so a reconnecting agent drops
    // those batches at once and every agent knows at once that its stream is up.
    this.send(session, { ack: { seq: lastSeq } });
    const agent = await this.opts.store.agents.get(instanceId);
    if (agent) this.opts.bus.emit({ type: 'agent.connected', agent });
    return session;
  }

  /**
   * Writes to an agent. An agent that stops reading must not grow the collector's memory: past
   * a bound of unsent bytes its stream is closed (it reconnects and says what it holds).
   */
  private send(session: Session, msg: CollectorMessage): void {
    writeBounded(session.stream, msg, this.metrics.protocolErrors);
  }

  private edgeSync(stream: Stream, node: string): EdgeSync {
    return new EdgeSync({
      forWorkloads: (workloads) => this.opts.edge.forWorkloads(workloads),
      open: () => !stream.destroyed && !stream.writableEnded,
      // Edge deltas wait for the stream to drain: a node's whole set never sits in memory at once.
      write: (msg) => {
        if (writeBounded(stream, msg, this.metrics.protocolErrors)) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const done = (): void => {
            stream.off('drain', done);
            stream.off('close', done);
            resolve();
          };
          stream.on('drain', done);
          stream.on('close', done);
        });
      },
      onError: (err) => this.opts.logger.error('computing edge baselines failed; they are sent with the next change or reconnect', { node, error: String(err) }),
      onTruncated: () => this.metrics.edgeTruncated.inc(),
    });
  }

  private async onBatch(session: Session, seqValue: number | { toNumber(): number }, wire: readonly WireObservation[], handedOver: () => void): Promise<void> {
    const seq = toNumber(seqValue);
    const last = await this.opts.store.agents.lastSeq(session.instanceId);
    // The agent numbers batches 1, 2, 3… and re-sends from its oldest un-acked one: anything
    // beyond last+1 is not a re-send but a broken or hostile agent, and would make the real
    // batches with those numbers look like duplicates.
    if (seq > last + 1) throw new ProtocolError('sequence-gap', `batch ${seq} after ${last}: sequence numbers must not skip`);
    const endTimer = this.metrics.batchSeconds.startTimer();
    const observations: Observation[] = [];
    const invalid: WireRejectReason[] = [];
    const now = Date.now();
    for (const w of wire) {
      const reason = validateWireObservation(w, now + this.maxSkewMs);
      if (reason !== null) {
        invalid.push(reason);
        continue;
      }
      const o = observationFromWire(w);
      // What the stream is authenticated as wins over what each observation says.
      o.node = session.node;
      o.workload.cluster = this.opts.cluster;
      observations.push(o);
    }
    // Counted by the unit of work from here on: released in the same turn, never counted twice.
    const storing = this.opts.unitOfWork.ingest({ agentInstanceId: session.instanceId, seq, observations });
    handedOver();
    const stored = await storing;
    endTimer();
    this.metrics.batches.inc({ result: stored ? 'stored' : 'duplicate' });
    this.metrics.observations.inc({ result: stored ? 'stored' : 'duplicate' }, observations.length);
    // Counted once, with the batch that stored: a re-sent batch refuses the same ones again.
    if (stored) {
      for (const reason of invalid) {
        this.metrics.observations.inc({ result: 'invalid', reason });
        this.opts.rejections?.record(session.node, reason);
      }
    }
    this.send(session, { ack: { seq } });
  }

  /** The agent's workloads (with the baselines it holds): the edge sync sends what differs. */
  private onWorkloads(session: Session, workloads: WorkloadId[], hashes: string[]): void {
    if (!session.edge.announce(workloads, hashes, MAX_WORKLOADS_PER_AGENT)) throw new ProtocolError('too-many-workloads', `more than ${MAX_WORKLOADS_PER_AGENT} workloads announced`);
  }

  /** Baselines changed (after their transaction committed): each agent running them re-syncs. */
  private pushEdgeChanges(changed: EdgeBaseline[]): void {
    if (!changed.length) return;
    const workloads = changed.map((b) => b.workload);
    for (const s of this.sessions) s.edge.changed(workloads);
  }

  /** Resolves when no edge sync is sending (tests). */
  async edgeIdle(): Promise<void> {
    for (const s of this.sessions) await s.edge.idle();
  }

  close = once(async () => {
    this.unsubscribeEdge?.();
    for (const s of this.sessions) s.stream.end();
    const listenerClosed = new Promise<void>((resolve) => (this.listener ? this.listener.close(() => resolve()) : resolve()));
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
    // Connections grpc-js holds no session for yet (a TLS handshake under way) end here.
    this.connectionGuard.destroyAll();
    await listenerClosed;
  });
}
