/**
 * Alertmanager API v2 (`POST /api/v2/alerts`). Every configured instance is posted to (members of
 * an HA pair deduplicate between themselves). Open alerts are re-posted (keepAlive) with an
 * `endsAt` a few intervals ahead, so Alertmanager keeps them firing while driftwatch runs and
 * ends them by itself if driftwatch stops; a resolution posts `endsAt` = when it ended.
 */
import { Type } from '@sinclair/typebox';
import { httpUrl } from '../../common/config/fields.js';
import { parseDuration } from '../../common/duration.js';
import { httpSinkFields, JSON_HEADERS, sinkHttpClient, type HttpClient } from './http.js';
import { safeJson } from './json.js';
import { describe, isoTime } from './text.js';
import { defineSink, type AlertNotification, type SendVerdict, type Sink, type SinkConfigOf, type SinkContext } from './types.js';

/** The keys of an `alertmanager` sink. */
const alertmanagerFields = {
  ...httpSinkFields,
  /** Base URL of every instance (both of an HA pair): each gets every alert. */
  urls: Type.Optional(Type.Array(httpUrl, { minItems: 1 })),
};
type AlertmanagerSinkConfig = SinkConfigOf<typeof alertmanagerFields>;

const DEFAULT_REFRESH_MS = 60_000;
/** A firing alert stays firing in Alertmanager this many refresh intervals after the last post. */
const ENDS_AT_INTERVALS = 4;

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

function put(target: Record<string, string>, key: string, value: string | null | undefined): void {
  // Alertmanager drops empty label values; leaving them out keeps label sets stable.
  if (value) target[key] = value;
}

/** Pure: the request body for one batch, as of `nowMs`. */
export function toAlertmanagerAlerts(batch: readonly AlertNotification[], opts: { nowMs: number; refreshMs: number }): AlertmanagerAlert[] {
  return batch.map((n) => {
    const labels: Record<string, string> = { alertname: n.alertname, severity: n.severity };
    put(labels, 'cluster', n.cluster);
    if (n.workload) {
      put(labels, 'namespace', n.workload.namespace);
      put(labels, 'workload', n.workload.name);
      put(labels, 'workload_kind', n.workload.kind);
      put(labels, 'container', n.workload.container);
    }
    if (n.kind === 'deviation' && n.deviations[0]) {
      labels.deviation_kind = n.deviations[0].kind;
      labels.deviation_id = String(n.deviations[0].id);
    } else if (n.kind === 'group') {
      // Labels identify the alert and must not change as members join (an update is the same
      // alert with new annotations): the kinds of the members are an annotation.
      labels.deviation_group = n.alertKey.slice(n.alertKey.lastIndexOf(':') + 1);
    } else if (n.health) {
      labels.health_kind = n.health.kind;
      put(labels, 'node', n.health.node);
      labels.health_key = n.health.key;
    }
    const annotations: Record<string, string> = { summary: n.summary, description: describe(n) };
    put(annotations, 'url', n.url);
    if (n.kind === 'group') annotations.deviation_kinds = [...new Set(n.deviations.map((d) => d.kind))].sort().join(',');
    // Which version of the alert's content this is (updates re-post the same labels).
    if (n.sequence) annotations.sequence = String(n.sequence);
    if (n.deviations[0] && n.kind === 'deviation') annotations.severity_reason = n.deviations[0].severityReason;
    const endsAtMs = n.status === 'resolved' ? (n.endsAtMs ?? opts.nowMs) : opts.nowMs + ENDS_AT_INTERVALS * opts.refreshMs;
    const alert: AlertmanagerAlert = { labels, annotations, startsAt: isoTime(n.startsAtMs), endsAt: isoTime(endsAtMs) };
    if (n.url) alert.generatorURL = n.url;
    return alert;
  });
}

/** Any instance accepting is success (the others get the next re-post); else retry wins over fail. */
export function combineVerdicts(verdicts: readonly SendVerdict[]): SendVerdict {
  if (verdicts.some((v) => v.result === 'ok')) return { result: 'ok' };
  const reasons = verdicts.map((v) => (v.result === 'ok' ? '' : v.reason)).join('; ');
  return verdicts.some((v) => v.result === 'retry') ? { result: 'retry', reason: reasons } : { result: 'fail', reason: reasons };
}

class AlertmanagerSink implements Sink {
  readonly type = 'alertmanager' as const;
  readonly maxBatch = 64;
  private readonly http: HttpClient;
  private readonly endpoints: string[];
  private readonly refreshMs: number;

  constructor(
    readonly name: string,
    config: AlertmanagerSinkConfig,
    private readonly ctx: SinkContext,
  ) {
    this.http = sinkHttpClient(config);
    this.endpoints = (config.urls ?? []).map((u) => `${u.replace(/\/+$/, '')}/api/v2/alerts`);
    this.refreshMs = config.renotifyInterval !== undefined ? parseDuration(config.renotifyInterval) : DEFAULT_REFRESH_MS;
  }

  async send(batch: readonly AlertNotification[], signal?: AbortSignal): Promise<SendVerdict> {
    const body = safeJson(toAlertmanagerAlerts(batch, { nowMs: this.ctx.now(), refreshMs: this.refreshMs }));
    const verdicts = await Promise.all(this.endpoints.map((url) => this.http.post(url, body, JSON_HEADERS, signal)));
    return combineVerdicts(verdicts);
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export const alertmanagerSink = defineSink({
  type: 'alertmanager',
  fields: alertmanagerFields,
  requireOneOf: [['urls']],
  keepAlive: true,
  defaultRenotifyMs: DEFAULT_REFRESH_MS,
  create: (config, ctx) => new AlertmanagerSink(config.name, config, ctx),
});
