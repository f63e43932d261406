/**
 * `agent:` — read by `driftwatch agent` (and `driftwatch demo`). Each source kind declares its own
 * keys next to its code (agent/sources); this section holds what every source has.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { SOURCE_KIND_PATTERN } from '../model.js';
import { duration, hostPort, httpConnectionLimits, kubernetesAccessSchema, section, tlsSchema } from './fields.js';

/** /healthz, /readyz and /metrics: kubelet and Prometheus need a few connections, nobody else any. */
export const AGENT_HTTP_CONNECTIONS = httpConnectionLimits({ maxConnections: 64, maxConnectionsPerAddress: 16, idleTimeout: '5s', headersTimeout: '10s', requestTimeout: '30s' });

/** What every `agent.sources[]` item has, whatever its kind. */
export const sourceCommonFields = {
  /** One of the kinds agent/sources/index.ts registers. */
  kind: Type.String({ pattern: SOURCE_KIND_PATTERN.source }),
  /** Name used in metrics and counters; defaults to the kind. */
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' })),
};

/** The `agent:` section, its sources' items given (composed with their kinds' keys, common/config/schema.ts). */
export function agentSection<S extends TSchema>(source: S) {
  return Type.Object(
    {
      /** Node name (downward API `spec.nodeName` in the DaemonSet). */
      node: Type.String({ default: '' }),
      collector: Type.Object(
        {
          address: hostPort({ default: '127.0.0.1:7443' }),
          /**
           * Several collector replicas (instead of `address`): the agent streams to one and moves
           * to the next when its stream fails or ends. A DNS name that resolves to several
           * addresses needs no list: gRPC tries each address it resolves to.
           */
          addresses: Type.Optional(Type.Array(hostPort(), { minItems: 1 })),
          tls: Type.Optional(tlsSchema),
          /** Allow plaintext to a non-loopback collector. Never in production. */
          insecure: Type.Boolean({ default: false }),
        },
        section,
      ),
      sources: Type.Array(source, { default: [] }),
      http: Type.Object({ listen: hostPort({ default: '127.0.0.1:9090' }), connections: AGENT_HTTP_CONNECTIONS }, section),
      /**
       * Process-lineage cache bounds: records, and their estimated bytes. A node's live processes
       * plus those exited in the last 30 s are a few thousand; 16,384 leaves room for a busy node
       * while keeping the cache to ~8 MiB of the agent's 100 MB budget (README, configuration table).
       */
      lineage: Type.Object(
        {
          maxProcesses: Type.Integer({ minimum: 64, default: 16384 }),
          maxBytes: Type.Integer({ minimum: 1048576, default: 8388608 }),
        },
        section,
      ),
      kubernetes: kubernetesAccessSchema,
      ship: Type.Object(
        {
          batchSize: Type.Integer({ minimum: 1, maximum: 10000, default: 500 }),
          flushInterval: duration({ default: '200ms' }),
          /** Observations held in memory before back-pressure / dropping. */
          queueLimit: Type.Integer({ minimum: 100, default: 100000 }),
          /** Encoded bytes of the observations held in memory before back-pressure / dropping. */
          queueBytes: Type.Integer({ minimum: 65536, default: 33554432 }),
          countersInterval: duration({ default: '15s' }),
        },
        section,
      ),
    },
    section,
  );
}
