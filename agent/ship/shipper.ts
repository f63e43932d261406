import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Backoff, sleep } from '../../common/backoff.js';
import type { AgentConfig } from '../../common/config/schema.js';
import { parseDuration } from '../../common/duration.js';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { Observation, WorkloadId } from '../../common/model.js';
import { grpcClientCredentials } from '../../common/tls.js';
import { VERSION } from '../../common/version.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import {
  INGEST_SERVICE,
  edgeBaselineFromWire,
  observationToWire,
  toNumber,
  workloadFromWire,
  type AgentMessage,
  type CollectorMessage,
  type WireObservation,
  type WireSourceCounters,
} from '../../common/wire.js';

const IngestClient = grpc.makeGenericClientConstructor(INGEST_SERVICE, 'driftwatch.v1.Ingest');
type Call = grpc.ClientDuplexStream<AgentMessage, CollectorMessage>;

interface Batch {
  seq: number;
  observations: WireObservation[];
  /** Wall clock when its oldest observation was queued (for the lag gauge). */
  queuedAtMs: number;
}

export interface ShipperOptions {
  config: AgentConfig;
  cluster: string;
  logger: Logger;
  registry: Registry;
  /** Source names, for the hello. */
  sources: () => string[];
  /** Current counters of every source, shipped periodically. */
  counters: () => WireSourceCounters[];
  onSnapshot: (baselines: EdgeBaseline[]) => void;
  onDelta: (upserts: EdgeBaseline[], removed: WorkloadId[]) => void;
  /** The hash of the edge baseline in force for a workload (told to the collector on connect). */
  heldHash?: (workload: WorkloadId) => string | undefined;
  /** Stable per process start; sequence numbers are scoped to it. */
  instanceId?: string;
}

/**
 * Ships observations to the collector over one long-lived bidirectional gRPC stream.
 *
 * - Bounded: pending + un-acknowledged observations never exceed `ship.queueLimit`; `enqueue`
 *   returns false beyond it so sources apply back-pressure (or count a drop).
 * - At-least-once: a batch stays until the collector acknowledges its sequence number (acks are
 *   cumulative); after a reconnect every un-acked batch is re-sent in order and the collector
 *   de-duplicates by (instance, seq).
 * - Reconnects with exponential backoff and jitter.
 */
export class Shipper implements Component {
  readonly name = 'shipper';
  readonly instanceId: string;
  private pending: WireObservation[] = [];
  /** Wall clock when `pending` last went from empty to non-empty. */
  private pendingSinceMs = 0;
  private unacked: Batch[] = [];
  private unackedCount = 0;
  private nextSeq = 1;
  private call: Call | undefined;
  private client: grpc.Client | undefined;
  private connected = false;
  private closing = false;
  private readonly abort = new AbortController();
  private readonly workloads = new Map<string, WorkloadId>();
  private readonly capacityWaiters: (() => void)[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private countersTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 15_000 });
  private readonly flushIntervalMs: number;
  private readonly metrics;
  /** Observations dropped because the queue was full (by sources that cannot pause). */
  shipDropped = 0;

  constructor(private readonly opts: ShipperOptions) {
    this.instanceId = opts.instanceId ?? `${opts.config.node}-${randomUUID().slice(0, 8)}`;
    this.flushIntervalMs = parseDuration(opts.config.ship.flushInterval);
    const registers = [opts.registry];
    this.metrics = {
      shipped: new Counter({ name: 'driftwatch_agent_shipped_observations_total', help: 'Observations acknowledged by the collector.', registers }),
      resent: new Counter({ name: 'driftwatch_agent_resent_batches_total', help: 'Batches re-sent after a reconnect.', registers }),
      reconnects: new Counter({ name: 'driftwatch_agent_collector_reconnects_total', help: 'Attempts to (re)open the collector stream.', registers }),
      queue: new Gauge({
        name: 'driftwatch_agent_ship_queue_observations',
        help: 'Observations waiting to be sent or acknowledged.',
        registers,
      }),
      connected: new Gauge({ name: 'driftwatch_agent_collector_connected', help: '1 while the collector stream is open.', registers }),
      edgeVersion: new Gauge({
        name: 'driftwatch_agent_edge_version',
        help: 'Version of the last edge-baseline update applied from the collector on the current stream (acknowledged to it).',
        registers,
      }),
      lag: new Gauge({
        name: 'driftwatch_agent_ship_lag_seconds',
        help: 'Age of the oldest observation not yet acknowledged by the collector (0 when none waits): how far behind the collector is on this node.',
        registers,
        collect: () => {
          const oldest = this.unacked[0]?.queuedAtMs ?? (this.pending.length > 0 ? this.pendingSinceMs : 0);
          this.metrics.lag.set(oldest > 0 ? Math.max(0, Date.now() - oldest) / 1000 : 0);
        },
      }),
    };
  }

  readiness(): Readiness {
    return { name: 'collector-stream', ready: this.connected, detail: this.connected ? `queue ${this.queued}` : `disconnected (attempt ${this.backoff.attempts})` };
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Observations waiting to be sent plus those sent but not yet acknowledged. */
  get queued(): number {
    return this.pending.length + this.unackedCount;
  }

  enqueue(obs: Observation): boolean {
    if (this.closing || this.queued >= this.opts.config.ship.queueLimit) return false;
    if (this.pending.length === 0) this.pendingSinceMs = Date.now();
    this.pending.push(observationToWire(obs));
    if (this.pending.length >= this.opts.config.ship.batchSize) setImmediate(() => this.flush());
    return true;
  }

  waitForCapacity(): Promise<void> {
    if (this.queued < this.opts.config.ship.queueLimit) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /**
   * The agent saw a workload on this node: the collector will push its baseline. Written to a
   * stream still being opened too (grpc-js queues it): a workload seen between opening and the
   * collector's first answer would otherwise never be announced on that stream.
   */
  announceWorkload(w: WorkloadId, key: string): void {
    if (this.workloads.has(key)) return;
    this.workloads.set(key, w);
    this.write({ workloads: { workloads: [w], hashes: [this.opts.heldHash?.(w) ?? ''] } });
  }

  async start(): Promise<void> {
    // Credentials first: a missing certificate is a start-up error, not a reconnect loop.
    const { address, tls, insecure } = this.opts.config.collector;
    const { credentials, options } = grpcClientCredentials(address, tls, insecure);
    this.client = new IngestClient(address, credentials, { ...options, 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 });
    this.flushTimer = setInterval(() => this.flush(), this.flushIntervalMs);
    this.countersTimer = setInterval(() => this.sendCounters(), parseDuration(this.opts.config.ship.countersInterval));
    this.flushTimer.unref();
    this.countersTimer.unref();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      this.metrics.reconnects.inc();
      await this.session();
      if (this.closing) break;
      const delay = this.backoff.next();
      this.opts.logger.debug('collector stream closed; reconnecting', { inMs: delay });
      await sleep(delay, this.abort.signal);
    }
  }

  /** One stream's lifetime: resolves when the stream ends for whatever reason. */
  private session(): Promise<void> {
    return new Promise<void>((resolve) => {
      const call = (this.client as unknown as { connect(): Call }).connect();
      this.call = call;
      let done = false;
      const finish = (why: string, err?: Error): void => {
        if (done) return;
        done = true;
        if (this.connected && !this.closing) this.opts.logger.warn('collector stream lost', { why, error: err?.message });
        this.connected = false;
        this.metrics.connected.set(0);
        this.call = undefined;
        this.metrics.edgeVersion.set(0);
        resolve();
      };
      call.on('data', (msg: CollectorMessage) => {
        if (!this.connected) {
          this.connected = true;
          this.metrics.connected.set(1);
          this.backoff.reset();
          this.opts.logger.info('connected to collector', { address: this.opts.config.collector.address, instance: this.instanceId });
        }
        this.onMessage(msg);
      });
      call.on('error', (err: Error) => finish('error', err));
      call.on('end', () => finish('end'));
      call.on('close', () => finish('close'));
      // Hello, the workloads we know, then every un-acked batch in order.
      call.write({ hello: { node: this.opts.config.node, agentVersion: VERSION, sources: this.opts.sources(), instanceId: this.instanceId, cluster: this.opts.cluster } });
      // With the baseline held for each, so the collector re-sends only what changed meanwhile.
      const workloads = [...this.workloads.values()];
      call.write({ workloads: { workloads, hashes: workloads.map((w) => this.opts.heldHash?.(w) ?? '') } });
      if (this.unacked.length) this.metrics.resent.inc(this.unacked.length);
      for (const b of this.unacked) call.write({ batch: b });
      // The collector answers hello only when it has something to say; treat a writable stream
      // as connected for flushing after the first server message (see 'data').
    });
  }

  private onMessage(msg: CollectorMessage): void {
    if (msg.ack) this.onAck(toNumber(msg.ack.seq));
    else if (msg.snapshot) {
      this.opts.onSnapshot((msg.snapshot.baselines ?? []).map(edgeBaselineFromWire));
      this.acknowledgeEdge(toNumber(msg.snapshot.version));
    } else if (msg.delta) {
      this.opts.onDelta((msg.delta.upserts ?? []).map(edgeBaselineFromWire), (msg.delta.removed ?? []).map(workloadFromWire));
      this.acknowledgeEdge(toNumber(msg.delta.version));
    }
  }

  /** Tells the collector an edge update is in force here (its per-agent lag metrics read this). */
  private acknowledgeEdge(version: number): void {
    this.metrics.edgeVersion.set(version);
    this.write({ edgeAck: { version } });
  }

  private onAck(seq: number): void {
    let n = 0;
    while (this.unacked.length && this.unacked[0]!.seq <= seq) {
      const b = this.unacked.shift()!;
      n += b.observations.length;
    }
    if (!n) return;
    this.unackedCount -= n;
    this.metrics.shipped.inc(n);
    this.metrics.queue.set(this.queued);
    if (this.queued < this.opts.config.ship.queueLimit * 0.9) {
      for (const w of this.capacityWaiters.splice(0)) w();
    }
  }

  private write(msg: AgentMessage): void {
    this.call?.write(msg);
  }

  /** Cuts pending observations into batches and sends them (when connected). */
  flush(): void {
    if (!this.connected || !this.call) return;
    const size = this.opts.config.ship.batchSize;
    while (this.pending.length) {
      const observations = this.pending.splice(0, size);
      const batch = { seq: this.nextSeq++, observations, queuedAtMs: this.pendingSinceMs };
      this.unacked.push(batch);
      this.unackedCount += observations.length;
      this.write({ batch });
    }
    this.metrics.queue.set(this.queued);
  }

  private sendCounters(): void {
    if (!this.connected) return;
    this.write({ counters: { sources: this.opts.counters(), shipDropped: this.shipDropped } });
  }

  /** Sends everything still queued and waits (bounded) for the acknowledgements, then closes. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queued > 0 && Date.now() < deadline) {
      this.flush();
      await sleep(25);
    }
  }

  close = once(async () => {
    await this.drain(3000);
    this.sendCounters();
    this.closing = true;
    clearInterval(this.flushTimer);
    clearInterval(this.countersTimer);
    this.abort.abort();
    this.call?.end();
    this.call?.cancel();
    for (const w of this.capacityWaiters.splice(0)) w();
    await this.loop;
    this.client?.close();
    if (this.queued > 0) this.opts.logger.warn('agent stopped with observations not acknowledged by the collector', { count: this.queued });
  });
}
