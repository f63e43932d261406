/**
 * A protocol-faithful fake Tetragon: a real grpc-js server implementing
 * `/tetragon.FineGuidanceSensors/GetEvents` that writes pre-encoded GetEventsResponse messages
 * byte for byte (passthrough serializer, so the golden .bin records go on the wire exactly as
 * upstream encoded them). Like Tetragon it keeps the stream open after the last event and
 * replays nothing on connect; it can be stopped and restarted on the same address.
 */
import * as grpc from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { rawService } from '../../agent/sources/grpc-stream.js';

export interface FakeStreamServerOptions {
  /** `unix:///path` or `127.0.0.1:0`. */
  address: string;
  /** Messages written to each new call (the same list for every connection unless changed). */
  messages?: Buffer[];
  /** Default insecure; e.g. `ServerCredentials.createSsl(ca, [{ cert_chain, private_key }], true)` for mTLS. */
  credentials?: grpc.ServerCredentials;
}

/** Base for the fake Tetragon and Falco servers: one grpc-js server with raw-bytes methods. */
export class FakeStreamServer {
  private server: grpc.Server | undefined;
  private readonly calls = new Set<grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>>();
  /** Bound address (`127.0.0.1:<port>` after start for TCP, or the unix URI). */
  address: string;
  messages: Buffer[];
  /** Requests received, raw (GetEventsRequest for Tetragon; each `request` for Falco). */
  readonly requests: Buffer[] = [];
  connections = 0;
  private readonly credentials: grpc.ServerCredentials;

  constructor(
    opts: FakeStreamServerOptions,
    private readonly service: grpc.ServiceDefinition,
    private readonly implementation: (self: FakeStreamServer) => grpc.UntypedServiceImplementation,
  ) {
    this.address = opts.address;
    this.messages = opts.messages ?? [];
    this.credentials = opts.credentials ?? grpc.ServerCredentials.createInsecure();
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  track(call: grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>): void {
    this.connections++;
    this.calls.add(call);
    const drop = (): void => void this.calls.delete(call);
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
  }

  async start(): Promise<void> {
    // Like Tetragon, a restart replaces a stale socket file.
    if (this.address.startsWith('unix://')) rmSync(this.address.slice('unix://'.length), { force: true });
    const server = new grpc.Server();
    server.addService(this.service, this.implementation(this));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.address, this.credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    if (!this.address.startsWith('unix:')) this.address = `127.0.0.1:${port}`;
    this.server = server;
  }

  /** Writes more messages to every open call. */
  push(messages: Buffer[]): void {
    for (const call of this.calls) for (const m of messages) call.write(m);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const call of this.calls) call.destroy(new Error('server stopping'));
    this.calls.clear();
    server.forceShutdown();
  }
}

const tetragonService = rawService({ GetEvents: { path: '/tetragon.FineGuidanceSensors/GetEvents', requestStream: false } });

export class FakeTetragon extends FakeStreamServer {
  constructor(opts: FakeStreamServerOptions) {
    super(opts, tetragonService, (self) => ({
      GetEvents: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        self.requests.push(call.request);
        self.track(call);
        call.sendMetadata(new grpc.Metadata());
        for (const m of self.messages) call.write(m);
        // Tetragon never ends the stream: it stays open for live events.
      },
    }));
  }
}
