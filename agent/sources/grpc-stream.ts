/**
 * The shared client side of the two gRPC sources (Tetragon GetEvents, Falco outputs.sub): one
 * long-lived streaming call, reconnected with backoff whenever it ends, messages passed as raw
 * bytes (passthrough deserializer) and decoded by the source inside a try/catch — a message that
 * does not decode is counted as malformed and skipped, instead of failing the whole call as a
 * throwing grpc-js deserializer would.
 *
 * Back-pressure: when the sink refuses an observation the call is paused (`call.pause()`: grpc-js
 * stops reading, HTTP/2 flow control pushes back to the server) until the sink has capacity.
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
  private readonly backoff = new Backoff({ initialMs: 250, maxMs: 15_000 });
  private readonly abort = new AbortController();
  private call: grpc.ClientReadableStream<Buffer> | grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private delivery: PausableDelivery | undefined;
  private loop: Promise<void> | undefined;

  constructor(cfg: GrpcSourceConfig, deps: SourceDeps, defaultAddress: string, requireTlsOffHost: boolean, Client: grpc.ServiceClientConstructor) {
    super(cfg, deps);
    this.address = cfg.address ?? defaultAddress;
    const options: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 15_000,
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
      const delivery = new PausableDelivery(this.runtime, () => call.pause(), () => call.resume());
      this.delivery = delivery;
      let ended = false;
      const cleanup = this.onOpen(call);
      const finish = (reason: string): void => {
        if (ended) return;
        ended = true;
        cleanup();
        delivery.close();
        resolve(reason);
      };
      const up = (): void => {
        if (this.runtime.connected) return;
        this.runtime.connected = true;
        this.backoff.reset();
        this.runtime.deps.logger.info('stream connected', { source: this.name, address: this.address });
      };
      call.on('metadata', up);
      call.on('data', (bytes: Buffer) => {
        up();
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
    this.delivery?.close();
    await this.loop;
    this.client.close();
    this.runtime.connected = false;
    this.runtime.detach();
  });
}
