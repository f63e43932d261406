/**
 * The building blocks of the configuration schema. Each is a TypeBox schema: the same value is the
 * JSON Schema Ajv validates with (defaults included, `useDefaults`) and, through `Static`, the
 * TypeScript type the code reads — so a key is written once.
 *
 * Sections (agent.ts, collector.ts, alerting.ts) and the sources and sinks that declare their own
 * keys (agent/sources, collector/sinks) build from these.
 */
import { Type, type Static, type TUnsafe } from '@sinclair/typebox';
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
