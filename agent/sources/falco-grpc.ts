/**
 * Falco legacy gRPC source (Falco <= 0.43; removed in 0.44 — use falco-http there):
 * bidirectional `falco.outputs.service/sub`. Falco answers each request with the alerts queued
 * so far, so an empty request is sent every second. Falco serves the unix socket
 * `unix:///run/falco/falco.sock` without authentication, and TCP only with mTLS (`tls`).
 * Falco's queue is shared by all clients (each alert goes to one of them): run one subscriber.
 */
import type * as grpc from '@grpc/grpc-js';
import { normaliseFalco, type FalcoAlert } from '../normalise/falco.js';
import { defineSource } from './definition.js';
import { grpcSourceFields, type GrpcSourceConfig } from './grpc-config.js';
import { GrpcStreamSource, rawClient } from './grpc-stream.js';
import { sourceProtos } from './protos.js';
import type { PausableDelivery, SourceDeps } from './runtime.js';

export const FALCO_DEFAULT_ADDRESS = 'unix:///run/falco/falco.sock';
export const FALCO_SUB = '/falco.outputs.service/sub';
const POLL_MS = 1000;
const EMPTY_REQUEST = Buffer.alloc(0);

const FalcoClient = rawClient('service', { sub: { path: FALCO_SUB, requestStream: true } });

export class FalcoGrpcSource extends GrpcStreamSource {
  private readonly response = sourceProtos().falcoResponse;

  constructor(cfg: GrpcSourceConfig, deps: SourceDeps) {
    super(cfg, deps, FALCO_DEFAULT_ADDRESS, true, FalcoClient);
  }

  protected open(client: grpc.Client): grpc.ClientDuplexStream<Buffer, Buffer> {
    return (client as unknown as { sub(): grpc.ClientDuplexStream<Buffer, Buffer> }).sub();
  }

  protected override onOpen(call: grpc.ClientDuplexStream<Buffer, Buffer>): () => void {
    const poll = (): void => {
      if (!call.writableEnded && !call.destroyed) call.write(EMPTY_REQUEST);
    };
    poll();
    const timer = setInterval(poll, POLL_MS);
    timer.unref();
    return () => {
      clearInterval(timer);
      if (!call.writableEnded) call.end();
    };
  }

  protected onMessage(bytes: Buffer, delivery: PausableDelivery): void {
    this.decodeAndDeliver<FalcoAlert>(this.response, normaliseFalco, bytes, delivery);
  }
}

export const falcoGrpcSource = defineSource({ kind: 'falco-grpc', fields: grpcSourceFields, create: (cfg, deps) => new FalcoGrpcSource(cfg, deps) });
