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
  encodeBatchMessage,
  encodeObservationMessage,
  observationToWire,
  toNumber,
  workloadFromWire,
  type AgentMessage,
  type CollectorMessage,
  type WireSourceCounters,
} from '../../common/wire.js';

/** The ingest client, writing batches that are already encoded (Buffers) as they are. */
const IngestClient = grpc.makeGenericClientConstructor(
  {
    connect: {
      ...INGEST_SERVICE.connect,
      requestSerialize: (m: AgentMessage | Buffer): Buffer => (Buffer.isBuffer(m) ? m : INGEST_SERVICE.connect.requestSerialize(m)),
    },
  },
  'driftwatch.v1.Ingest',
);
const MAX_COLLECTOR_MESSAGE_BYTES = 64 * 1024 * 1024;
type Call = grpc.ClientDuplexStream<AgentMessage | Buffer, CollectorMessage>;

/** A batch as it goes on the wire: the encoded AgentMessage, kept until acknowledged. */
interface Batch {
  seq: number;
  count: number;
  frame: Buffer;
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
 * - Bounded in bytes: observations are encoded when queued (a few hundred bytes each, instead of
 *   an object graph several times that size), and pending + un-acknowledged ones never exceed
 *   `ship.queueBytes` (nor `ship.queueLimit` observations); `enqueue` returns false beyond either
 *   so sources pause their input (gRPC streams, files) or count a drop (Falco HTTP posts).
 * - Honours the stream's back-pressure: when `write` says the HTTP/2 stream is full, no further
 *   batch is written until it drains; the batches wait (counted in the queue) instead of piling
 *   up inside grpc-js where no bound applies.
 * - At-least-once: a batch stays until the collector acknowledges its sequence number (acks are
 *   cumulative); after a reconnect every un-acked batch is re-sent in order and the collector
 *   de-duplicates by (instance, seq). What is still un-acknowledged when the agent stops is lost:
 *   it is counted in `shipDropped` (sent with the last counters) and logged.
 * - Reconnects with exponential backoff and jitter.
 */
export class Shipper implements Component {
  readonly name = 'shipper';
  readonly instanceId: string;
  /** Encoded observations not yet cut into a batch. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Wall clock when `pending` last went from empty to non-empty. */
  private pendingSinceMs = 0;
  /** Batches cut and numbered, in order: the first `written` of them are on the current stream. */
  private unacked: Batch[] = [];
  private unackedCount = 0;
  private unackedBytes = 0;
  private written = 0;
  /** False while the stream's buffer is full (until 'drain'). */
  private writable = true;
  private nextSeq = 1;
  private call: Call | undefined;
  /** One client per collector address; `current` streams, the next takes over when it fails. */
  private clients: { target: string; client: grpc.Client }[] = [];
  private current = 0;
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
  /** Observations that never reached the collector: un-acknowledged when the agent stopped. */
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
      queueBytes: new Gauge({
        name: 'driftwatch_agent_ship_queue_bytes',
        help: 'Encoded size of the observations waiting to be sent or acknowledged.',
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
    const shipper = this;
    new Gauge({
      name: 'driftwatch_agent_collector_stream_blocked',
      help: '1 while the collector stream is full (batches wait in the queue until it drains).',
      registers,
      collect() {
        this.set(shipper.blocked ? 1 : 0);
      },
    });
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

  /** Connected, but the stream asked to wait (the collector reads slower than we write). */
  get blocked(): boolean {
    return this.connected && !this.writable;
  }

  /** Encoded bytes of the queued observations. */
  get queuedBytes(): number {
    return this.pendingBytes + this.unackedBytes;
  }

  private full(fraction = 1): boolean {
    const ship = this.opts.config.ship;
    return this.queued >= ship.queueLimit * fraction || this.queuedBytes >= ship.queueBytes * fraction;
  }

  enqueue(obs: Observation): boolean {
    if (this.closing || this.full()) return false;
    const bytes = encodeObservationMessage(observationToWire(obs));
    if (this.pending.length === 0) this.pendingSinceMs = Date.now();
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pending.length >= this.opts.config.ship.batchSize) setImmediate(() => this.flush());
    return true;
  }

  waitForCapacity(): Promise<void> {
    if (!this.full()) return Promise.resolve();
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
    const { address, addresses, tls, insecure } = this.opts.config.collector;
    this.clients = (addresses ?? [address]).map((target) => {
      const { credentials, options } = grpcClientCredentials(target, tls, insecure);
      const client = new IngestClient(target, credentials, {
        ...options,
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
        // The collector's edge messages grow with workloads × items on the node (1,000 × 200 ≈ 7 MB
        // in one snapshot or activation delta): gRPC's 4 MiB default would break the link for good.
        'grpc.max_receive_message_length': MAX_COLLECTOR_MESSAGE_BYTES,
      });
      return { target, client };
    });
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
      // The stream failed or ended: the next replica (every unacknowledged batch goes there).
      this.current = (this.current + 1) % this.clients.length;
      const delay = this.backoff.next();
      this.opts.logger.debug('collector stream closed; reconnecting', { inMs: delay });
      await sleep(delay, this.abort.signal);
    }
  }

  /** One stream's lifetime: resolves when the stream ends for whatever reason. */
  private session(): Promise<void> {
    return new Promise<void>((resolve) => {
      const { client, target } = this.clients[this.current]!;
      const call = (client as unknown as { connect(): Call }).connect();
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
          this.opts.logger.info('connected to collector', { address: target, instance: this.instanceId });
        }
        this.onMessage(msg);
      });
      call.on('error', (err: Error) => finish('error', err));
      call.on('end', () => finish('end'));
      call.on('close', () => finish('close'));
      call.on('drain', () => {
        if (this.call !== call) return;
        this.writable = true;
        this.flush();
      });
      this.writable = true;
      this.written = 0;
      // Hello, the workloads we know, then every un-acked batch in order (as the stream takes them).
      call.write({ hello: { node: this.opts.config.node, agentVersion: VERSION, sources: this.opts.sources(), instanceId: this.instanceId, cluster: this.opts.cluster } });
      // With the baseline held for each, so the collector re-sends only what changed meanwhile.
      const workloads = [...this.workloads.values()];
      call.write({ workloads: { workloads, hashes: workloads.map((w) => this.opts.heldHash?.(w) ?? '') } });
      if (this.unacked.length) this.metrics.resent.inc(this.unacked.length);
      this.pump();
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
    let acked = 0;
    while (acked < this.unacked.length && this.unacked[acked]!.seq <= seq) {
      const b = this.unacked[acked++]!;
      n += b.count;
      this.unackedBytes -= b.frame.length;
    }
    if (!acked) return;
    this.unacked.splice(0, acked);
    this.written = Math.max(0, this.written - acked);
    this.unackedCount -= n;
    this.metrics.shipped.inc(n);
    this.updateQueueGauges();
    if (!this.full(0.9)) {
      for (const w of this.capacityWaiters.splice(0)) w();
    }
  }

  private write(msg: AgentMessage): void {
    this.call?.write(msg);
  }

  /** Cuts pending observations into batches and writes what the stream takes (when connected). */
  flush(): void {
    if (!this.connected || !this.call) return;
    const size = this.opts.config.ship.batchSize;
    // Only cut what can be written now: while the stream is full, observations keep filling
    // pending, so batches stay full-sized.
    while (this.pending.length && this.writable && this.written === this.unacked.length) {
      const observations = this.pending.splice(0, size);
      let bytes = 0;
      for (const o of observations) bytes += o.length;
      this.pendingBytes -= bytes;
      const seq = this.nextSeq++;
      const frame = encodeBatchMessage(seq, observations);
      this.unacked.push({ seq, count: observations.length, frame, queuedAtMs: this.pendingSinceMs });
      this.unackedCount += observations.length;
      this.unackedBytes += frame.length;
      this.pump();
    }
    this.pump();
    this.updateQueueGauges();
  }

  /** Writes the batches the current stream has not had yet, until it asks to wait. */
  private pump(): void {
    const call = this.call;
    if (!call) return;
    while (this.writable && this.written < this.unacked.length) {
      this.writable = call.write(this.unacked[this.written++]!.frame);
    }
  }

  private updateQueueGauges(): void {
    this.metrics.queue.set(this.queued);
    this.metrics.queueBytes.set(this.queuedBytes);
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
      // A timer that keeps the process alive (sleep() does not): whoever awaits close() must not
      // see the process exit in the middle of the drain.
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  close = once(async () => {
    await this.drain(3000);
    if (this.queued > 0) {
      this.opts.logger.warn('agent stopping with observations not acknowledged by the collector: they are lost', { count: this.queued });
      this.shipDropped += this.queued;
    }
    this.sendCounters();
    this.closing = true;
    clearInterval(this.flushTimer);
    clearInterval(this.countersTimer);
    this.abort.abort();
    this.call?.end();
    this.call?.cancel();
    for (const w of this.capacityWaiters.splice(0)) w();
    await this.loop;
    for (const { client } of this.clients) client.close();
  });
}
