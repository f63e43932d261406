/**
 * The configuration schema (JSON Schema, draft 2020-12 subset understood by Ajv) and its types.
 *
 * One YAML file configures either process: the `agent:` section is read by `driftwatch agent`,
 * `collector:` by `driftwatch collector`, both by `driftwatch demo`. Defaults live here, in the
 * schema (Ajv `useDefaults`), so that documentation, validation and behaviour cannot drift.
 *
 * Each section is its own constant so that a feature adds its keys in one place.
 */
import { DURATION_PATTERN } from './duration.js';

const duration = { type: ['string', 'number'], pattern: DURATION_PATTERN } as const;
const hostPort = { type: 'string', minLength: 1 } as const;

/** TLS material for a client or server. Paths to PEM files. */
export interface TlsConfig {
  ca?: string;
  cert?: string;
  key?: string;
  /** Client side: the name expected in the server certificate (defaults to the host). */
  serverName?: string;
}

const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    serverName: { type: 'string' },
  },
} as const;

export interface LogConfig {
  level: 'error' | 'warn' | 'info' | 'debug';
  format: 'auto' | 'json' | 'text';
}

export interface SourceConfig {
  kind: 'tetragon-grpc' | 'tetragon-json' | 'falco-http' | 'falco-grpc' | 'falco-json';
  /** Name used in metrics and counters; defaults to the kind. */
  name?: string;
  /** gRPC sources: `unix:///path` or `host:port`. File sources: a path or `-` for stdin. */
  address?: string;
  /** falco-http: `host:port` to listen on. */
  listen?: string;
  /** falco-http: shared bearer token Falco sends (http_output has no auth; put it in the URL or a proxy). */
  token?: string;
  /** falco-http: max body in bytes. */
  maxBodyBytes?: number;
  tls?: TlsConfig;
  /** tetragon-json / falco-json: keep reading the file as it grows (like tail -f). */
  follow?: boolean;
}

export interface AgentConfig {
  /** Node name (downward API `spec.nodeName` in the DaemonSet). */
  node: string;
  collector: {
    address: string;
    tls?: TlsConfig;
    /** Allow plaintext to a non-loopback collector. Never in production. */
    insecure: boolean;
  };
  sources: SourceConfig[];
  http: { listen: string };
  lineage: { maxProcesses: number };
  kubernetes: {
    /** `auto`: use the in-cluster service account when present. */
    mode: 'auto' | 'in-cluster' | 'kubeconfig' | 'off';
    kubeconfig?: string;
  };
  ship: {
    batchSize: number;
    flushInterval: string | number;
    /** Observations held in memory before back-pressure / dropping. */
    queueLimit: number;
    countersInterval: string | number;
  };
}

export interface CollectorConfig {
  dataDir: string;
  grpc: { listen: string; tls?: TlsConfig & { requireClientCert?: boolean }; insecure: boolean };
  http: { listen: string; publicUrl?: string };
  baselinesDir: string;
  learning: {
    window: string | number;
    maxWindow: string | number;
    startupGrace: string | number;
    maxItemsPerBaseline: number;
    imagePolicy: 'relearn' | 'inherit' | 'alert';
  };
  network: {
    podCidrs: string[];
    serviceCidrs: string[];
    nodeCidrs: string[];
  };
}

export interface DriftwatchConfig {
  cluster: string;
  log: LogConfig;
  agent: AgentConfig;
  collector: CollectorConfig;
}

const sourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { enum: ['tetragon-grpc', 'tetragon-json', 'falco-http', 'falco-grpc', 'falco-json'] },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
    address: { type: 'string', minLength: 1 },
    listen: hostPort,
    token: { type: 'string', minLength: 16 },
    maxBodyBytes: { type: 'integer', minimum: 1024, maximum: 16777216 },
    tls: tlsSchema,
    follow: { type: 'boolean' },
  },
} as const;

export const agentSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    node: { type: 'string', default: '' },
    collector: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        address: { ...hostPort, default: '127.0.0.1:7443' },
        tls: tlsSchema,
        insecure: { type: 'boolean', default: false },
      },
    },
    sources: { type: 'array', items: sourceSchema, default: [] },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { listen: { ...hostPort, default: '127.0.0.1:9090' } },
    },
    lineage: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { maxProcesses: { type: 'integer', minimum: 64, default: 65536 } },
    },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['auto', 'in-cluster', 'kubeconfig', 'off'], default: 'auto' },
        kubeconfig: { type: 'string' },
      },
    },
    ship: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batchSize: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
        flushInterval: { ...duration, default: '200ms' },
        queueLimit: { type: 'integer', minimum: 100, default: 100000 },
        countersInterval: { ...duration, default: '15s' },
      },
    },
  },
} as const;

export const collectorSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    dataDir: { type: 'string', minLength: 1, default: './data' },
    grpc: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { ...hostPort, default: '127.0.0.1:7443' },
        tls: {
          type: 'object',
          additionalProperties: false,
          properties: { ...tlsSchema.properties, requireClientCert: { type: 'boolean', default: true } },
        },
        insecure: { type: 'boolean', default: false },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { ...hostPort, default: '127.0.0.1:8080' },
        publicUrl: { type: 'string', pattern: '^https?://' },
      },
    },
    baselinesDir: { type: 'string', minLength: 1, default: './baselines' },
    learning: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        window: { ...duration, default: '24h' },
        maxWindow: { ...duration, default: '72h' },
        startupGrace: { ...duration, default: '2m' },
        maxItemsPerBaseline: { type: 'integer', minimum: 10, default: 2000 },
        imagePolicy: { enum: ['relearn', 'inherit', 'alert'], default: 'relearn' },
      },
    },
    network: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        podCidrs: { type: 'array', items: { type: 'string' }, default: ['10.244.0.0/16'] },
        serviceCidrs: { type: 'array', items: { type: 'string' }, default: ['10.96.0.0/12'] },
        nodeCidrs: { type: 'array', items: { type: 'string' }, default: [] },
      },
    },
  },
} as const;

export const configSchema = {
  $id: 'https://driftwatch.dev/schemas/config.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    cluster: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]*$', default: 'default' },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: ['error', 'warn', 'info', 'debug'], default: 'info' },
        format: { enum: ['auto', 'json', 'text'], default: 'auto' },
      },
    },
    agent: agentSchema,
    collector: collectorSchema,
  },
} as const;
