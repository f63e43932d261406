/**
 * Tetragon source: `tetragon.FineGuidanceSensors/GetEvents` over the unix socket a Helm install
 * serves (`unix:///var/run/tetragon/tetragon.sock`, the default here) or TCP (`localhost:54321`
 * for the bare binary; TLS when `tls` is set). The request asks only for exec, exit and kprobe
 * events. Tetragon has no replay: after a reconnect, older processes are only known through
 * their later events (the lineage cache rebuilds what it can).
 */
import type * as grpc from '@grpc/grpc-js';
import { normaliseTetragon, type TetragonEvent } from '../normalise/tetragon.js';
import { defineSource } from './definition.js';
import { grpcSourceFields, type GrpcSourceConfig } from './grpc-config.js';
import { GrpcStreamSource, rawClient } from './grpc-stream.js';
import { sourceProtos, tetragonEventsRequest } from './protos.js';
import type { PausableDelivery, SourceDeps } from './runtime.js';

export const TETRAGON_DEFAULT_ADDRESS = 'unix:///var/run/tetragon/tetragon.sock';
export const TETRAGON_GET_EVENTS = '/tetragon.FineGuidanceSensors/GetEvents';

const TetragonClient = rawClient('FineGuidanceSensors', { GetEvents: { path: TETRAGON_GET_EVENTS, requestStream: false } });

export class TetragonGrpcSource extends GrpcStreamSource {
  private readonly request = tetragonEventsRequest();
  private readonly response = sourceProtos().tetragonResponse;

  constructor(cfg: GrpcSourceConfig, deps: SourceDeps) {
    super(cfg, deps, TETRAGON_DEFAULT_ADDRESS, false, TetragonClient);
  }

  protected open(client: grpc.Client): grpc.ClientReadableStream<Buffer> {
    return (client as unknown as { GetEvents(req: Buffer): grpc.ClientReadableStream<Buffer> }).GetEvents(this.request);
  }

  protected onMessage(bytes: Buffer, delivery: PausableDelivery): void {
    this.decodeAndDeliver<TetragonEvent>(this.response, normaliseTetragon, bytes, delivery);
  }
}

export const tetragonGrpcSource = defineSource({ kind: 'tetragon-grpc', fields: grpcSourceFields, create: (cfg, deps) => new TetragonGrpcSource(cfg, deps) });
