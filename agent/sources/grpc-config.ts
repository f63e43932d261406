/** The keys of the gRPC sources (`tetragon-grpc`, `falco-grpc`; grpc-stream.ts reads them). */
import { Type } from '@sinclair/typebox';
import { tlsSchema } from '../../common/config/fields.js';
import type { SourceConfigOf } from './definition.js';

export const grpcSourceFields = {
  /** `unix:///path` or `host:port` (default: the sensor's socket). */
  address: Type.Optional(Type.String({ minLength: 1 })),
  /** mTLS to a TCP address (PEM files; `serverName` to expect another name than the host). */
  tls: Type.Optional(tlsSchema),
};
export type GrpcSourceConfig = SourceConfigOf<typeof grpcSourceFields>;
