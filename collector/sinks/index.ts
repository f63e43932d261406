/**
 * The sink registry: adding a sink is its file, its test, and one line here.
 */
import { ConfigError } from '../../common/config.js';
import type { SinkConfig, SinkType } from '../../common/config-schema.js';
import { alertmanagerSink } from './alertmanager.js';
import { falcoSink } from './falco.js';
import { fileSink } from './file.js';
import { slackSink } from './slack.js';
import { stdoutSink } from './stdout.js';
import type { Sink, SinkContext, SinkDefinition, SinkField } from './types.js';
import { webhookSink } from './webhook.js';

export type { AlertNotification, DeviationBrief, SendVerdict, Sink, SinkContext, SinkDefinition } from './types.js';

export const SINKS: Readonly<Record<SinkType, SinkDefinition>> = {
  alertmanager: alertmanagerSink,
  webhook: webhookSink,
  slack: slackSink,
  falco: falcoSink,
  stdout: stdoutSink,
  file: fileSink,
};

const TYPE_FIELDS: readonly SinkField[] = ['urls', 'url', 'secret', 'secretFile', 'path', 'tls', 'headers'];

function present(config: SinkConfig, field: SinkField): boolean {
  const v = config[field];
  if (v === undefined) return false;
  return typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length > 0;
}

/** Checks the type-specific keys of every sink and that names are unique; throws ConfigError. */
export function validateSinks(sinks: readonly SinkConfig[], origin = 'collector.alerting'): void {
  const names = new Set<string>();
  sinks.forEach((s, i) => {
    const key = `collector.alerting.sinks.${i}`;
    if (names.has(s.name)) throw new ConfigError(origin, `${key}.name`, `duplicate sink name ${JSON.stringify(s.name)}`);
    names.add(s.name);
    const def = SINKS[s.type];
    for (const field of TYPE_FIELDS) {
      if (present(s, field) && !def.schema.accepts.includes(field)) throw new ConfigError(origin, `${key}.${field}`, `does not apply to sinks of type ${s.type}`);
    }
    for (const oneOf of def.schema.requireOneOf) {
      if (!oneOf.some((f) => present(s, f))) throw new ConfigError(origin, `${key}.${oneOf.join('|')}`, `is required for sinks of type ${s.type}`);
    }
  });
}

export function createSink(config: SinkConfig, ctx: SinkContext): Sink {
  return SINKS[config.type].create(config, ctx);
}
