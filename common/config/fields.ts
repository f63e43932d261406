/**
 * The building blocks of the configuration schema. Each is a TypeBox schema: the same value is the
 * JSON Schema Ajv validates with (defaults included, `useDefaults`) and, through `Static`, the
 * TypeScript type the code reads — so a key is written once.
 *
 * Sections (agent.ts, collector.ts, alerting.ts) and the sources and sinks that declare their own
 * keys (agent/sources, collector/sinks) build from these.
 */
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DURATION_PATTERN } from '../duration.js';

/**
 * `250ms`, `30s`, `15m`, `24h`, `7d` or a number of milliseconds (common/duration.ts parses it).
 * One `type: [string, number]` with a pattern, not a union, so that Ajv names the one problem.
 */
export function duration(options: { default?: string | number } = {}): TUnsafe<string | number> {
  return Type.Unsafe<string | number>({ type: ['string', 'number'], pattern: DURATION_PATTERN, ...options });
}

/**
 * One of the given strings. A plain JSON Schema `enum` (not TypeBox's union of literals) so that
 * an error reads "must be one of …" with the allowed values.
 */
export function oneOf<const V extends readonly string[]>(values: V, options: { default?: V[number] } = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ enum: [...values], ...options });
}

/** `host:port` to listen on or connect to. */
export function hostPort(options: { default?: string } = {}) {
  return Type.String({ minLength: 1, ...options });
}

/** An http(s) URL without white space (sink receivers). */
export const httpUrl = Type.String({ pattern: '^https?://[^\\s]+$' });

/** A mapping whose absence means "all defaults": `{}` is filled in, then its own defaults. */
export const section = { additionalProperties: false, default: {} } as const;
/** A closed mapping without a default (present only when configured). */
export const closed = { additionalProperties: false } as const;

/** TLS material for a client or server. Paths to PEM files. */
export const tlsSchema = Type.Object(
  {
    ca: Type.Optional(Type.String()),
    cert: Type.Optional(Type.String()),
    key: Type.Optional(Type.String()),
    /** Client side: the name expected in the server certificate (defaults to the host). */
    serverName: Type.Optional(Type.String()),
  },
  closed,
);
export type TlsConfig = Static<typeof tlsSchema>;

/** How a process reaches the Kubernetes API (`agent.kubernetes`, `collector.kubernetes`; common/kube/client.ts). */
export const kubernetesAccessSchema = Type.Object(
  {
    /** `auto`: use the in-cluster service account when present. */
    mode: oneOf(['auto', 'in-cluster', 'kubeconfig', 'off'], { default: 'auto' }),
    kubeconfig: Type.Optional(Type.String()),
  },
  section,
);
export type KubernetesAccessConfig = Static<typeof kubernetesAccessSchema>;

/** Per-listener defaults of `connectionLimits` / `httpConnectionLimits` (each listener documents its own). */
export interface ConnectionLimitDefaults {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  idleTimeout: string;
  headersTimeout?: string;
  requestTimeout?: string;
}

function connectionCapFields(d: ConnectionLimitDefaults) {
  return {
    /** Open connections the listener accepts; more are closed at once (file descriptors stay bounded). */
    maxConnections: Type.Integer({ minimum: 1, default: d.maxConnections }),
    /** Open connections from one remote address: one client cannot take the whole listener. */
    maxConnectionsPerAddress: Type.Integer({ minimum: 1, default: d.maxConnectionsPerAddress }),
    /** A connection with nothing in progress is closed after this long (HTTP keep-alive; gRPC: no call). */
    idleTimeout: duration({ default: d.idleTimeout }),
  };
}

/** Caps and idle timeout of a gRPC listener (common/connections.ts applies them). */
export function connectionLimits(d: ConnectionLimitDefaults) {
  return Type.Object(connectionCapFields(d), section);
}

/** Caps and timeouts of an HTTP listener (common/connections.ts applies them). */
export function httpConnectionLimits(d: Required<ConnectionLimitDefaults>) {
  return Type.Object(
    {
      ...connectionCapFields(d),
      /** Time to send a request's headers from its first byte; a new connection must start its first request within it too. Not above requestTimeout. */
      headersTimeout: duration({ default: d.headersTimeout }),
      /** Time to send a whole request (headers and body). */
      requestTimeout: duration({ default: d.requestTimeout }),
    },
    section,
  );
}
export type ConnectionLimits = Static<ReturnType<typeof connectionLimits>>;
export type HttpConnectionLimits = Static<ReturnType<typeof httpConnectionLimits>>;

/** A section as the loader would fill it: for components built without a loaded configuration (tests, defaults). */
export function withDefaults<S extends TSchema>(schema: S, value: Partial<Static<S>> = {}): Static<S> {
  return Value.Default(schema, structuredClone(value)) as Static<S>;
}
