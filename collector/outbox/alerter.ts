/**
 * The decisions (alertmanager's dispatch + notify stages, in one place): bus events → per-alert
 * state → notifications queued per sink in the outbox. A decision and its outbox rows are
 * written together (events of one event-loop turn share a transaction, each in its own
 * savepoint), so a restart resumes exactly where the last commit left off; nothing that matters
 * lives only in memory (the rate-limit bucket and the held-back count are allowed to reset).
 *
 * - one notification per new deviation (`deviation:<id>`), re-notified while open per sink interval;
 * - grouping: a workload's new deviations wait `grouping.wait`; if more than `threshold` fall
 *   within `window` (event time), one `group:` alert lists them, and later ones within the window
 *   join it silently — unless one raises the group's severity (the group is notified again at
 *   once); a group takes members for GROUP_LIFETIME_WINDOWS windows, then a new one starts;
 *   `denied` and `interactive-session` deviations are never grouped, each is notified on its own;
 * - a global token bucket on new notifications; what it holds back is counted and sent when
 *   tokens return (health alerts and resolutions are never held back);
 * - resolution (resolved / added to baseline) ends the alert on every sink that heard of it.
 */
import { severityRank, type CollectorEvent, type Deviation, type HealthEvent } from '../../common/deviations.js';
import { workloadKey } from '../../common/model.js';
import type { AlertNotification, NotifyReason } from '../sinks/types.js';
import { toBrief } from './brief.js';
import { deviationUrl, workloadDeviationsUrl } from '../links.js';
import type { AlertingMetrics } from './metrics.js';
import { TokenBucket } from './rate-limit.js';
import { Mutex } from 'async-mutex';
import { StorageUnavailableError, type Store } from '../store/contract.js';
import type { AlertSnapshot, AlertState } from '../store/outbox.js';
import { type AlerterSettings, DRAIN_BATCH, MAX_WAITING_EVENTS, GROUP_LIFETIME_WINDOWS, groupingKey, groupThresholdOf, HEALTH_ALERTNAMES, NEVER_GROUPED, NOTIFIED_PHASES, OPEN_PHASES, type RoutedSink, SWEEP_BATCH, asWorkload, groupSummary, idempotencyKey, maxSeverity, type DecisionRun } from './decision.js';
export type { AlerterSettings, RoutedSink } from './decision.js';
export { idempotencyKey } from './decision.js';

export class Alerter {
  private readonly bucket: TokenBucket;
  /** New notifications held back since the last one that went out (reported in the next). */
  private heldBack = 0;
  private readonly inbox: CollectorEvent[] = [];
  /** Events taken from the inbox whose decision has not committed yet. */
  private deciding = 0;
  /** Decision runs one at a time: each reads the state the previous one left. */
  private readonly serial = new Mutex();

  constructor(
    private readonly store: Store,
    private readonly sinks: readonly RoutedSink[],
    private readonly s: AlerterSettings,
    private readonly now: () => number,
    private readonly metrics: AlertingMetrics,
    private readonly onQueued: (sinks: ReadonlySet<string>) => void,
  ) {
    this.bucket = new TokenBucket(s.rateMax, s.ratePerMs, now());
  }

  /**
   * Bus listener: queues the event and returns (a broken or slow alerter must not hold up
   * ingestion). Queued events are decided together in one transaction on the next turn of the
   * event loop: a burst costs one commit, not one per event.
   */
  handle(e: CollectorEvent): void {
    if (e.type !== 'deviation.created' && e.type !== 'deviation.updated' && e.type !== 'deviation.status' && e.type !== 'health') return;
    this.inbox.push(e);
    if (this.inbox.length === 1) setImmediate(() => void this.drain());
  }

  /** Decides every queued event now (also called by sweep and at close). */
  async drain(): Promise<void> {
    while (this.inbox.length > 0) {
      const batch = this.inbox.splice(0, DRAIN_BATCH);
      this.deciding += batch.length;
      try {
        await this.run(async (r) => {
          for (const e of batch) {
            try {
              // A savepoint per event: an event that fails leaves no partial writes.
              await r.savepoint(async () => {
                if (e.type === 'health') await this.onHealth(e.health, r);
                else if (e.type === 'deviation.created' || e.type === 'deviation.updated' || e.type === 'deviation.status') await this.onDeviation(e.deviation, r);
              });
            } catch {
              this.metrics.errors.inc();
            }
          }
        });
      } catch (err) {
        // The store refuses writes (full disk): the events wait for a later drain (the sweep) instead of being lost.
        if (err instanceof StorageUnavailableError && this.inbox.length < MAX_WAITING_EVENTS) return void this.inbox.unshift(...batch);
        this.metrics.errors.inc(batch.length);
      } finally {
        this.deciding -= batch.length;
      }
    }
  }

  /** Bus events received and not yet decided (queued, or in a decision not yet committed). */
  get undecidedEvents(): number {
    return this.inbox.length + this.deciding;
  }

  /**
   * Catches up with deviation events missed in a crash (detection committed, we had not yet):
   * open deviations changed within `sinceMs` without alert state, and ended ones still open here.
   */
  async reconcile(getDeviation: (id: number) => Promise<Deviation | undefined>, sinceMs: number): Promise<number> {
    const o = this.store.outbox;
    const ids = [...(await o.unseenOpenDeviations(new Date(sinceMs).toISOString(), SWEEP_BATCH)), ...(await o.endedWhileOpen(SWEEP_BATCH))];
    for (const id of ids) {
      const d = await getDeviation(id);
      if (d) this.handle({ type: 'deviation.updated', deviation: d });
    }
    await this.drain();
    return ids.length;
  }

  /** Due grouping decisions, held-back notifications, re-notifications. */
  async sweep(): Promise<void> {
    await this.drain();
    await this.run(async (r) => {
      const now = this.now();
      // Held-back alerts are older than pending ones: they get the returning tokens first.
      for (const st of await r.o.due('held', now, SWEEP_BATCH)) if (!(await this.decideNew(st, r, false))) break;
      const workloads = new Set((await r.o.due('pending', now, SWEEP_BATCH)).map((st) => st.workloadKey ?? ''));
      for (const wk of workloads) await this.flushWorkload(wk, r);
      for (const phase of ['firing', 'acknowledged'] as const) for (const st of await r.o.due(phase, now, SWEEP_BATCH)) await this.renotify(st, r);
    });
  }

  private async run(fn: (r: DecisionRun) => Promise<void>): Promise<void> {
    const queued = new Set<string>();
    await this.serial.runExclusive(() => this.store.transaction((tx) => fn({ o: tx.outbox, q: queued, savepoint: tx.savepoint })));
    if (queued.size > 0) this.onQueued(queued);
  }

  // ---- deviations ----

  private async onDeviation(d: Deviation, r: DecisionRun): Promise<void> {
    // The health monitor raises a full baseline as a health alert (same sinks, one page, not two).
    if (d.kind === 'baseline-overflow') return;
    const state = await r.o.get(`deviation:${d.id}`);
    if (!state) {
      if (d.status === 'open') await this.admit(d, r, 0);
      return;
    }
    const now = this.now();
    const snapshot = this.deviationSnapshot(d);
    if (state.phase === 'grouped') {
      const group = state.groupKey ? await r.o.get(state.groupKey) : undefined;
      if (!group || group.phase === 'resolved') {
        // Its group has ended: a member opened again is a new alert of its own.
        if (d.status === 'open') await this.admit(d, r, state.notifyCount);
        else await r.o.put({ ...state, alert: snapshot, severity: d.severity, lastEventMs: d.lastSeenMs }, now);
        return;
      }
      const statusChanged = state.alert.deviations[0]?.status !== d.status;
      await r.o.put({ ...state, alert: snapshot, severity: d.severity, lastEventMs: d.lastSeenMs }, now);
      // Seen-again updates are frequent; only a status change can move the group.
      if (statusChanged && state.groupKey) await this.recomputeGroup(state.groupKey, r);
      return;
    }
    if (state.phase === 'resolved') {
      if (d.status === 'open') await this.admit(d, r, state.notifyCount);
      return;
    }
    const next: AlertState = { ...state, alert: snapshot, severity: d.severity, lastEventMs: d.lastSeenMs };
    if (d.status === 'resolved' || d.status === 'added-to-baseline') {
      if (NOTIFIED_PHASES.has(state.phase)) await this.notifyResolved(next, r);
      next.phase = 'resolved';
      next.dueMs = null;
    } else if (d.status === 'acknowledged' && state.phase === 'firing') {
      next.phase = 'acknowledged';
    } else if (d.status === 'open' && state.phase === 'acknowledged') {
      next.phase = 'firing';
      next.dueMs = now;
    }
    await r.o.put(next, now);
  }

  private deviationSnapshot(d: Deviation): AlertSnapshot {
    return {
      alertKey: `deviation:${d.id}`,
      kind: 'deviation',
      alertname: 'DriftwatchDeviation',
      severity: d.severity,
      cluster: d.workload.cluster || this.s.cluster,
      summary: d.summary,
      startsAtMs: d.firstSeenMs,
      url: deviationUrl(this.s.baseUrl, d.id),
      workload: d.workload,
      deviations: [toBrief(d, this.s.baseUrl)],
      truncated: 0,
      health: null,
    };
  }

  /**
   * A new (or re-opened) deviation: notified on its own when its kind is never grouped, else joins
   * its workload's open group, or waits for the grouping decision.
   */
  private async admit(d: Deviation, r: DecisionRun, notifyCount: number): Promise<void> {
    const now = this.now();
    const wk = groupingKey(d);
    const snapshot = this.deviationSnapshot(d);
    const state: AlertState = {
      alertKey: snapshot.alertKey,
      kind: 'deviation',
      workloadKey: wk,
      deviationId: d.id,
      groupKey: null,
      phase: 'pending',
      severity: d.severity,
      eventMs: d.firstSeenMs,
      lastEventMs: d.lastSeenMs,
      dueMs: now + this.s.groupWaitMs,
      notifyCount,
      alert: snapshot,
    };
    if (NEVER_GROUPED.has(d.kind)) {
      await this.decideNew(state, r, true);
      return;
    }
    const group = await r.o.openGroup(wk, d.firstSeenMs - this.s.groupWindowMs, d.firstSeenMs - GROUP_LIFETIME_WINDOWS * this.s.groupWindowMs);
    if (group) {
      await r.o.put({ ...state, phase: 'grouped', groupKey: group.alertKey, dueMs: null }, now);
      await this.joinGroup(group, state, now, r);
      return;
    }
    await r.o.put(state, now);
    if (this.s.groupWaitMs <= 0) await this.flushWorkload(wk, r);
  }

  private async joinGroup(group: AlertState, member: AlertState, now: number, r: DecisionRun): Promise<void> {
    const alert = { ...group.alert };
    const brief = member.alert.deviations[0];
    const raises = severityRank(member.severity) > severityRank(alert.severity);
    // Most severe first: a member that raises the group heads the list (and is never the one cut).
    if (brief) alert.deviations = raises ? [brief, ...alert.deviations] : [...alert.deviations, brief];
    else alert.truncated += 1;
    const over = alert.deviations.length - this.s.maxListed;
    if (over > 0) {
      alert.deviations = alert.deviations.slice(0, this.s.maxListed);
      alert.truncated += over;
    }
    alert.severity = maxSeverity(alert.severity, member.severity);
    alert.summary = groupSummary(alert, this.s.groupWindowMs);
    // A new open member wakes an acknowledged group up again (re-notified at its interval).
    const next: AlertState = { ...group, alert, phase: group.phase === 'acknowledged' ? 'firing' : group.phase, severity: alert.severity, lastEventMs: Math.max(group.lastEventMs, member.eventMs) };
    // A member more severe than the group so far is news: every sink the group now routes to (a
    // minSeverity route may take it for the first time) hears at once, not at the next interval.
    // At most one such re-notification per severity level and group. A held group is not yet
    // notified: its first notification carries the new severity.
    if (raises && NOTIFIED_PHASES.has(group.phase)) {
      const sinks = this.routed(alert);
      next.dueMs = this.nextDue(sinks, now);
      if (sinks.length > 0) await this.notify(next, 'firing', 'renotify', sinks, r);
    }
    await r.o.put(next, now);
  }

  /** The grouping decision for a workload's pending deviations. */
  private async flushWorkload(wk: string, r: DecisionRun): Promise<void> {
    const pending = await r.o.pendingOfWorkload(wk);
    if (pending.length === 0) return;
    const now = this.now();
    const earliest = pending[0]!.eventMs;
    const earlier = await r.o.countDecidedSince(wk, earliest - this.s.groupWindowMs);
    if (pending.length + earlier <= groupThresholdOf(wk, this.s)) {
      for (const st of pending) await this.decideNew(st, r, true);
      return;
    }
    const ordered = [...pending].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.eventMs - b.eventMs);
    let key = `group:${wk}:${Math.round(earliest)}`;
    if (await r.o.get(key)) key = `${key}-${now}`;
    const severity = ordered.map((m) => m.severity).reduce(maxSeverity);
    const listed = ordered.slice(0, this.s.maxListed).flatMap((m) => m.alert.deviations);
    const alert: AlertSnapshot = {
      alertKey: key,
      kind: 'group',
      alertname: 'DriftwatchDeviationGroup',
      severity,
      cluster: pending[0]!.alert.cluster,
      summary: '',
      startsAtMs: earliest,
      url: workloadDeviationsUrl(this.s.baseUrl, pending[0]!.alert.workload),
      workload: pending[0]!.alert.workload,
      deviations: listed,
      truncated: ordered.length - listed.length,
      health: null,
    };
    alert.summary = groupSummary(alert, this.s.groupWindowMs);
    const group: AlertState = {
      alertKey: key,
      kind: 'group',
      workloadKey: wk,
      deviationId: null,
      groupKey: null,
      phase: 'pending',
      severity,
      eventMs: earliest,
      lastEventMs: Math.max(...pending.map((m) => m.eventMs)),
      dueMs: null,
      notifyCount: 0,
      alert,
    };
    for (const m of pending) await r.o.put({ ...m, phase: 'grouped', groupKey: key, dueMs: null }, now);
    await this.decideNew(group, r, true);
  }

  /** The group's phase follows its members: open while any is open, ended when none is. */
  private async recomputeGroup(groupKey: string, r: DecisionRun): Promise<void> {
    const group = await r.o.get(groupKey);
    if (!group || group.phase === 'resolved') return;
    const now = this.now();
    const members = await r.o.members(groupKey);
    const statusById = new Map(members.flatMap((m) => m.alert.deviations.map((d) => [d.id, d.status] as const)));
    const statuses = [...statusById.values()];
    const alert = { ...group.alert, deviations: group.alert.deviations.map((d) => ({ ...d, status: statusById.get(d.id) ?? d.status })) };
    const next: AlertState = { ...group, alert };
    if (statuses.some((st) => st === 'open')) {
      if (group.phase === 'acknowledged') next.phase = 'firing';
    } else if (statuses.some((st) => st === 'acknowledged')) {
      if (group.phase === 'firing') next.phase = 'acknowledged';
    } else {
      if (NOTIFIED_PHASES.has(group.phase)) await this.notifyResolved(next, r);
      next.phase = 'resolved';
      next.dueMs = null;
    }
    await r.o.put(next, now);
  }

  // ---- health ----

  private async onHealth(h: HealthEvent, r: DecisionRun): Promise<void> {
    const key = `health:${h.key}`;
    const state = await r.o.get(key);
    const now = this.now();
    const workload = asWorkload(h.detail.workload);
    const alert: AlertSnapshot = {
      alertKey: key,
      kind: 'health',
      alertname: HEALTH_ALERTNAMES[h.kind] ?? 'DriftwatchHealth',
      severity: h.severity,
      cluster: workload?.cluster ?? this.s.cluster,
      summary: h.summary,
      startsAtMs: state && OPEN_PHASES.has(state.phase) ? state.alert.startsAtMs : h.atMs,
      url: null,
      workload,
      deviations: [],
      truncated: 0,
      health: h,
    };
    if (!h.resolved) {
      if (state && OPEN_PHASES.has(state.phase)) {
        await r.o.put({ ...state, alert, severity: h.severity }, now);
        return;
      }
      const fresh: AlertState = {
        alertKey: key,
        kind: 'health',
        workloadKey: workload ? workloadKey(workload) : null,
        deviationId: null,
        groupKey: null,
        phase: 'pending',
        severity: h.severity,
        eventMs: h.atMs,
        lastEventMs: h.atMs,
        dueMs: null,
        notifyCount: state?.notifyCount ?? 0,
        alert,
      };
      await this.decideNew(fresh, r, true);
      return;
    }
    if (!state || !OPEN_PHASES.has(state.phase)) return;
    const ended: AlertState = { ...state, alert: { ...alert, severity: state.alert.severity }, phase: 'resolved', dueMs: null };
    if (NOTIFIED_PHASES.has(state.phase)) await this.notifyResolved(ended, r);
    await r.o.put(ended, now);
  }

  // ---- notifications ----

  private routed(alert: AlertSnapshot): RoutedSink[] {
    return this.sinks.filter((s) => s.route(alert));
  }

  private nextDue(sinks: readonly RoutedSink[], now: number): number {
    return now + (sinks.length ? Math.min(...sinks.map((s) => s.intervalMs)) : this.s.renotifyMs);
  }

  /** First notification of an alert, unless the rate limit holds it back. Returns false when held. */
  private async decideNew(state: AlertState, r: DecisionRun, firstAttempt: boolean): Promise<boolean> {
    const now = this.now();
    const sinks = this.routed(state.alert);
    if (sinks.length > 0 && state.kind !== 'health' && !this.bucket.take(now)) {
      if (firstAttempt) {
        this.heldBack += 1;
        this.metrics.heldBack.inc();
      }
      await r.o.put({ ...state, phase: 'held', dueMs: this.bucket.nextAt(now) }, now);
      return false;
    }
    const next: AlertState = { ...state, phase: 'firing', dueMs: this.nextDue(sinks, now) };
    if (sinks.length > 0) await this.notify(next, 'firing', 'new', sinks, r);
    await r.o.put(next, now);
    return true;
  }

  private async renotify(state: AlertState, r: DecisionRun): Promise<void> {
    const now = this.now();
    const last = await r.o.lastQueued(state.alertKey);
    const due: RoutedSink[] = [];
    let next = Infinity;
    for (const s of this.routed(state.alert)) {
      if (state.phase === 'acknowledged' && !s.keepAlive) continue;
      const dueAt = (last.get(s.name) ?? 0) + s.intervalMs;
      if (dueAt <= now) {
        // A notification still waiting in the queue already carries the news: no pile-up.
        if (!await r.o.hasPending(s.name, state.alertKey)) due.push(s);
        next = Math.min(next, now + s.intervalMs);
      } else next = Math.min(next, dueAt);
    }
    const updated: AlertState = { ...state, dueMs: Number.isFinite(next) ? next : now + this.s.renotifyMs };
    if (due.length > 0) await this.notify(updated, 'firing', 'renotify', due, r);
    await r.o.put(updated, now);
  }

  /** Ends the alert on every configured sink that was told about it. */
  private async notifyResolved(state: AlertState, r: DecisionRun): Promise<void> {
    const told = await r.o.lastQueued(state.alertKey);
    const sinks = this.sinks.filter((s) => told.has(s.name));
    if (sinks.length > 0) await this.notify(state, 'resolved', 'resolved', sinks, r);
  }

  /** Mutates state.notifyCount; the caller stores the state in the same transaction. */
  private async notify(state: AlertState, status: AlertNotification['status'], reason: NotifyReason, sinks: readonly RoutedSink[], r: DecisionRun): Promise<void> {
    const now = this.now();
    state.notifyCount += 1;
    const heldBack = reason === 'new' ? this.heldBack : 0;
    if (reason === 'new') this.heldBack = 0;
    const n: AlertNotification = {
      ...state.alert,
      idempotencyKey: idempotencyKey(state.alert.cluster, state.alertKey, status, state.notifyCount),
      status,
      reason,
      endsAtMs: status === 'resolved' ? now : null,
      heldBack,
      decidedAtMs: now,
    };
    for (const s of sinks) if (await r.o.enqueue(s.name, n, now)) r.q.add(s.name);
    this.metrics.notifications.inc({ kind: state.kind, reason });
  }
}

