/**
 * The source registry: one definition per source kind (its keys and `{ create }`), and the
 * helpers agent/main.ts and `driftwatch observe` use.
 *
 * Stable API (agent/main.ts and cli/observe.ts depend on it):
 *   createSource(cfg: SourceConfig, deps: SourceDeps): Source
 *   createLineage(agent: AgentConfig, opts?): LineageCache
 *   SourceDeps = { node, cluster, logger, registry, sink, lineage, identity }
 * The identity resolver (agent/identity/resolver.ts, createIdentityResolver) is imported from
 * there: it loads the Kubernetes client, which the configuration schema — composed from SOURCES —
 * must not pull into every command.
 *
 * One lineage cache and one identity resolver per agent, shared by all its sources. Every source
 * is a Component: `start()` resolves once it is serving (it does not wait for a gRPC peer that
 * is down: `connected` and /readyz report that), `close()` is idempotent and awaited.
 * Each kind's own keys (`address`, `listen`, `tls`, …) are declared and documented in its file.
 */
import type { AgentConfig, SourceConfig } from '../../common/config/schema.js';
import { LineageCache, type LineageCacheOptions } from '../lineage/cache.js';
import type { Source } from '../pipeline.js';
import type { SourceDefinition } from './definition.js';
import { falcoGrpcSource, FalcoGrpcSource } from './falco-grpc.js';
import { falcoHttpSource, FalcoHttpSource } from './falco-http.js';
import { falcoJsonSource, FileSource, tetragonJsonSource } from './file.js';
import type { SourceDeps } from './runtime.js';
import { tetragonGrpcSource, TetragonGrpcSource } from './tetragon-grpc.js';

export type { SourceDeps } from './runtime.js';
export type { SourceDefinition } from './definition.js';

/**
 * Every source kind, the one list of them: adding a source is its file (its keys and `create`,
 * defineSource), its test, and one line here. The configuration schema takes the kinds and their
 * keys from this list (cli/config.ts); the collector takes any well-formed kind (common/model.ts).
 */
export const SOURCES: readonly SourceDefinition[] = [tetragonGrpcSource, tetragonJsonSource, falcoHttpSource, falcoGrpcSource, falcoJsonSource];

export const SOURCE_KINDS: readonly string[] = SOURCES.map((s) => s.kind);

const byKind = new Map(SOURCES.map((s) => [s.kind, s]));

export function createSource(cfg: SourceConfig, deps: SourceDeps): Source {
  const definition = byKind.get(cfg.kind);
  if (!definition) throw new Error(`unknown source kind ${JSON.stringify(cfg.kind)}`);
  return definition.create(cfg, deps);
}

/** The agent's lineage cache, bounded by `agent.lineage.maxProcesses` and `agent.lineage.maxBytes`. */
export function createLineage(agent: AgentConfig, opts: Omit<LineageCacheOptions, 'maxProcesses' | 'maxBytes'> = {}): LineageCache {
  return new LineageCache({ ...opts, maxProcesses: agent.lineage.maxProcesses, maxBytes: agent.lineage.maxBytes });
}

export { FalcoHttpSource, FileSource, TetragonGrpcSource, FalcoGrpcSource };
