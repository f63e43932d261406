/**
 * The agent stream's protocol as the ingest server enforces it: what a violation is, how a stream
 * is ended with a status the agent sees, bounded writes, and the names a client certificate gives.
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Counter } from 'prom-client';
import type { AgentMessage, CollectorMessage } from '../../common/wire.js';

export type Stream = grpc.ServerDuplexStream<AgentMessage, CollectorMessage>;

/** Bounds on what one agent can make the collector hold. */
export const MAX_WORKLOADS_PER_AGENT = 20_000;
const MAX_UNSENT_BYTES = 32 * 1024 * 1024;
/** A Kubernetes node name (DNS subdomain). */
export const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export type ProtocolViolation = 'no-hello' | 'second-hello' | 'bad-hello' | 'certificate-node' | 'sequence-gap' | 'too-many-workloads' | 'slow-reader';

export class ProtocolError extends Error {
  constructor(
    readonly reason: ProtocolViolation,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Ends a server stream with a status the client sees. (grpc-js turns an 'error' on the server
 * stream into the call's status; `destroy()` would drop the call without one.)
 */
export function endWithStatus(stream: Stream, code: grpc.status, details: string): void {
  stream.emit('error', Object.assign(new Error(details), { code, details }));
}

/**
 * Writes unless the peer stopped reading: past a bound of unsent bytes the stream is closed, so an
 * agent that does not read cannot grow the collector's memory. Returns write()'s "keep writing".
 */
export function writeBounded(stream: Stream, msg: CollectorMessage, protocolErrors: Counter<'reason'>): boolean {
  if (stream.writableLength > MAX_UNSENT_BYTES) {
    protocolErrors.inc({ reason: 'slow-reader' });
    endWithStatus(stream, grpc.status.RESOURCE_EXHAUSTED, 'agent does not read its stream');
    return true;
  }
  return stream.write(msg);
}

/** The names a client certificate is issued to: its subject CN and DNS subject alternative names. */
export function certificateNames(cert: PeerCertificate | undefined): string[] {
  if (!cert) return [];
  const names = cert.subject?.CN ? [String(cert.subject.CN)] : [];
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m) names.push(m[1]!.trim());
  }
  return names;
}
