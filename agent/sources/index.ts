/**
 * The source registry: one entry per `SourceKind`, each `{ create }` (grpc-js's
 * `registerResolver` style), and the helpers agent/main.ts and `driftwatch observe` use.
 *
 * Stable API (agent/main.ts and cli/observe.ts depend on it):
 *   createSource(cfg: SourceConfig, deps: SourceDeps): Source
 *   createLineage(agent: AgentConfig, opts?): LineageCache
 *   createIdentityResolver(agent: AgentConfig, logger, opts?): IdentityResolver  (Component: start/close)
 *   SourceDeps = { node, cluster, logger, registry, sink, lineage, identity }
 *
 * One lineage cache and one identity resolver per agent, shared by all its sources. Every source
 * is a Component: `start()` resolves once it is serving (it does not wait for a gRPC peer that
 * is down: `connected` and /readyz report that), `close()` is idempotent and awaited.
 *
 * | kind | address / listen | default |
 * |---|---|---|
 * | tetragon-grpc | `address`: `unix:///path` or `host:port` | `unix:///var/run/tetragon/tetragon.sock` |
 * | falco-grpc | `address`: `unix:///path` or `host:port` (mTLS via `tls` off-host) | `unix:///run/falco/falco.sock` |
 * | falco-http | `listen`: `host:port`; `token`, `tls`, `maxBodyBytes`, `insecure` (non-loopback `listen` without token or client certs) | `127.0.0.1:8766` |
 * | tetragon-json, falco-json | `address`: a path or `-` (stdin); `follow` | `-` |
 */
import type { AgentConfig, SourceConfig } from '../../common/config-schema.js';
import type { SourceKind } from '../../common/model.js';
import { LineageCache, type LineageCacheOptions } from '../lineage/cache.js';
import type { Source } from '../pipeline.js';
import { FalcoGrpcSource } from './falco-grpc.js';
import { FalcoHttpSource } from './falco-http.js';
import { FileSource } from './file.js';
import type { SourceDeps } from './runtime.js';
import { TetragonGrpcSource } from './tetragon-grpc.js';

export type { SourceDeps } from './runtime.js';
export { createIdentityResolver, IdentityResolver, type WorkloadResolver } from '../identity/resolver.js';

export interface SourceFactory {
  create(cfg: SourceConfig, deps: SourceDeps): Source;
}

const registry = new Map<SourceKind, SourceFactory>();

export function registerSource(kind: SourceKind, factory: SourceFactory): void {
  registry.set(kind, factory);
}

registerSource('tetragon-grpc', { create: (cfg, deps) => new TetragonGrpcSource(cfg, deps) });
registerSource('falco-grpc', { create: (cfg, deps) => new FalcoGrpcSource(cfg, deps) });
registerSource('falco-http', { create: (cfg, deps) => new FalcoHttpSource(cfg, deps) });
registerSource('tetragon-json', { create: (cfg, deps) => new FileSource(cfg, deps) });
registerSource('falco-json', { create: (cfg, deps) => new FileSource(cfg, deps) });

export function createSource(cfg: SourceConfig, deps: SourceDeps): Source {
  const factory = registry.get(cfg.kind);
  if (!factory) throw new Error(`unknown source kind ${JSON.stringify(cfg.kind)}`);
  return factory.create(cfg, deps);
}

/** The agent's lineage cache, bounded by `agent.lineage.maxProcesses` and `agent.lineage.maxBytes`. */
export function createLineage(agent: AgentConfig, opts: Omit<LineageCacheOptions, 'maxProcesses' | 'maxBytes'> = {}): LineageCache {
  return new LineageCache({ ...opts, maxProcesses: agent.lineage.maxProcesses, maxBytes: agent.lineage.maxBytes });
}

export { FalcoHttpSource, FileSource, TetragonGrpcSource, FalcoGrpcSource };
