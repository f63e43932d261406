/**
 * The `driftwatch.alert.v1` document: the webhook body and each line of the stdout/file sinks.
 * Field by field in docs/alerting.md; adding a field is compatible, renaming or removing one
 * needs `driftwatch.alert.v2`.
 */
import type { HealthEvent } from '../../common/deviations.js';
import type { WorkloadId } from '../../common/model.js';
import { safeJson } from './json.js';
import { isoTime } from './text.js';
import { ALERT_SCHEMA, type AlertNotification, type DeviationBrief } from './types.js';

export interface AlertDocumentV1 {
  schema: typeof ALERT_SCHEMA;
  idempotencyKey: string;
  /** When this attempt was sent (RFC 3339); equals the X-Driftwatch-Timestamp header. */
  sentAt: string;
  key: string;
  kind: AlertNotification['kind'];
  status: AlertNotification['status'];
  reason: AlertNotification['reason'];
  alertname: string;
  severity: AlertNotification['severity'];
  cluster: string;
  summary: string;
  startsAt: string;
  endsAt: string | null;
  url: string | null;
  workload: WorkloadId | null;
  deviations: (Omit<DeviationBrief, 'firstSeenMs' | 'lastSeenMs' | 'commands'> & { firstSeen: string; lastSeen: string; commands?: DocumentCommand[] })[];
  truncated: number;
  health: Pick<HealthEvent, 'kind' | 'key' | 'node' | 'summary' | 'detail'> | null;
  heldBack: number;
  /** 1 for the alert's first notification, +1 for each later one: keep the highest per `key`. */
  sequence: number;
}

/** A session's command in the document: its time as RFC 3339. */
export interface DocumentCommand {
  time: string;
  exe: string;
  args: string;
  lineage: string[];
}

export function toAlertDocument(n: AlertNotification, sentAtMs: number): AlertDocumentV1 {
  return {
    schema: ALERT_SCHEMA,
    idempotencyKey: n.idempotencyKey,
    sentAt: isoTime(sentAtMs),
    key: n.alertKey,
    kind: n.kind,
    status: n.status,
    reason: n.reason,
    alertname: n.alertname,
    severity: n.severity,
    cluster: n.cluster,
    summary: n.summary,
    startsAt: isoTime(n.startsAtMs),
    endsAt: n.endsAtMs === null ? null : isoTime(n.endsAtMs),
    url: n.url,
    workload: n.workload,
    deviations: n.deviations.map(({ firstSeenMs, lastSeenMs, commands, ...d }) => ({
      ...d,
      firstSeen: isoTime(firstSeenMs),
      lastSeen: isoTime(lastSeenMs),
      ...(commands ? { commands: commands.map((c) => ({ time: isoTime(c.timeMs), exe: c.exe, args: c.args, lineage: c.lineage ?? [] })) } : {}),
    })),
    truncated: n.truncated,
    health: n.health ? { kind: n.health.kind, key: n.health.key, node: n.health.node, summary: n.health.summary, detail: n.health.detail } : null,
    heldBack: n.heldBack,
    // Rows queued before the field existed are first notifications or later ones alike: 0 = unknown.
    sequence: n.sequence ?? 0,
  };
}

/** Pure: JSON lines (stdout and file sinks), one document per notification. */
export function toJsonLines(batch: readonly AlertNotification[], nowMs: number): string {
  return batch.map((n) => `${safeJson(toAlertDocument(n, nowMs))}\n`).join('');
}
