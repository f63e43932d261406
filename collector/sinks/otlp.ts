/**
 * OpenTelemetry logs over OTLP/HTTP (an OpenTelemetry Collector, Grafana Loki, Elastic, a vendor's
 * OTLP endpoint): one log record per notification, encoded by OpenTelemetry's own serializer
 * (`@opentelemetry/otlp-transformer`, protobuf by default as the OTLP spec prefers, JSON on request)
 * and POSTed with the sinks' one HTTP client, so timeouts, TLS, custom headers and the status →
 * verdict table are those of every other sink (and the outbox owns retries).
 *
 * A record: body = the one-line summary; attributes = what a query selects on (`driftwatch.*`
 * with the idempotency key, and the Kubernetes semantic conventions `k8s.namespace.name`,
 * `k8s.<kind>.name`, `k8s.container.name`) plus `driftwatch.alert`, the `driftwatch.alert.v1`
 * document as JSON; resource = the collector (`service.name` driftwatch-collector, `host.name`,
 * `k8s.cluster.name`).
 */
import { Type } from '@sinclair/typebox';
import { SeverityNumber, type LogAttributes } from '@opentelemetry/api-logs';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { oneOf } from '../../common/config/fields.js';
import type { Severity } from '../../common/deviations.js';
import { visibleText } from '../../common/text.js';
import { VERSION } from '../../common/version.js';
import { toAlertDocument } from './document.js';
import { postEachSinkFields, sinkHttpClient, type HttpClient } from './http.js';
import { inertJson, safeJson } from './json.js';
import { defineSink, type AlertNotification, type SendVerdict, type Sink, type SinkContext } from './types.js';

const otlpFields = {
  ...postEachSinkFields,
  /** `protobuf` (application/x-protobuf, the OTLP default and ours) or `json` (application/json). No schema default: see syslog.ts. */
  encoding: Type.Optional(oneOf(['protobuf', 'json'] as const)),
};

const SEVERITY_NUMBER: Readonly<Record<Severity, SeverityNumber>> = {
  info: SeverityNumber.INFO,
  low: SeverityNumber.WARN,
  medium: SeverityNumber.WARN3,
  high: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
};

const SCOPE = { name: 'driftwatch', version: VERSION };

function hrTime(ms: number): [number, number] {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** Pure: the log record of one notification. */
export function toLogRecord(n: AlertNotification, resource: Resource, observedMs: number): ReadableLogRecord {
  const attributes: LogAttributes = {
    'driftwatch.idempotency_key': n.idempotencyKey,
    'driftwatch.alert_key': n.alertKey,
    'driftwatch.kind': n.kind,
    'driftwatch.status': n.status,
    'driftwatch.reason': n.reason,
    'driftwatch.severity': n.severity,
    'driftwatch.alert': safeJson(toAlertDocument(n, n.decidedAtMs)),
  };
  if (n.url) attributes['url.full'] = n.url;
  if (n.workload) {
    attributes['k8s.namespace.name'] = n.workload.namespace;
    attributes[`k8s.${n.workload.kind.toLowerCase()}.name`] = n.workload.name;
    attributes['k8s.container.name'] = n.workload.container;
  }
  // What a person reads shows invisible and reordering characters as text, as in every sink (json.ts).
  for (const [key, value] of Object.entries(attributes)) if (typeof value === 'string') attributes[key] = visibleText(value);
  return {
    hrTime: hrTime(n.decidedAtMs),
    hrTimeObserved: hrTime(observedMs),
    severityNumber: n.status === 'resolved' ? SeverityNumber.INFO : SEVERITY_NUMBER[n.severity],
    severityText: n.status === 'resolved' ? 'resolved' : n.severity,
    body: visibleText(n.summary),
    eventName: 'driftwatch.alert',
    resource,
    instrumentationScope: SCOPE,
    attributes,
    droppedAttributesCount: 0,
  };
}

/** Pure: the exact request body and content type of one export. */
export function toOtlpRequest(batch: readonly AlertNotification[], resource: Resource, observedMs: number, encoding: 'protobuf' | 'json'): { body: Buffer; contentType: string } {
  const records = batch.map((n) => toLogRecord(n, resource, observedMs));
  const serializer = encoding === 'json' ? JsonLogsSerializer : ProtobufLogsSerializer;
  const bytes = serializer.serializeRequest(records);
  if (!bytes) throw new Error('the OTLP serializer produced no request');
  if (encoding === 'protobuf') return { body: Buffer.from(bytes), contentType: 'application/x-protobuf' };
  return { body: Buffer.from(inertJson(Buffer.from(bytes).toString('utf8')), 'utf8'), contentType: 'application/json' };
}

class OtlpSink implements Sink {
  readonly type = 'otlp' as const;
  /** One export request carries many records: the receiver accepts or refuses the batch as a whole. */
  readonly maxBatch = 100;
  private readonly resource: Resource;

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly encoding: 'protobuf' | 'json',
    private readonly http: HttpClient,
    private readonly ctx: SinkContext,
  ) {
    this.resource = resourceFromAttributes({ 'service.name': 'driftwatch-collector', 'service.version': VERSION, 'host.name': ctx.hostname });
  }

  async send(batch: readonly AlertNotification[], signal?: AbortSignal): Promise<SendVerdict> {
    const clusters = [...new Set(batch.map((n) => n.cluster))];
    const resource = clusters.length === 1 ? this.resource.merge(resourceFromAttributes({ 'k8s.cluster.name': clusters[0]! })) : this.resource;
    const { body, contentType } = toOtlpRequest(batch, resource, this.ctx.now(), this.encoding);
    return this.http.post(this.url, body, { 'content-type': contentType }, signal);
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export const otlpSink = defineSink({
  type: 'otlp',
  fields: otlpFields,
  requireOneOf: [['url']],
  keepAlive: false,
  create: (config, ctx) => new OtlpSink(config.name, config.url!, config.encoding ?? 'protobuf', sinkHttpClient(config), ctx),
});
