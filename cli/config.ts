/**
 * The configuration as driftwatch loads it: the sections of common/config, completed with the
 * source kinds the agent registers (agent/sources/index.ts) and the sink types the collector
 * registers (collector/sinks/index.ts), each with its own keys.
 *
 * Composed here because the CLI is the one room that sees both registries: common/ imports
 * neither, and agent/ and collector/ never import each other. Composing from explicit lists —
 * rather than kinds registering themselves into common/ as their modules load — keeps the schema
 * independent of import order: whoever loads a configuration gets every kind.
 */
import { configLoader, type LoadConfigOptions, type LoadedConfig } from '../common/config/load.js';
import { composeConfigSchema, type ConfigSchema, type DriftwatchConfig } from '../common/config/schema.js';
import { SINKS, type SinkDefinition } from '../collector/sinks/index.js';
import { SOURCES, type SourceDefinition } from '../agent/sources/index.js';

export { ConfigError } from '../common/config/errors.js';
export type { ConfigOverride, LoadConfigOptions, LoadedConfig } from '../common/config/load.js';
export type { DriftwatchConfig } from '../common/config/schema.js';

/** The schema for these source and sink definitions (the registries' own, or a test's). */
export function configSchemaFor(sources: readonly SourceDefinition[], sinks: readonly SinkDefinition[]): ConfigSchema {
  return composeConfigSchema({
    sources: sources.map((s) => ({ name: s.kind, fields: s.fields })),
    sinks: sinks.map((s) => ({ name: s.type, fields: s.fields })),
  });
}

export const configSchema = configSchemaFor(SOURCES, Object.values(SINKS));

const load = configLoader(configSchema);

/** The configuration and which keys the environment and flags overrode (to be logged at start). */
export function loadConfigWithOverrides(opts: LoadConfigOptions = {}): LoadedConfig {
  return load(opts);
}

/**
 * Loads file → environment → flags (later wins), fills defaults from the schema, validates, and
 * returns a deep-frozen config. Throws ConfigError naming the file, the key and the reason.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Readonly<DriftwatchConfig> {
  return load(opts).config;
}
