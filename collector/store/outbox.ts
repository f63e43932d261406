/**
 * The alerting tables (migration 003): `alert_state` (what was decided per alert) and
 * `alert_outbox` (the per-sink delivery queue). Portable SQL through SqlExecutor only.
 */
import type { Severity } from '../../common/deviations.js';
import type { OutboxRepository } from './contract.js';
import type { SqlExecutor } from './sql.js';
import type { AlertKind, AlertNotification } from '../sinks/types.js';

/**
 * pending: a deviation waiting for the grouping decision · held: decided, held back by the rate
 * limit · firing: notified, open · acknowledged: open, a human is on it (no re-notification) ·
 * grouped: a deviation notified as part of a group · resolved: ended.
 */
export type AlertPhase = 'pending' | 'held' | 'firing' | 'acknowledged' | 'grouped' | 'resolved';

/** The content of an alert; a notification is this plus the decision (status, reason, key). */
export type AlertSnapshot = Omit<AlertNotification, 'idempotencyKey' | 'status' | 'reason' | 'endsAtMs' | 'heldBack' | 'decidedAtMs' | 'sequence'>;

export interface AlertState {
  alertKey: string;
  kind: AlertKind;
  workloadKey: string | null;
  deviationId: number | null;
  groupKey: string | null;
  phase: AlertPhase;
  severity: Severity;
  eventMs: number;
  lastEventMs: number;
  dueMs: number | null;
  /** When the grown content of a notified alert is sent as an update (wall clock); null: nothing to tell. */
  updateDueMs: number | null;
  notifyCount: number;
  alert: AlertSnapshot;
}

interface StateRow {
  alert_key: string;
  kind: AlertKind;
  workload_key: string | null;
  deviation_id: number | null;
  group_key: string | null;
  phase: AlertPhase;
  severity: Severity;
  event_ms: number;
  last_event_ms: number;
  due_ms: number | null;
  update_due_ms: number | null;
  notify_count: number;
  alert: string;
}

function toState(r: StateRow): AlertState {
  return {
    alertKey: r.alert_key,
    kind: r.kind,
    workloadKey: r.workload_key,
    deviationId: r.deviation_id,
    groupKey: r.group_key,
    phase: r.phase,
    severity: r.severity,
    eventMs: r.event_ms,
    lastEventMs: r.last_event_ms,
    dueMs: r.due_ms,
    updateDueMs: r.update_due_ms,
    notifyCount: r.notify_count,
    alert: JSON.parse(r.alert) as AlertSnapshot,
  };
}

export interface OutboxRow {
  id: number;
  sink: string;
  attempts: number;
  createdMs: number;
  notification: AlertNotification;
}

export interface QueueStats {
  sink: string;
  depth: number;
  oldestMs: number | null;
}

/** Alerts whose first notification is not decided yet (the completion signal, collector/status.ts). */
export interface UndecidedAlerts {
  /** Deviations waiting for their workload's grouping decision (`grouping.wait`). */
  grouping: number;
  /** Alerts decided to notify but held back by the rate limit. */
  heldBack: number;
  /** Notified alerts whose grown content waits for its update (`alerting.updateInterval`). */
  updates: number;
}

export class SqlOutbox implements OutboxRepository {
  constructor(private readonly db: SqlExecutor) {}

  // ---- alert_state ----

  async get(alertKey: string): Promise<AlertState | undefined> {
    const r = await this.db.get<StateRow>('SELECT * FROM alert_state WHERE alert_key = @k', { k: alertKey });
    return r ? toState(r) : undefined;
  }

  /** Inserts or replaces the whole state of an alert. */
  async put(s: AlertState, nowMs: number): Promise<void> {
    await this.db.run(
      `INSERT INTO alert_state (alert_key, kind, workload_key, deviation_id, group_key, phase, severity, event_ms, last_event_ms, due_ms, update_due_ms, notify_count, alert, created_ms, updated_ms)
       VALUES (@alert_key, @kind, @workload_key, @deviation_id, @group_key, @phase, @severity, @event_ms, @last_event_ms, @due_ms, @update_due_ms, @notify_count, @alert, @now, @now)
       ON CONFLICT (alert_key) DO UPDATE SET group_key = @group_key, phase = @phase, severity = @severity, last_event_ms = @last_event_ms,
         due_ms = @due_ms, update_due_ms = @update_due_ms, notify_count = @notify_count, alert = @alert, updated_ms = @now`,
      {
        alert_key: s.alertKey,
        kind: s.kind,
        workload_key: s.workloadKey,
        deviation_id: s.deviationId,
        group_key: s.groupKey,
        phase: s.phase,
        severity: s.severity,
        event_ms: s.eventMs,
        last_event_ms: s.lastEventMs,
        due_ms: s.dueMs,
        update_due_ms: s.updateDueMs,
        notify_count: s.notifyCount,
        alert: JSON.stringify(s.alert),
        now: nowMs,
      },
    );
  }

  /** States of these phases whose due time has come, oldest due first. */
  async due(phase: AlertPhase, nowMs: number, limit: number): Promise<AlertState[]> {
    return (await this.db
      .all<StateRow>('SELECT * FROM alert_state WHERE phase = @p AND due_ms <= @now ORDER BY due_ms, event_ms LIMIT @limit', { p: phase, now: nowMs, limit }))
      .map(toState);
  }

  /** Notified alerts whose update is due, oldest due first. */
  async dueUpdates(nowMs: number, limit: number): Promise<AlertState[]> {
    return (await this.db.all<StateRow>('SELECT * FROM alert_state WHERE update_due_ms <= @now ORDER BY update_due_ms LIMIT @limit', { now: nowMs, limit })).map(toState);
  }

  /**
   * The earliest wall-clock time any decision comes due (a grouping wait's bound, a held alert, a
   * re-notification, an update); undefined when none is waiting. The alerter sets its one timer to it.
   */
  async nextDecisionMs(): Promise<number | undefined> {
    // One indexed MIN per phase (alert_state_due is (phase, due_ms)), not a scan of every open alert.
    const r = await this.db.get<{ t: number | null }>(
      `SELECT MIN(t) AS t FROM (
         SELECT MIN(due_ms) AS t FROM alert_state WHERE phase = 'pending'
         UNION ALL SELECT MIN(due_ms) FROM alert_state WHERE phase = 'held'
         UNION ALL SELECT MIN(due_ms) FROM alert_state WHERE phase = 'firing'
         UNION ALL SELECT MIN(due_ms) FROM alert_state WHERE phase = 'acknowledged'
         UNION ALL SELECT MIN(update_due_ms) FROM alert_state) due`,
    );
    return r?.t ?? undefined;
  }

  /** Workloads with deviations waiting for their grouping decision whose wall-clock bound has come. */
  async workloadsDue(nowMs: number, limit: number): Promise<string[]> {
    return (await this.db
      .all<{ w: string }>("SELECT DISTINCT workload_key AS w FROM alert_state WHERE phase = 'pending' AND due_ms <= @now AND workload_key IS NOT NULL LIMIT @limit", { now: nowMs, limit }))
      .map((r) => r.w);
  }

  async pendingOfWorkload(workloadKey: string): Promise<AlertState[]> {
    return (await this.db.all<StateRow>("SELECT * FROM alert_state WHERE workload_key = @w AND phase = 'pending' ORDER BY event_ms", { w: workloadKey })).map(toState);
  }

  /** Deviations of a workload already decided on individually with an event time in [fromEventMs, toEventMs]. */
  async countDecidedWithin(workloadKey: string, fromEventMs: number, toEventMs: number): Promise<number> {
    return (
      (await this.db.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM alert_state WHERE workload_key = @w AND kind = 'deviation' AND phase IN ('held', 'firing', 'acknowledged', 'resolved') AND event_ms >= @from AND event_ms <= @to",
        { w: workloadKey, from: fromEventMs, to: toEventMs },
      ))?.n ?? 0
    );
  }

  /**
   * The workload's open group a deviation at `eventMs` belongs to (event time): its latest member
   * within `windowMs` before, its first member no more than `windowMs` after (a delayed node's old
   * deviation does not join a later group) and no more than `lifetimeMs` before.
   */
  async openGroup(workloadKey: string, eventMs: number, windowMs: number, lifetimeMs: number): Promise<AlertState | undefined> {
    const r = await this.db.get<StateRow>(
      `SELECT * FROM alert_state WHERE workload_key = @w AND kind = 'group' AND phase IN ('held', 'firing', 'acknowledged')
         AND last_event_ms >= @since AND event_ms <= @until AND event_ms >= @started ORDER BY last_event_ms DESC LIMIT 1`,
      { w: workloadKey, since: eventMs - windowMs, until: eventMs + windowMs, started: eventMs - lifetimeMs },
    );
    return r ? toState(r) : undefined;
  }

  async members(groupKey: string): Promise<AlertState[]> {
    return (await this.db.all<StateRow>('SELECT * FROM alert_state WHERE group_key = @g ORDER BY event_ms', { g: groupKey })).map(toState);
  }

  async openHealthKeys(): Promise<string[]> {
    return (await this.db
      .all<{ alert_key: string }>("SELECT alert_key FROM alert_state WHERE kind = 'health' AND phase IN ('held', 'firing', 'acknowledged')"))
      .map((r) => r.alert_key.slice('health:'.length));
  }

  /**
   * Open deviations changed since `sinceIso` that alerting has no state for: events missed in
   * a crash between the engine's commit and ours. (Reads the core `deviations` table.)
   */
  async unseenOpenDeviations(sinceIso: string, limit: number): Promise<number[]> {
    return (await this.db
      .all<{ id: number }>(
        `SELECT d.id FROM deviations d WHERE d.status = 'open' AND d.kind <> 'baseline-overflow' AND d.updated_at >= @since
         AND NOT EXISTS (SELECT 1 FROM alert_state a WHERE a.deviation_id = d.id) ORDER BY d.id LIMIT @limit`,
        { since: sinceIso, limit },
      ))
      .map((r) => r.id);
  }

  /** Deviations that ended while their alert is still open here (a missed status event). */
  async endedWhileOpen(limit: number): Promise<number[]> {
    return (await this.db
      .all<{ id: number }>(
        `SELECT a.deviation_id AS id FROM alert_state a JOIN deviations d ON d.id = a.deviation_id
         WHERE d.status IN ('resolved', 'added-to-baseline')
           AND (a.phase IN ('pending', 'held', 'firing', 'acknowledged')
             OR (a.phase = 'grouped' AND EXISTS (SELECT 1 FROM alert_state g WHERE g.alert_key = a.group_key AND g.phase <> 'resolved')))
         ORDER BY a.deviation_id LIMIT @limit`,
        { limit },
      ))
      .map((r) => r.id);
  }

  // ---- alert_outbox ----

  /** Queues one notification for one sink; a second enqueue of the same key is a no-op. */
  async enqueue(sink: string, n: AlertNotification, nowMs: number): Promise<boolean> {
    return (
      (await this.db.run(
        `INSERT INTO alert_outbox (sink, idempotency_key, alert_key, payload, state, attempts, next_attempt_ms, created_ms)
         VALUES (@sink, @key, @alert, @payload, 'pending', 0, @now, @now) ON CONFLICT (sink, idempotency_key) DO NOTHING`,
        { sink, key: n.idempotencyKey, alert: n.alertKey, payload: JSON.stringify(n), now: nowMs },
      )).changes === 1
    );
  }

  async hasPending(sink: string, alertKey: string): Promise<boolean> {
    return (await this.db.get("SELECT 1 AS x FROM alert_outbox WHERE alert_key = @a AND sink = @s AND state = 'pending' LIMIT 1", { a: alertKey, s: sink })) !== undefined;
  }

  /** Per sink, when a notification of this alert was last queued. */
  async lastQueued(alertKey: string): Promise<Map<string, number>> {
    const rows = await this.db.all<{ sink: string; last: number }>('SELECT sink, MAX(created_ms) AS last FROM alert_outbox WHERE alert_key = @a GROUP BY sink', { a: alertKey });
    return new Map(rows.map((r) => [r.sink, r.last]));
  }

  /** The next rows a sink should send, in queue order. */
  async claim(sink: string, nowMs: number, limit: number): Promise<OutboxRow[]> {
    return (await this.db
      .all<{ id: number; sink: string; attempts: number; created_ms: number; payload: string }>(
        "SELECT id, sink, attempts, created_ms, payload FROM alert_outbox WHERE sink = @s AND state = 'pending' AND next_attempt_ms <= @now ORDER BY id LIMIT @limit",
        { s: sink, now: nowMs, limit },
      ))
      .map((r) => ({ id: r.id, sink: r.sink, attempts: r.attempts, createdMs: r.created_ms, notification: JSON.parse(r.payload) as AlertNotification }));
  }

  /** When the sink's next pending row becomes due; undefined when its queue is empty. */
  async nextDue(sink: string): Promise<number | undefined> {
    return (await this.db.get<{ t: number | null }>("SELECT MIN(next_attempt_ms) AS t FROM alert_outbox WHERE sink = @s AND state = 'pending'", { s: sink }))?.t ?? undefined;
  }

  async markSent(ids: readonly number[], nowMs: number): Promise<void> {
    if (!ids.length) return;
    await this.db.run(`UPDATE alert_outbox SET state = 'sent', attempts = attempts + 1, done_ms = @now, last_error = NULL WHERE id IN (${idList(ids)})`, { now: nowMs });
  }

  async markRetry(ids: readonly number[], nextAttemptMs: number, error: string): Promise<void> {
    if (!ids.length) return;
    await this.db.run(`UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_ms = @next, last_error = @err WHERE id IN (${idList(ids)})`, { next: nextAttemptMs, err: error });
  }

  async markFailed(ids: readonly number[], nowMs: number, error: string): Promise<void> {
    if (!ids.length) return;
    await this.db.run(`UPDATE alert_outbox SET state = 'failed', attempts = attempts + 1, done_ms = @now, last_error = @err WHERE id IN (${idList(ids)})`, { now: nowMs, err: error });
  }

  /** Pending rows queued before `createdBeforeMs` give up (retry.maxAge); returns how many per sink. */
  async expire(createdBeforeMs: number, nowMs: number): Promise<Map<string, number>> {
    const rows = await this.db.all<{ sink: string }>(
      "UPDATE alert_outbox SET state = 'expired', done_ms = @now WHERE state = 'pending' AND created_ms < @before RETURNING sink",
      { before: createdBeforeMs, now: nowMs },
    );
    const perSink = new Map<string, number>();
    for (const r of rows) perSink.set(r.sink, (perSink.get(r.sink) ?? 0) + 1);
    return perSink;
  }

  /** Forgets delivered / given-up rows and ended alerts older than the retention. */
  async prune(beforeMs: number): Promise<void> {
    await this.db.run("DELETE FROM alert_outbox WHERE state <> 'pending' AND done_ms < @before", { before: beforeMs });
    // Members first: a group's members go with it once it has ended.
    await this.db.run(
      "DELETE FROM alert_state WHERE phase = 'grouped' AND updated_ms < @before AND NOT EXISTS (SELECT 1 FROM alert_state g WHERE g.alert_key = alert_state.group_key AND g.phase <> 'resolved')",
      { before: beforeMs },
    );
    await this.db.run("DELETE FROM alert_state WHERE phase = 'resolved' AND updated_ms < @before", { before: beforeMs });
  }

  async queueStats(): Promise<QueueStats[]> {
    return (await this.db
      .all<{ sink: string; n: number; oldest: number | null }>("SELECT sink, COUNT(*) AS n, MIN(created_ms) AS oldest FROM alert_outbox WHERE state = 'pending' GROUP BY sink"))
      .map((r) => ({ sink: r.sink, depth: r.n, oldestMs: r.oldest }));
  }

  async undecided(): Promise<UndecidedAlerts> {
    const rows = await this.db.all<{ phase: AlertPhase; n: number }>("SELECT phase, COUNT(*) AS n FROM alert_state WHERE phase IN ('pending', 'held') GROUP BY phase");
    const n = (phase: AlertPhase): number => rows.find((r) => r.phase === phase)?.n ?? 0;
    const updates = (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM alert_state WHERE update_due_ms IS NOT NULL'))?.n ?? 0;
    return { grouping: n('pending'), heldBack: n('held'), updates };
  }

  /** For tests and the CLI: every row of one alert. */
  async rows(alertKey: string): Promise<{ sink: string; state: string; attempts: number; reason: string }[]> {
    return (await this.db
      .all<{ sink: string; state: string; attempts: number; payload: string }>('SELECT sink, state, attempts, payload FROM alert_outbox WHERE alert_key = @a ORDER BY id', { a: alertKey }))
      .map((r) => ({ sink: r.sink, state: r.state, attempts: r.attempts, reason: (JSON.parse(r.payload) as AlertNotification).reason }));
  }
}

/** Row ids are integers the store itself handed out: safe to inline, one statement for a batch. */
function idList(ids: readonly number[]): string {
  return ids.map((id) => String(Math.trunc(id))).join(', ');
}
