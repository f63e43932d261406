/**
 * The decisions (alertmanager's dispatch + notify stages, in one place): bus events → per-alert
 * state → notifications queued per sink in the outbox. A decision and its outbox rows are
 * written together (events of one event-loop turn share a transaction, each in its own
 * savepoint), so a restart resumes exactly where the last commit left off; nothing that matters
 * lives only in memory (the rate-limit bucket, the event clock and the held-back count are allowed
 * to reset).
 *
 * Event-driven: bus events are decided on the next turn of the event loop, and after every decision
 * run the alerter reports when the next one comes due (a grouping wait's wall-clock bound, a
 * held-back alert, an update, a re-notification) — collector/outbox/index.ts sets one timer to it.
 * No periodic sweep rounds a decision up to a tick.
 *
 * - deviations: grouping and immediate notification (collector/outbox/grouping.ts), one
 *   notification per new deviation (`deviation:<id>`) or group, re-notified while open per sink
 *   interval; an interactive session's alert is updated as its commands grow;
 * - notifications, the rate limit (event time) and updates: collector/outbox/notifier.ts;
 * - resolution (resolved / added to baseline) ends the alert on every sink that heard of it.
 */
import type { CollectorEvent, Deviation, HealthEvent } from '../../common/deviations.js';
import { workloadKey } from '../../common/model.js';
import { toBrief } from './brief.js';
import { deviationUrl } from '../links.js';
import type { AlertingMetrics } from './metrics.js';
import { Mutex } from 'async-mutex';
import { StorageUnavailableError, type Store } from '../store/contract.js';
import type { AlertSnapshot, AlertState } from '../store/outbox.js';
import { type AlerterSettings, DRAIN_BATCH, groupingKey, MAX_WAITING_EVENTS, HEALTH_ALERTNAMES, NOTIFIED_PHASES, OPEN_PHASES, type RoutedSink, SWEEP_BATCH, asWorkload, type DecisionRun } from './decision.js';
import { EventClock } from './event-clock.js';
import { Grouping } from './grouping.js';
import { Notifier } from './notifier.js';
export type { AlerterSettings, RoutedSink } from './decision.js';
export { idempotencyKey } from './decision.js';

export class Alerter {
  private readonly inbox: CollectorEvent[] = [];
  /** Events taken from the inbox whose decision has not committed yet. */
  private deciding = 0;
  /** Decision runs one at a time: each reads the state the previous one left. */
  private readonly serial = new Mutex();
  private readonly eventClock: EventClock;
  private readonly notifier: Notifier;
  private readonly grouping: Grouping;
  private readonly errors: AlertingMetrics['errors'];

  constructor(
    private readonly store: Store,
    sinks: readonly RoutedSink[],
    private readonly s: AlerterSettings,
    private readonly now: () => number,
    metrics: AlertingMetrics,
    private readonly onQueued: (sinks: ReadonlySet<string>) => void,
    /** After each decision run: when the next decision comes due (wall clock), undefined when none waits. */
    private readonly onNextDecision: (atMs: number | undefined) => void = () => undefined,
  ) {
    this.errors = metrics.errors;
    this.eventClock = new EventClock(now);
    this.notifier = new Notifier(sinks, s, now, () => this.eventClock.now(), metrics);
    this.grouping = new Grouping(this.notifier, s, now);
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

  /**
   * Decides the events queued when it is called (also called by sweep and at close). Events that
   * arrive meanwhile get a drain of their own, after the decisions already waiting (a sweep's due
   * notification must not wait for a busy bus to fall silent).
   */
  async drain(): Promise<void> {
    let left = this.inbox.length;
    while (this.inbox.length > 0 && left > 0) {
      const batch = this.inbox.splice(0, Math.min(DRAIN_BATCH, left));
      left -= batch.length;
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
              this.errors.inc();
            }
          }
          // Event time moved on: tokens it refilled go to what the rate limit held back.
          await this.notifier.releaseHeld(r);
        });
      } catch (err) {
        // The store refuses writes (full disk): the events wait for a later drain (the sweep) instead of being lost.
        if (err instanceof StorageUnavailableError && this.inbox.length < MAX_WAITING_EVENTS) {
          this.inbox.unshift(...batch);
          this.onNextDecision(this.now() + this.s.storeRetryMs);
          return;
        }
        this.errors.inc(batch.length);
      } finally {
        this.deciding -= batch.length;
      }
    }
    if (this.inbox.length > 0 && left <= 0) setImmediate(() => void this.drain());
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

  /** Takes the decisions that are due: grouping waits at their wall-clock bound, held-back alerts, updates, re-notifications. */
  async sweep(): Promise<void> {
    await this.drain();
    await this.run(async (r) => {
      const now = this.now();
      // Held-back alerts are older than pending ones: they get the returning tokens first.
      await this.notifier.releaseHeld(r);
      for (const wk of await r.o.workloadsDue(now, SWEEP_BATCH)) await this.grouping.decideDue(wk, r);
      for (const st of await r.o.dueUpdates(now, SWEEP_BATCH)) await this.notifier.sendUpdate(st, r);
      for (const phase of ['firing', 'acknowledged'] as const) for (const st of await r.o.due(phase, now, SWEEP_BATCH)) await this.notifier.renotify(st, r);
    });
  }

  private async run(fn: (r: DecisionRun) => Promise<void>): Promise<void> {
    const queued = new Set<string>();
    const next = await this.serial.runExclusive(async () => {
      await this.store.transaction((tx) => fn({ o: tx.outbox, q: queued, savepoint: tx.savepoint }));
      return this.store.outbox.nextDecisionMs();
    });
    if (queued.size > 0) this.onQueued(queued);
    this.onNextDecision(next);
  }

  // ---- deviations ----

  private async onDeviation(d: Deviation, r: DecisionRun): Promise<void> {
    // The health monitor raises a full baseline as a health alert (same sinks, one page, not two).
    if (d.kind === 'baseline-overflow') return;
    this.eventClock.observe(d.lastSeenMs);
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
      if (statusChanged && state.groupKey) await this.grouping.recomputeGroup(state.groupKey, r);
      return;
    }
    if (state.phase === 'resolved') {
      if (d.status === 'open') await this.admit(d, r, state.notifyCount);
      return;
    }
    const next: AlertState = { ...state, alert: snapshot, severity: d.severity, lastEventMs: d.lastSeenMs };
    if (d.status === 'resolved' || d.status === 'added-to-baseline') {
      if (NOTIFIED_PHASES.has(state.phase)) await this.notifier.notifyResolved(next, r);
      next.phase = 'resolved';
      next.dueMs = null;
    } else if (d.status === 'acknowledged' && state.phase === 'firing') {
      next.phase = 'acknowledged';
    } else if (d.status === 'open' && state.phase === 'acknowledged') {
      next.phase = 'firing';
      next.dueMs = now;
    }
    // A session that ran more commands since its last notification owes its receivers an update.
    if (next.phase !== 'resolved' && commandCount(snapshot) !== commandCount(state.alert)) await this.notifier.owesUpdate(next, r, false);
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

  /** A new (or re-opened) deviation: its alert state, handed to the grouping decisions. */
  private async admit(d: Deviation, r: DecisionRun, notifyCount: number): Promise<void> {
    const snapshot = this.deviationSnapshot(d);
    await this.grouping.admit(
      d,
      {
        alertKey: snapshot.alertKey,
        kind: 'deviation',
        workloadKey: groupingKey(d),
        deviationId: d.id,
        groupKey: null,
        phase: 'pending',
        severity: d.severity,
        eventMs: d.firstSeenMs,
        lastEventMs: d.lastSeenMs,
        // The wall-clock bound of the grouping wait (event time decides earlier when it moves faster).
        dueMs: this.now() + this.s.groupWaitMs,
        updateDueMs: null,
        notifyCount,
        alert: snapshot,
      },
      r,
    );
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
        updateDueMs: null,
        notifyCount: state?.notifyCount ?? 0,
        alert,
      };
      await this.notifier.decideNew(fresh, r, true);
      return;
    }
    if (!state || !OPEN_PHASES.has(state.phase)) return;
    const ended: AlertState = { ...state, alert: { ...alert, severity: state.alert.severity }, phase: 'resolved', dueMs: null };
    if (NOTIFIED_PHASES.has(state.phase)) await this.notifier.notifyResolved(ended, r);
    await r.o.put(ended, now);
  }
}

/** Commands an interactive session's alert shows (listed and counted); 0 for any other alert. */
function commandCount(a: AlertSnapshot): number {
  const d = a.deviations[0];
  return (d?.commands?.length ?? 0) + (d?.commandsMore ?? 0);
}
