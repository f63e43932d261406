/**
 * The fake Tetragon of the end-to-end benchmark: a grpc-js server on a unix socket serving
 * `/tetragon.FineGuidanceSensors/GetEvents` with pre-encoded messages written byte for byte
 * (passthrough serialiser). One reader at a time; `send` writes flat out or at a set rate and
 * honours the stream's back-pressure (waits for 'drain'), as Tetragon's per-client queue does —
 * except that it never drops: the benchmark wants every event read.
 */
import * as grpc from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { rawService } from '../../agent/sources/grpc-stream.js';
import { TETRAGON_GET_EVENTS } from '../../agent/sources/tetragon-grpc.js';

type Call = grpc.ServerWritableStream<Buffer, Buffer>;

export class Feeder {
  private readonly server = new grpc.Server();
  private call: Call | undefined;
  private connectedWaiters: (() => void)[] = [];
  sent = 0;

  constructor(readonly address: string) {}

  async start(): Promise<void> {
    rmSync(this.address.slice('unix://'.length), { force: true });
    this.server.addService(rawService({ GetEvents: { path: TETRAGON_GET_EVENTS, requestStream: false } }), {
      GetEvents: (call: Call) => {
        this.call?.end();
        this.call = call;
        call.sendMetadata(new grpc.Metadata());
        call.on('cancelled', () => {
          if (this.call === call) this.call = undefined;
        });
        for (const w of this.connectedWaiters.splice(0)) w();
      },
    });
    await new Promise<void>((resolve, reject) => this.server.bindAsync(this.address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  }

  connected(): Promise<void> {
    if (this.call) return Promise.resolve();
    return new Promise((resolve) => this.connectedWaiters.push(resolve));
  }

  /**
   * Writes `next()` until it returns null. `perSecond` paces the writes (in 10 ms slices);
   * omitted = as fast as the reader takes them.
   */
  async send(next: () => Buffer | null, perSecond?: number): Promise<number> {
    await this.connected();
    const call = this.call!;
    let n = 0;
    const started = performance.now();
    for (;;) {
      const m = next();
      if (m === null) break;
      n++;
      if (!call.write(m)) await new Promise<void>((resolve) => call.once('drain', resolve));
      if (perSecond !== undefined && n % Math.max(1, Math.round(perSecond / 100)) === 0) {
        const due = started + (n / perSecond) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
    }
    this.sent += n;
    return n;
  }

  /** Ends the current stream (as a Tetragon restart does). */
  endStream(): void {
    this.call?.end();
    this.call = undefined;
  }

  async close(): Promise<void> {
    this.endStream();
    this.server.forceShutdown();
  }
}
