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
import { SEVERITIES, type Severity } from './deviations.js';

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
  /** falco-http: listen on a non-loopback address without token or client certificates anyway. */
  insecure?: boolean;
  /** tetragon-json / falco-json: keep reading the file as it grows (like tail -f). */
  follow?: boolean;
  /** tetragon-json / falco-json: replay at this many times the recorded pace (omitted: as fast as the pipeline takes it). */
  speed?: number;
}

/** How a process reaches the Kubernetes API (`agent.kubernetes`, `collector.kubernetes`; common/kube.ts). */
export interface KubernetesAccessConfig {
  /** `auto`: use the in-cluster service account when present. */
  mode: 'auto' | 'in-cluster' | 'kubeconfig' | 'off';
  kubeconfig?: string;
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
  /** Process-lineage cache bounds: records, and their estimated bytes. */
  lineage: { maxProcesses: number; maxBytes: number };
  kubernetes: KubernetesAccessConfig;
  ship: {
    batchSize: number;
    flushInterval: string | number;
    /** Observations held in memory before back-pressure / dropping. */
    queueLimit: number;
    /** Encoded bytes of the observations held in memory before back-pressure / dropping. */
    queueBytes: number;
    countersInterval: string | number;
  };
}

export interface CollectorConfig {
  dataDir: string;
  grpc: {
    listen: string;
    tls?: Omit<TlsConfig, 'serverName'> & { requireClientCert?: boolean };
    insecure: boolean;
    /**
     * `hello`: an agent is the node its hello names (one certificate shared by all agents: every
     * agent is trusted for every node). `certificate`: the hello's node must be the client
     * certificate's CN or a DNS SAN (per-node certificates), so one node cannot speak for another.
     */
    nodeIdentity: 'hello' | 'certificate';
    /** Observations timed further than this past the collector's clock are refused. */
    maxClockSkew: string | number;
  };
  http: { listen: string; publicUrl?: string; tls?: { cert?: string; key?: string } };
  baselinesDir: string;
  retention: {
    /** Stored observations, in event time before the newest one (what-if and samples read them). */
    observations: string | number;
    /** Rows of agent instances disconnected this long (one row per agent start). */
    agents: string | number;
  };
  learning: {
    window: string | number;
    maxWindow: string | number;
    startupGrace: string | number;
    maxItemsPerBaseline: number;
    imagePolicy: 'relearn' | 'inherit' | 'alert';
    /** Learning ends no earlier than this long (event time) after the last new item (capped by maxWindow). */
    extension: string | number;
    /** While learning, an agent sends each distinct item at most once per this much event time. */
    edgeDedupWindow: string | number;
  };
  /** Pod IP → workload and Service IP → Service names for peers (collector/kubernetes). */
  kubernetes: KubernetesAccessConfig;
  network: {
    podCidrs: string[];
    serviceCidrs: string[];
    nodeCidrs: string[];
    /** Distinct external addresses of one /24 (IPv4) or /48 (IPv6) on one port before the prefix is learned. */
    generaliseAfter: number;
  };
  /** Alert sinks, noise control and delivery (collector/outbox, collector/sinks, collector/health). */
  alerting: AlertingConfig;
  /** The console: HTTP API, live stream and web UI on the collector's HTTP listener. */
  api: {
    /** Serve the web UI under /ui/. */
    ui: boolean;
    maxPageSize: number;
    /** How far back a what-if may look, and how many stored observations it may read. */
    whatIfMaxDays: number;
    whatIfMaxObservations: number;
    /** Failed authentications per client address per minute before 429. */
    authFailuresPerMinute: number;
    stream: { maxClients: number; maxBufferedBytes: number };
  };
}

export const SINK_TYPES = ['alertmanager', 'webhook', 'slack', 'falco', 'stdout', 'file'] as const;
export type SinkType = (typeof SINK_TYPES)[number];

/**
 * One alert destination (`collector.alerting.sinks[]`): a common block, then fields that only some
 * types use (each sink module in collector/sinks/ declares which it requires and accepts).
 */
export interface SinkConfig {
  name: string;
  type: SinkType;
  /** false = paused: notifications keep queueing (within retry.maxAge) and nothing is sent. */
  enabled: boolean;
  minSeverity: Severity;
  /** Globs (`*`, `?`) on the namespace; empty = every namespace. */
  namespaces: string[];
  /** Globs on the workload name or `Kind/name`; empty = every workload. */
  workloads: string[];
  /** Also deliver health alerts (agent disconnected, source silent, events dropped, …). */
  health: boolean;
  timeout: string | number;
  /** Overrides alerting.renotifyInterval (alertmanager: how often open alerts are re-posted, default 1m). */
  renotifyInterval?: string | number;
  headers: Record<string, string>;
  tls?: TlsConfig;
  /** alertmanager: base URL of every instance (both of an HA pair). */
  urls?: string[];
  /** webhook, slack, falco: where to POST. */
  url?: string;
  /** webhook: HMAC-SHA256 shared secret, inline or read from a file (a mounted Secret). */
  secret?: string;
  secretFile?: string;
  /** file: the JSON-lines file to append to. */
  path?: string;
}

export interface AlertingConfig {
  enabled: boolean;
  /** How often a still-open deviation is notified again (per sink overridable). */
  renotifyInterval: string | number;
  /** More than `threshold` new deviations of one workload within `window` (event time) → one grouped notification. */
  grouping: {
    threshold: number;
    window: string | number;
    /** Wall-clock wait before a workload's first notification, so that a burst is seen as one. */
    wait: string | number;
    /** Deviations listed in one grouped notification; the rest are counted (`truncated`). */
    maxListed: number;
  };
  /** Global cap on new firing notifications; what exceeds it is held back (counted) and sent later. */
  rateLimit: { max: number; per: string | number };
  /** Per-sink delivery retries: exponential backoff from `initial` to `max`; rows older than `maxAge` expire. */
  retry: { initial: string | number; max: string | number; maxAge: string | number };
  /** A sink failing for longer than this is reported not ready (/readyz). */
  unreadyAfter: string | number;
  /** Delivered outbox rows are kept this long, then deleted. */
  retention: string | number;
  health: {
    checkInterval: string | number;
    /** An agent disconnected for longer than this raises an alert. */
    disconnectedAfter: string | number;
    /** Agents not seen for this long are forgotten (their node is gone): their alerts end. */
    forgetAfter: string | number;
    /** A source is silent when no event came for max(silentAfter, silentFactor × its usual gap). */
    silentAfter: string | number;
    silentFactor: number;
    /** Dropped (or malformed) / seen over one check interval above this ratio raises an alert … */
    dropRatio: number;
    malformedRatio: number;
    /** … once at least this many were dropped (or malformed) in the interval. */
    minEvents: number;
  };
  sinks: SinkConfig[];
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
    insecure: { type: 'boolean' },
    follow: { type: 'boolean' },
    speed: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;

const kubernetesAccessSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    mode: { enum: ['auto', 'in-cluster', 'kubeconfig', 'off'], default: 'auto' },
    kubeconfig: { type: 'string' },
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
      properties: {
        maxProcesses: { type: 'integer', minimum: 64, default: 65536 },
        maxBytes: { type: 'integer', minimum: 1048576, default: 33554432 },
      },
    },
    kubernetes: kubernetesAccessSchema,
    ship: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batchSize: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
        flushInterval: { ...duration, default: '200ms' },
        queueLimit: { type: 'integer', minimum: 100, default: 100000 },
        queueBytes: { type: 'integer', minimum: 65536, default: 33554432 },
        countersInterval: { ...duration, default: '15s' },
      },
    },
  },
} as const;

const httpUrl = { type: 'string', pattern: '^https?://[^\\s]+$' } as const;

const sinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'type'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$', maxLength: 63 },
    type: { enum: SINK_TYPES },
    enabled: { type: 'boolean', default: true },
    minSeverity: { enum: SEVERITIES, default: 'low' },
    namespaces: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    workloads: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    health: { type: 'boolean', default: true },
    timeout: { ...duration, default: '5s' },
    renotifyInterval: duration,
    headers: { type: 'object', additionalProperties: { type: 'string' }, default: {} },
    tls: tlsSchema,
    urls: { type: 'array', minItems: 1, items: httpUrl },
    url: httpUrl,
    secret: { type: 'string', minLength: 16 },
    secretFile: { type: 'string', minLength: 1 },
    path: { type: 'string', minLength: 1 },
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
          properties: { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, requireClientCert: { type: 'boolean', default: true } },
        },
        insecure: { type: 'boolean', default: false },
        nodeIdentity: { enum: ['hello', 'certificate'], default: 'hello' },
        maxClockSkew: { ...duration, default: '5m' },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: { ...hostPort, default: '127.0.0.1:8080' },
        publicUrl: { type: 'string', pattern: '^https?://' },
        tls: { type: 'object', additionalProperties: false, properties: { cert: { type: 'string' }, key: { type: 'string' } } },
      },
    },
    baselinesDir: { type: 'string', minLength: 1, default: './baselines' },
    retention: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        observations: { ...duration, default: '30d' },
        agents: { ...duration, default: '7d' },
      },
    },
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
        extension: { ...duration, default: '6h' },
        edgeDedupWindow: { ...duration, default: '10m' },
      },
    },
    kubernetes: kubernetesAccessSchema,
    network: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        podCidrs: { type: 'array', items: { type: 'string' }, default: ['10.244.0.0/16'] },
        serviceCidrs: { type: 'array', items: { type: 'string' }, default: ['10.96.0.0/12'] },
        nodeCidrs: { type: 'array', items: { type: 'string' }, default: [] },
        generaliseAfter: { type: 'integer', minimum: 2, default: 3 },
      },
    },
    alerting: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        renotifyInterval: { ...duration, default: '4h' },
        grouping: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            threshold: { type: 'integer', minimum: 1, default: 5 },
            window: { ...duration, default: '2m' },
            wait: { ...duration, default: '10s' },
            maxListed: { type: 'integer', minimum: 1, maximum: 200, default: 25 },
          },
        },
        rateLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            max: { type: 'integer', minimum: 1, default: 30 },
            per: { ...duration, default: '1m' },
          },
        },
        retry: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            initial: { ...duration, default: '1s' },
            max: { ...duration, default: '5m' },
            maxAge: { ...duration, default: '24h' },
          },
        },
        unreadyAfter: { ...duration, default: '5m' },
        retention: { ...duration, default: '7d' },
        health: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            checkInterval: { ...duration, default: '30s' },
            disconnectedAfter: { ...duration, default: '2m' },
            forgetAfter: { ...duration, default: '24h' },
            silentAfter: { ...duration, default: '15m' },
            silentFactor: { type: 'number', minimum: 1, default: 4 },
            dropRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.01 },
            malformedRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.01 },
            minEvents: { type: 'integer', minimum: 1, default: 100 },
          },
        },
        sinks: { type: 'array', items: sinkSchema, default: [] },
      },
    },
    api: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        ui: { type: 'boolean', default: true },
        maxPageSize: { type: 'integer', minimum: 10, maximum: 5000, default: 500 },
        whatIfMaxDays: { type: 'integer', minimum: 1, maximum: 365, default: 30 },
        whatIfMaxObservations: { type: 'integer', minimum: 1000, default: 50000 },
        authFailuresPerMinute: { type: 'integer', minimum: 1, default: 30 },
        stream: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            maxClients: { type: 'integer', minimum: 1, default: 200 },
            maxBufferedBytes: { type: 'integer', minimum: 65536, default: 4194304 },
          },
        },
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
