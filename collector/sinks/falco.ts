/**
 * Falco-compatible JSON (the body Falco's http_output POSTs), so that falcosidekick can carry
 * driftwatch alerts to its many outputs. One alert per request, like Falco; `source` is
 * `driftwatch`, field names follow Falco's where one exists (k8s.ns.name, proc.exepath, …) and
 * use a `driftwatch.` prefix otherwise.
 */
import type { Severity } from '../../common/deviations.js';
import { jsonRequest, PostEachSink, postEachSinkFields, sinkHttpClient } from './http.js';
import { defineSink, type AlertNotification } from './types.js';

export interface FalcoEvent {
  rule: string;
  priority: string;
  output: string;
  output_fields: Record<string, string | number | null>;
  time: string;
  source: 'driftwatch';
  tags: string[];
  hostname: string;
}

const PRIORITY: Record<Severity, string> = { critical: 'Critical', high: 'Error', medium: 'Warning', low: 'Notice', info: 'Informational' };

/** RFC 3339 with nine fractional digits, as Falco writes `time`. */
export function falcoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
}

function ruleName(n: AlertNotification): string {
  if (n.kind === 'health' && n.health) return `Driftwatch health: ${n.health.kind}`;
  if (n.kind === 'group') return 'Driftwatch grouped deviations';
  return `Driftwatch deviation: ${n.deviations[0]?.kind ?? 'unknown'}`;
}

/** Pure: the Falco event for one notification. */
export function toFalcoEvent(n: AlertNotification, opts: { hostname: string }): FalcoEvent {
  const d = n.kind === 'deviation' ? n.deviations[0] : undefined;
  const fields: Record<string, string | number | null> = {
    'driftwatch.alert_key': n.alertKey,
    'driftwatch.idempotency_key': n.idempotencyKey,
    'driftwatch.status': n.status,
    'driftwatch.severity': n.severity,
    'driftwatch.cluster': n.cluster,
    'driftwatch.url': n.url,
  };
  if (n.workload) {
    fields['k8s.ns.name'] = n.workload.namespace;
    fields['container.name'] = n.workload.container;
    fields['driftwatch.workload'] = n.workload.name;
    fields['driftwatch.workload_kind'] = n.workload.kind;
  }
  if (d) {
    fields['driftwatch.deviation_id'] = d.id;
    fields['driftwatch.deviation_kind'] = d.kind;
    fields['driftwatch.item'] = d.itemKey;
    fields['k8s.pod.name'] = d.pods[0] ?? null;
    fields['container.image.repository'] = d.image;
    if (typeof d.item.exe === 'string') fields['proc.exepath'] = d.item.exe;
    if (d.lineage[0]) fields['proc.cmdline'] = d.lineage[0];
    if (d.peer) fields['driftwatch.peer'] = d.peer;
  }
  if (n.kind === 'group') fields['driftwatch.deviations'] = n.deviations.length + n.truncated;
  if (n.health) {
    fields['driftwatch.health_kind'] = n.health.kind;
    fields['driftwatch.node'] = n.health.node;
  }
  const timeMs = n.status === 'resolved' ? (n.endsAtMs ?? n.decidedAtMs) : n.startsAtMs;
  const priority = n.status === 'resolved' ? 'Informational' : PRIORITY[n.severity];
  const where = n.workload ? ` (k8s.ns.name=${n.workload.namespace} workload=${n.workload.kind}/${n.workload.name} container.name=${n.workload.container})` : '';
  const clock = new Date(timeMs).toISOString().slice(11, 23);
  return {
    rule: ruleName(n),
    priority,
    output: `${clock}000000: ${priority} ${n.status === 'resolved' ? 'Resolved: ' : ''}${n.summary.replace(/[\r\n]+/g, ' ')}${where}`,
    output_fields: fields,
    time: falcoTime(timeMs),
    source: 'driftwatch',
    tags: ['driftwatch', n.kind, ...(d ? [d.kind] : []), ...(n.health ? [n.health.kind] : []), ...(n.status === 'resolved' ? ['resolved'] : [])],
    hostname: n.health?.node ?? d?.nodes[0] ?? opts.hostname,
  };
}

export const falcoSink = defineSink({
  type: 'falco',
  fields: postEachSinkFields,
  requireOneOf: [['url']],
  keepAlive: false,
  create: (config, ctx) => new PostEachSink('falco', config.name, config.url!, sinkHttpClient(config), (n) => jsonRequest(toFalcoEvent(n, { hostname: ctx.hostname }))),
});
