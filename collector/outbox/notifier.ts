/**
 * How decided alerts become notifications in the outbox (alertmanager's notify stage): the first
 * one (rate limited, in event time), updates when an alert's content grows (bounded to one per
 * `updateInterval` per alert), re-notifications per sink interval, and resolutions.
 */
import type { AlertNotification, NotifyReason } from '../sinks/types.js';
import type { AlertState } from '../store/outbox.js';
import { type AlerterSettings, type DecisionRun, NOTIFIED_PHASES, type RoutedSink, SWEEP_BATCH, idempotencyKey } from './decision.js';
import type { AlertingMetrics } from './metrics.js';
import type { AlertSnapshot } from '../store/outbox.js';
import { TokenBucket } from './rate-limit.js';

export class Notifier {
  private readonly bucket: TokenBucket;
  /** New notifications held back since the last one that went out (reported in the next). */
  private heldBack = 0;
  /** False once the store was seen to hold no held-back alert (saves a query per decision run). */
  private mayHoldBack = true;

  constructor(
    private readonly sinks: readonly RoutedSink[],
    private readonly s: AlerterSettings,
    private readonly now: () => number,
    /** Event time (collector/outbox/event-clock.ts): the rate limit refills as the recording plays. */
    private readonly eventNow: () => number,
    private readonly metrics: AlertingMetrics,
  ) {
    this.bucket = new TokenBucket(s.rateMax, s.ratePerMs);
  }

  routed(alert: AlertSnapshot): RoutedSink[] {
    return this.sinks.filter((s) => s.route(alert));
  }

  private nextDue(sinks: readonly RoutedSink[], now: number): number {
    return now + (sinks.length ? Math.min(...sinks.map((s) => s.intervalMs)) : this.s.renotifyMs);
  }

  /** First notification of an alert, unless the rate limit holds it back. Returns false when held. */
  async decideNew(state: AlertState, r: DecisionRun, firstAttempt: boolean): Promise<boolean> {
    const now = this.now();
    const sinks = this.routed(state.alert);
    const eventNow = this.eventNow();
    if (sinks.length > 0 && state.kind !== 'health' && !this.bucket.take(eventNow)) {
      if (firstAttempt) {
        this.heldBack += 1;
        this.metrics.heldBack.inc();
      }
      this.mayHoldBack = true;
      // Released when event time refills a token, or at the latest after the same span of wall time.
      await r.o.put({ ...state, phase: 'held', dueMs: now + this.bucket.waitMs(eventNow), updateDueMs: null }, now);
      return false;
    }
    // The first notification carries everything known so far: no update is owed yet.
    const next: AlertState = { ...state, phase: 'firing', dueMs: this.nextDue(sinks, now), updateDueMs: null };
    if (sinks.length > 0) await this.notify(next, 'firing', 'new', sinks, r);
    await r.o.put(next, now);
    return true;
  }

  /** Held-back alerts, oldest first, as long as tokens last (event time may have refilled them). */
  async releaseHeld(r: DecisionRun): Promise<void> {
    if (!this.mayHoldBack) return;
    const held = await r.o.due('held', Number.MAX_SAFE_INTEGER, SWEEP_BATCH);
    if (held.length === 0) this.mayHoldBack = false;
    for (const st of held) if (!(await this.decideNew(st, r, false))) break;
  }

  /**
   * The alert's content has grown: a notified alert owes its receivers an update, at most one per
   * `updateInterval` (`now` when `urgent`: a more severe member is news at once). An alert not yet
   * notified (pending, held) needs none: its first notification carries the content. Mutates state.
   */
  async owesUpdate(state: AlertState, r: DecisionRun, urgent: boolean): Promise<void> {
    if (!NOTIFIED_PHASES.has(state.phase)) return;
    const now = this.now();
    if (urgent) {
      state.updateDueMs = now;
      return;
    }
    if (state.updateDueMs !== null) return;
    const told = [...(await r.o.lastQueued(state.alertKey)).values()];
    state.updateDueMs = Math.max(now, (told.length ? Math.max(...told) : -Infinity) + this.s.updateIntervalMs);
  }

  /** Sends an owed update to every sink the alert now routes to (a raised severity may reach new ones). */
  async sendUpdate(state: AlertState, r: DecisionRun): Promise<void> {
    const now = this.now();
    const next: AlertState = { ...state, updateDueMs: null };
    if (NOTIFIED_PHASES.has(state.phase)) {
      const sinks = this.routed(state.alert);
      if (sinks.length > 0) {
        next.dueMs = this.nextDue(sinks, now);
        await this.notify(next, 'firing', 'update', sinks, r);
      }
    }
    await r.o.put(next, now);
  }

  async renotify(state: AlertState, r: DecisionRun): Promise<void> {
    const now = this.now();
    const last = await r.o.lastQueued(state.alertKey);
    const due: RoutedSink[] = [];
    let next = Infinity;
    for (const s of this.routed(state.alert)) {
      if (state.phase === 'acknowledged' && !s.keepAlive) continue;
      const dueAt = (last.get(s.name) ?? 0) + s.intervalMs;
      if (dueAt <= now) {
        // A notification still waiting in the queue already carries the news: no pile-up.
        if (!(await r.o.hasPending(s.name, state.alertKey))) due.push(s);
        next = Math.min(next, now + s.intervalMs);
      } else next = Math.min(next, dueAt);
    }
    const updated: AlertState = { ...state, dueMs: Number.isFinite(next) ? next : now + this.s.renotifyMs };
    if (due.length > 0) await this.notify(updated, 'firing', 'renotify', due, r);
    await r.o.put(updated, now);
  }

  /** Ends the alert on every configured sink that was told about it. */
  async notifyResolved(state: AlertState, r: DecisionRun): Promise<void> {
    const told = await r.o.lastQueued(state.alertKey);
    const sinks = this.sinks.filter((s) => told.has(s.name));
    state.updateDueMs = null;
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
      sequence: state.notifyCount,
    };
    for (const s of sinks) if (await r.o.enqueue(s.name, n, now)) r.q.add(s.name);
    this.metrics.notifications.inc({ kind: state.kind, reason });
  }
}
