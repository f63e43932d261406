import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { TlsConfig } from './config/schema.js';
import { isLoopbackAddress } from './net.js';

function read(path: string | undefined, what: string): Buffer | null {
  if (!path) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * Server credentials for a gRPC listener. With TLS material: TLS, and client certificates
 * required (mTLS) unless explicitly turned off. Without: plaintext, allowed only on loopback or
 * with `insecure: true` — a security tool must not listen in the clear by accident.
 */
export function grpcServerCredentials(listen: string, tls: (TlsConfig & { requireClientCert?: boolean }) | undefined, insecure: boolean): grpc.ServerCredentials {
  if (tls?.cert && tls.key) {
    const requireClientCert = tls.requireClientCert ?? true;
    const ca = read(tls.ca, 'CA');
    if (requireClientCert && !ca) throw new Error('grpc.tls.ca is required to verify agent client certificates (or set requireClientCert: false)');
    return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: read(tls.cert, 'certificate')!, private_key: read(tls.key, 'key')! }], requireClientCert);
  }
  if (!insecure && !isLoopbackAddress(listen)) {
    throw new Error(`refusing plaintext gRPC on non-loopback ${listen}: configure grpc.tls (mTLS) or set insecure: true`);
  }
  return grpc.ServerCredentials.createInsecure();
}

export interface ClientCredentials {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
}

export function grpcClientCredentials(address: string, tls: TlsConfig | undefined, insecure: boolean): ClientCredentials {
  if (tls?.ca || tls?.cert) {
    const options: grpc.ChannelOptions = {};
    if (tls.serverName) options['grpc.ssl_target_name_override'] = tls.serverName;
    return {
      credentials: grpc.credentials.createSsl(read(tls.ca, 'CA'), read(tls.key, 'key'), read(tls.cert, 'certificate')),
      options,
    };
  }
  if (!insecure && !isLoopbackAddress(address)) {
    throw new Error(`refusing plaintext gRPC to non-loopback ${address}: configure tls (mTLS) or set insecure: true`);
  }
  return { credentials: grpc.credentials.createInsecure(), options: {} };
}
