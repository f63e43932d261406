/** `collector:` — read by `driftwatch collector` (and `driftwatch demo`). */
import { Type, type TSchema } from '@sinclair/typebox';
import { alertingSection } from './alerting.js';
import { closed, connectionLimits, duration, hostPort, httpConnectionLimits, kubernetesAccessSchema, oneOf, section } from './fields.js';

/**
 * The API, UI, WebSocket stream, probes and metrics share one listener. 128 per address fits an
 * ingress controller or a NAT'd office (browsers open 6 per origin); 1024 in all keeps the
 * collector far from its file-descriptor limit. Headers in 10 s and a whole request in 30 s: API
 * bodies are at most 1 MiB, and Node's 300 s default let slow clients hold connections.
 */
/**
 * What a new image of a container does to its baseline. `carry-forward` (default): a new release
 * starts as a copy of its predecessor's effective baseline and is enforced from its first event —
 * a service that ships daily must never be in a learning window an attacker can hide in.
 * `relearn`: a fresh learning generation (the high-risk rules still alert while it learns);
 * `inherit`: the same generation covers the new digest; `alert`: the same, plus one deviation.
 */
export const IMAGE_POLICIES = ['carry-forward', 'relearn', 'inherit', 'alert'] as const;

export const COLLECTOR_HTTP_CONNECTIONS = httpConnectionLimits({ maxConnections: 1024, maxConnectionsPerAddress: 128, idleTimeout: '5s', headersTimeout: '10s', requestTimeout: '30s' });
/**
 * One connection per agent (a second one briefly while it reconnects): 16 per address leaves
 * room for agents behind one NAT address; 8192 in all serves 8192 nodes — raise it for more. A
 * connection without a call for a minute is closed (an agent always holds its stream open).
 */
export const COLLECTOR_GRPC_CONNECTIONS = connectionLimits({ maxConnections: 8192, maxConnectionsPerAddress: 16, idleTimeout: '1m' });

/** The `collector:` section, its alert sinks' items given (composed with their types' keys). */
export function collectorSection<S extends TSchema>(sink: S) {
  return Type.Object(
    {
      dataDir: Type.String({ minLength: 1, default: './data' }),
      /**
       * `sqlite` (embedded, in `dataDir`) or `postgres` (one database for several collector
       * replicas). The password is never part of `url`: it comes from `passwordFile` or PGPASSWORD.
       */
      store: Type.Object(
        {
          kind: oneOf(['sqlite', 'postgres'], { default: 'sqlite' }),
          url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
          passwordFile: Type.Optional(Type.String({ minLength: 1 })),
          /** Connections per collector replica: ingest transactions, API reads, the outbox, LISTEN. */
          maxConnections: Type.Integer({ minimum: 2, default: 10 }),
        },
        section,
      ),
      grpc: Type.Object(
        {
          listen: hostPort({ default: '127.0.0.1:7443' }),
          tls: Type.Optional(
            Type.Object(
              {
                ca: Type.Optional(Type.String()),
                cert: Type.Optional(Type.String()),
                key: Type.Optional(Type.String()),
                requireClientCert: Type.Boolean({ default: true }),
              },
              closed,
            ),
          ),
          insecure: Type.Boolean({ default: false }),
          /**
           * `hello`: an agent is the node its hello names (one certificate shared by all agents: every
           * agent is trusted for every node). `certificate`: the hello's node must be the client
           * certificate's CN or a DNS SAN (per-node certificates), so one node cannot speak for another.
           */
          nodeIdentity: oneOf(['hello', 'certificate'], { default: 'hello' }),
          /** Observations timed further than this past the collector's clock are refused. */
          maxClockSkew: duration({ default: '5m' }),
          connections: COLLECTOR_GRPC_CONNECTIONS,
        },
        section,
      ),
      http: Type.Object(
        {
          listen: hostPort({ default: '127.0.0.1:8080' }),
          /** The console's base URL in every link driftwatch emits (collector/links.ts). */
          externalUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
          /** Deprecated name of externalUrl: moved to it when the configuration loads (common/config/load.ts). */
          publicUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
          tls: Type.Optional(Type.Object({ cert: Type.Optional(Type.String()), key: Type.Optional(Type.String()) }, closed)),
          connections: COLLECTOR_HTTP_CONNECTIONS,
        },
        section,
      ),
      baselinesDir: Type.String({ minLength: 1, default: './baselines' }),
      retention: Type.Object(
        {
          /** Stored observations, in event time before the newest one (what-if and samples read them). */
          observations: duration({ default: '30d' }),
          /** Rows of agent instances disconnected this long (one row per agent start). */
          agents: duration({ default: '7d' }),
        },
        section,
      ),
      learning: Type.Object(
        {
          window: duration({ default: '24h' }),
          maxWindow: duration({ default: '72h' }),
          startupGrace: duration({ default: '2m' }),
          maxItemsPerBaseline: Type.Integer({ minimum: 10, default: 2000 }),
          imagePolicy: oneOf(IMAGE_POLICIES, { default: 'carry-forward' }),
          /** Learning ends no earlier than this long (event time) after the last new item (capped by maxWindow). */
          extension: duration({ default: '6h' }),
          /** While learning, an agent sends each distinct item at most once per this much event time. */
          edgeDedupWindow: duration({ default: '10m' }),
          /**
           * Jobs and CronJobs learn from their first this many runs (a later run ends learning), within
           * maxWindow: three runs of a daily CronJob fit in the default 72 h. See README.
           */
          runs: Type.Integer({ minimum: 1, default: 3 }),
          /**
           * A cluster-wide learning period: every generation that starts learning before
           * `startAt + window` learns until then at least. An ISO 8601 time, or `install` (when this
           * store was created). Unset: each workload's window starts with its first event.
           */
          startAt: Type.Optional(Type.String({ pattern: '^(install|\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))$' })),
        },
        section,
      ),
      /** Pod IP → workload and Service IP → Service names for peers (collector/kubernetes). */
      kubernetes: kubernetesAccessSchema,
      network: Type.Object(
        {
          podCidrs: Type.Array(Type.String(), { default: ['10.244.0.0/16'] }),
          serviceCidrs: Type.Array(Type.String(), { default: ['10.96.0.0/12'] }),
          nodeCidrs: Type.Array(Type.String(), { default: [] }),
          /**
           * Distinct external addresses of one /24 (IPv4) or /48 (IPv6) on one port before the prefix
           * is learned. 1: an address of a prefix the workload already used on that port is allowed
           * (rotation inside a pool); see README for the measurement behind the default.
           */
          generaliseAfter: Type.Integer({ minimum: 1, default: 1 }),
          /**
           * Named address sets: provider range files (AWS ip-ranges.json, Google cloud.json, Azure
           * Service Tags JSON) and `sets: {name: [cidrs]}` files. Default: `<dataDir>/address-sets`,
           * where `driftwatch address-sets refresh` writes.
           */
          addressSetsDir: Type.Optional(Type.String({ minLength: 1 })),
          /**
           * Exact declared `dnsNames` resolved by the collector (Cilium toFQDNs-style): an external
           * peer at an address a declared name answered with is that name, also when its agent saw
           * no DNS answer. Defaults and their reasons in docs/detection.md.
           */
          declaredNames: Type.Object(
            {
              resolve: Type.Boolean({ default: true }),
              every: duration({ default: '1m' }),
              keepFor: duration({ default: '24h' }),
              maxNames: Type.Integer({ minimum: 1, default: 500 }),
              maxAddressesPerName: Type.Integer({ minimum: 1, default: 256 }),
              /** `host` or `host:port`; empty: the system's resolvers (/etc/resolv.conf). */
              servers: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
            },
            section,
          ),
        },
        section,
      ),
      /** Alert sinks, noise control and delivery. */
      alerting: alertingSection(sink),
      /** The console: HTTP API, live stream and web UI on the collector's HTTP listener. */
      api: Type.Object(
        {
          /** Serve the web UI under /ui/. */
          ui: Type.Boolean({ default: true }),
          maxPageSize: Type.Integer({ minimum: 10, maximum: 5000, default: 500 }),
          /** How far back a what-if may look, and how many stored observations it may read. */
          whatIfMaxDays: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
          whatIfMaxObservations: Type.Integer({ minimum: 1000, default: 50000 }),
          /**
           * Characters a reason must have to approve, reject, relearn or add to a baseline: these are
           * security decisions the audit log must explain. 10 rules out "ok" and "expected" yet fits
           * a ticket and a word ("SEC-1234 cron").
           */
          minReasonLength: Type.Integer({ minimum: 1, maximum: 500, default: 10 }),
          /**
           * How long an approval, an addition to a baseline or a status change can be undone: long
           * enough to notice a wrong click and read the confirmation again, short enough that
           * nobody builds on a decision that may still vanish.
           */
          undoWindow: duration({ default: '15m' }),
          /** Failed authentications per client address per minute before 429. */
          authFailuresPerMinute: Type.Integer({ minimum: 1, default: 30 }),
          stream: Type.Object({ maxClients: Type.Integer({ minimum: 1, default: 200 }), maxBufferedBytes: Type.Integer({ minimum: 65536, default: 4194304 }) }, section),
        },
        section,
      ),
    },
    section,
  );
}
