/**
 * The configuration: one YAML file configures either process — `agent:` is read by
 * `driftwatch agent`, `collector:` by `driftwatch collector`, both by `driftwatch demo`.
 *
 * Every key is written once, as a TypeBox schema in the section that owns it (agent.ts,
 * collector.ts, alerting.ts, fields.ts): that value is the JSON Schema Ajv validates with (every
 * default lives in it, so documentation, validation and behaviour cannot drift) and, through
 * `Static`, the type below. Source kinds and sink types add their own keys from their registries;
 * the schema is composed from them where both registries are visible (cli/config.ts).
 */
import { Type, type Static } from '@sinclair/typebox';
import { agentSection, sourceCommonFields } from './agent.js';
import { sinkCommonFields } from './alerting.js';
import { collectorSection } from './collector.js';
import { oneOf, section } from './fields.js';
import { kindedItemSchema, type KindDeclaration } from './kinds.js';

export type { KindDeclaration } from './kinds.js';
export type { KubernetesAccessConfig, TlsConfig } from './fields.js';

/** The source kinds and sink types a configuration may name, each with its own keys. */
export interface ConfigKinds {
  sources: readonly KindDeclaration[];
  sinks: readonly KindDeclaration[];
}

export function composeConfigSchema(kinds: ConfigKinds) {
  return Type.Object(
    {
      cluster: Type.String({ pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]*$', default: 'default' }),
      log: Type.Object(
        {
          level: oneOf(['error', 'warn', 'info', 'debug'], { default: 'info' }),
          format: oneOf(['auto', 'json', 'text'], { default: 'auto' }),
        },
        section,
      ),
      agent: agentSection(kindedItemSchema('agent.sources', sourceCommonFields, 'kind', kinds.sources)),
      collector: collectorSection(kindedItemSchema('collector.alerting.sinks', sinkCommonFields, 'type', kinds.sinks)),
    },
    { $id: 'https://driftwatch.dev/schemas/config.json', additionalProperties: false },
  );
}

export type ConfigSchema = ReturnType<typeof composeConfigSchema>;
export type DriftwatchConfig = Static<ConfigSchema>;
export type LogConfig = DriftwatchConfig['log'];
export type AgentConfig = DriftwatchConfig['agent'];
/** A source's common block; its kind's own keys are typed by its definition (agent/sources/definition.ts). */
export type SourceConfig = AgentConfig['sources'][number];
export type CollectorConfig = DriftwatchConfig['collector'];
export type AlertingConfig = CollectorConfig['alerting'];
/** A sink's common block; its type's own keys are typed by its definition (collector/sinks/types.ts). */
export type SinkConfig = AlertingConfig['sinks'][number];
