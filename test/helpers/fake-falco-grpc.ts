/**
 * A protocol-faithful fake Falco (<= 0.43) gRPC output: `/falco.outputs.service/sub`, a
 * bidirectional stream where each client `request` makes the server write the alerts queued so
 * far (one shared queue: an alert goes to one subscriber only, as in Falco), byte for byte
 * (passthrough serializer: the golden .bin records go on the wire as encoded upstream).
 */
import type * as grpc from '@grpc/grpc-js';
import { rawService } from '../../agent/sources/grpc-stream.js';
import { FakeStreamServer, type FakeStreamServerOptions } from './fake-tetragon.js';

const falcoService = rawService({ sub: { path: '/falco.outputs.service/sub', requestStream: true } });

export class FakeFalcoGrpc extends FakeStreamServer {
  /** The shared alert queue; `messages` given at construction are queued once. */
  readonly queue: Buffer[] = [];

  constructor(opts: FakeStreamServerOptions) {
    super(opts, falcoService, (self) => ({
      sub: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        self.track(call);
        call.on('data', (req: Buffer) => {
          self.requests.push(req);
          const fake = self as FakeFalcoGrpc;
          while (fake.queue.length > 0) call.write(fake.queue.shift()!);
        });
        call.on('end', () => call.end());
      },
    }));
    this.queue.push(...(opts.messages ?? []));
    this.messages = [];
  }

  enqueue(messages: Buffer[]): void {
    this.queue.push(...messages);
  }
}
