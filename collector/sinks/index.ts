/**
 * The sink registry, the one list of sink types: adding a sink is its file (its keys, what it
 * requires and `create`, defineSink), its test, and one line here. The configuration schema takes
 * the types and their keys from this list (cli/config.ts).
 */
import { ConfigError } from '../../common/config/errors.js';
import type { SinkConfig } from '../../common/config/schema.js';
import { alertmanagerSink } from './alertmanager.js';
import { falcoSink } from './falco.js';
import { fileSink } from './file.js';
import { slackSink } from './slack.js';
import { stdoutSink } from './stdout.js';
import type { Sink, SinkContext, SinkDefinition } from './types.js';
import { webhookSink } from './webhook.js';

export type { AlertNotification, DeviationBrief, SendVerdict, Sink, SinkContext, SinkDefinition, SinkType } from './types.js';

export const SINKS: Readonly<Record<string, SinkDefinition>> = byType([alertmanagerSink, webhookSink, slackSink, falcoSink, stdoutSink, fileSink]);

function byType(definitions: readonly SinkDefinition[]): Readonly<Record<string, SinkDefinition>> {
  const out: Record<string, SinkDefinition> = {};
  for (const d of definitions) {
    if (out[d.type]) throw new Error(`sink type ${JSON.stringify(d.type)} is registered twice`);
    out[d.type] = d;
  }
  return Object.freeze(out);
}

/** Every type's own keys: a key only some types declare must not be set on the others. */
const TYPE_FIELDS: readonly string[] = [...new Set(Object.values(SINKS).flatMap((d) => Object.keys(d.fields)))];

function present(config: SinkConfig, field: string): boolean {
  const v = (config as Readonly<Record<string, unknown>>)[field];
  if (v === undefined) return false;
  return typeof v !== 'object' || v === null || Array.isArray(v) || Object.keys(v).length > 0;
}

/** Checks the type-specific keys of every sink and that names are unique; throws ConfigError. */
export function validateSinks(sinks: readonly SinkConfig[], origin = 'collector.alerting'): void {
  const names = new Set<string>();
  sinks.forEach((s, i) => {
    const key = `collector.alerting.sinks.${i}`;
    if (names.has(s.name)) throw new ConfigError(origin, `${key}.name`, `duplicate sink name ${JSON.stringify(s.name)}`);
    names.add(s.name);
    const def = SINKS[s.type];
    if (!def) throw new ConfigError(origin, `${key}.type`, `must be one of ${Object.keys(SINKS).map((t) => JSON.stringify(t)).join(', ')}`);
    for (const field of TYPE_FIELDS) {
      if (present(s, field) && !(field in def.fields)) throw new ConfigError(origin, `${key}.${field}`, `does not apply to sinks of type ${s.type}`);
    }
    for (const oneOf of def.requireOneOf) {
      if (!oneOf.some((f) => present(s, f))) throw new ConfigError(origin, `${key}.${oneOf.join('|')}`, `is required for sinks of type ${s.type}`);
    }
  });
}

export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  return SINKS[config.type].create(config, ctx);
}
