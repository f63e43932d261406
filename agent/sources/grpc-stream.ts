/**
 * The shared client side of the two gRPC sources (Tetragon GetEvents, Falco outputs.sub): one
 * long-lived streaming call, reconnected with backoff whenever it ends, messages passed as raw
 * bytes (passthrough deserializer) and decoded by the source inside a try/catch — a message that
 * does not decode is counted as malformed and skipped, instead of failing the whole call as a
 * throwing grpc-js deserializer would.
 *
 * Back-pressure: when the sink refuses an observation the call is paused (`call.pause()`: grpc-js
 * stops reading, HTTP/2 flow control pushes back to the server) until the sink has capacity.
 * The delivery (and its backlog of observations already read) belongs to the source, not to one
 * call: when a stream ends while paused, what it had delivered still drains into the sink, and
 * the next call starts paused until it has.
 *
 * Reconnects are fast: the sensor runs on this node and replays nothing, so every second without
 * a stream is activity nobody sees. Both our call loop and grpc-js's channel reconnect with
 * SENSOR_RECONNECT (100 ms growing to at most 1 s, jittered so that a node's agents do not
 * retry in step; reset once a stream is up). Each gap between losing a stream and having one
 * again is counted (`sensorGaps`, `sensorGapMs`): the collector raises it as sensor loss.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { Backoff, sleep } from '../../common/backoff.js';
import type { TlsConfig } from '../../common/config/schema.js';
import { once } from '../../common/lifecycle.js';
import { isLoopbackAddress } from '../../common/net.js';
import type protobuf from 'protobufjs';
import type { NormaliseContext, NormaliseResult } from '../normalise/context.js';
import type { GrpcSourceConfig } from './grpc-config.js';
import { PausableDelivery, RuntimeSource, type SourceDeps } from './runtime.js';

const passthrough = (b: Buffer): Buffer => b;

/**
 * How quickly a source reconnects to its sensor: first retry after ~100 ms, never more than ~1 s
 * apart (a Tetragon or Falco restart then costs the restart plus at most a second), ±20 % jitter.
 * A local socket that is not there answers at once, so retrying every second costs nothing.
 */
export const SENSOR_RECONNECT = { initialMs: 100, maxMs: 1_000, multiplier: 1.6, jitter: 0.2 } as const;

export interface RawMethod {
  path: string;
  requestStream: boolean;
}

/** A grpc-js service definition of raw-bytes methods (no proto-loader: bytes in, bytes out). */
export function rawService(methods: Record<string, RawMethod>): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  for (const [name, m] of Object.entries(methods)) {
    def[name] = {
      path: m.path,
      requestStream: m.requestStream,
      responseStream: true,
      requestSerialize: passthrough,
      requestDeserialize: passthrough,
      responseSerialize: passthrough,
      responseDeserialize: passthrough,
    };
  }
  return def as grpc.ServiceDefinition;
}

export function rawClient(serviceName: string, methods: Record<string, RawMethod>): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(rawService(methods), serviceName);
}

export function channelCredentials(address: string, tls: TlsConfig | undefined, requireTlsOffHost: boolean): grpc.ChannelCredentials {
  if (address.startsWith('unix:')) return grpc.credentials.createInsecure();
  if (tls && (tls.ca || tls.cert || tls.key)) {
    return grpc.credentials.createSsl(
      tls.ca ? readFileSync(tls.ca) : null,
      tls.key ? readFileSync(tls.key) : null,
      tls.cert ? readFileSync(tls.cert) : null,
    );
  }
  if (requireTlsOffHost && !isLoopbackAddress(address)) {
    throw new Error(`${address}: a TCP address off this host needs tls (ca, cert, key): the peer serves mTLS there`);
  }
  return grpc.credentials.createInsecure();
}

export abstract class GrpcStreamSource extends RuntimeSource {
  protected readonly address: string;
  private readonly client: grpc.Client;
  private readonly backoff = new Backoff(SENSOR_RECONNECT);
  /** When the last stream was lost (0: none lost, or connected again since). */
  private lostAtMs = 0;
  private readonly abort = new AbortController();
  private call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private readonly delivery = new PausableDelivery(
    this.runtime,
    () => this.call?.pause(),
    () => this.call?.resume(),
  );
  private loop: Promise<void> | undefined;

  constructor(cfg: GrpcSourceConfig, deps: SourceDeps, defaultAddress: string, requireTlsOffHost: boolean, Client: grpc.ServiceClientConstructor) {
    super(cfg, deps);
    this.address = cfg.address ?? defaultAddress;
    const options: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': SENSOR_RECONNECT.initialMs,
      'grpc.max_reconnect_backoff_ms': SENSOR_RECONNECT.maxMs,
    };
    if (cfg.tls?.serverName) options['grpc.ssl_target_name_override'] = cfg.tls.serverName;
    this.client = new Client(this.address, channelCredentials(this.address, cfg.tls, requireTlsOffHost), options);
  }

  /** Opens the streaming call on the (shared, self-reconnecting) channel. */
  protected abstract open(client: grpc.Client): grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer>;
  /** Decodes and normalises one message; counts and delivers. */
  protected abstract onMessage(bytes: Buffer, delivery: PausableDelivery): void;

  /** onMessage for a protobuf message type and its normaliser: undecodable = malformed. */
  protected decodeAndDeliver<T>(type: protobuf.Type, normaliser: (value: T, ctx: NormaliseContext) => NormaliseResult, bytes: Buffer, delivery: PausableDelivery): void {
    let value: T;
    try {
      value = type.decode(bytes) as unknown as T;
    } catch {
      this.runtime.malformed();
      return;
    }
    const obs = this.runtime.normalise(normaliser, value);
    if (obs) delivery.deliver(obs);
  }
  /** Called once the call is open (Falco: start the request timer); returns a cleanup. */
  protected onOpen(_call: grpc.ClientDuplexStream<Buffer, Buffer> | grpc.ClientReadableStream<Buffer>): () => void {
    return () => {};
  }

  async start(): Promise<void> {
    // Not waiting for the peer: a sensor that is down must not keep the agent from starting;
    // /readyz and driftwatch_source_connected show it.
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    const log = this.runtime.deps.logger;
    let lastError = '';
    while (!this.abort.signal.aborted) {
      const reason = await this.once();
      if (this.runtime.connected) this.lostAtMs = Date.now();
      this.runtime.connected = false;
      if (this.abort.signal.aborted) break;
      const delay = this.backoff.next();
      if (reason !== lastError) log.warn('stream ended; reconnecting', { source: this.name, address: this.address, reason, retryInMs: delay });
      lastError = reason;
      this.runtime.reconnected();
      await sleep(delay, this.abort.signal);
    }
  }

  /** One call, until it ends; resolves with why it ended. */
  private once(): Promise<string> {
    return new Promise<string>((resolve) => {
      const call = this.open(this.client);
      this.call = call;
      const delivery = this.delivery;
      // The previous stream's backlog is still draining: read nothing new until it has.
      if (delivery.paused) call.pause();
      let ended = false;
      const cleanup = this.onOpen(call);
      const finish = (reason: string): void => {
        if (ended) return;
        ended = true;
        cleanup();
        // Messages grpc-js had already read into the (paused) stream: each emits 'data' as it is
        // read out here, so it reaches the delivery's backlog instead of leaving with the call.
        while (call.read() !== null);
        resolve(reason);
      };
      const up = (): void => {
        if (this.runtime.connected) return;
        this.runtime.connected = true;
        this.backoff.reset();
        const log = this.runtime.deps.logger;
        if (this.lostAtMs === 0) {
          log.info('stream connected', { source: this.name, address: this.address });
          return;
        }
        const gapMs = Date.now() - this.lostAtMs;
        this.lostAtMs = 0;
        this.runtime.counters.sensorGaps++;
        this.runtime.counters.sensorGapMs += gapMs;
        log.warn('stream connected again: events of the sensor in between are lost (it does not replay)', { source: this.name, address: this.address, gapMs });
      };
      call.on('metadata', up);
      call.on('data', (bytes: Buffer) => {
        if (!ended) up();
        this.onMessage(bytes, delivery);
      });
      call.on('error', (err: grpc.ServiceError) => finish(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
      call.on('end', () => finish('stream ended by the server'));
      call.on('close', () => finish('stream closed'));
    });
  }

  close = once(async () => {
    this.abort.abort();
    this.call?.cancel();
    this.delivery.close();
    await this.loop;
    this.client.close();
    this.runtime.connected = false;
    this.runtime.detach();
  });
}
