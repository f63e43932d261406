/**
 * The grouping decisions (alertmanager's aggregation, in event time): which deviations of a
 * workload are notified on their own, which together as one `group:` alert, and which join a group
 * already notified (as an update of it). Time here is the deviations' event time; the wall clock
 * only bounds how long a decision may wait (`dueMs` of a pending deviation), so a replay at any
 * speed and a delayed node decide as the live stream did.
 *
 * - a workload's new deviations wait `grouping.wait` of event time: the decision is taken when a
 *   later deviation of the workload shows that event time has passed the wait, or when the same
 *   span of wall time has passed;
 * - the deviations decided together are those within the wait of the earliest (a delayed node's
 *   deviations hours apart are never one notification); if, counting those already notified in the
 *   window around them, more than `threshold` fall in it, they are one group, else one each;
 * - a deviation at least `immediateSeverity` in a workload with no open group is notified at once,
 *   as a group the workload's later deviations join;
 * - a group takes new members within `window` of its latest and for GROUP_LIFETIME_WINDOWS windows
 *   from its first; every new member is told to the receivers as an update of the group.
 */
import { severityRank, type Deviation } from '../../common/deviations.js';
import type { AlertSnapshot, AlertState } from '../store/outbox.js';
import type { DeviationBrief } from '../sinks/types.js';
import { workloadDeviationsUrl } from '../links.js';
import { type AlerterSettings, type DecisionRun, GROUP_LIFETIME_WINDOWS, NEVER_GROUPED, groupingKey, groupThresholdOf, NOTIFIED_PHASES, groupSummary, maxSeverity } from './decision.js';
import type { Notifier } from './notifier.js';

export class Grouping {
  constructor(
    private readonly notifier: Notifier,
    private readonly s: AlerterSettings,
    private readonly now: () => number,
  ) {}

  /**
   * A new (or re-opened) deviation, as `state` (phase pending): notified on its own when its kind is
   * never grouped, joins its workload's open group, is notified at once for its severity, or waits.
   */
  async admit(d: Deviation, state: AlertState, r: DecisionRun): Promise<void> {
    if (NEVER_GROUPED.has(d.kind)) {
      await this.notifier.decideNew(state, r, true);
      return;
    }
    const wk = groupingKey(d);
    // This deviation shows how far the workload's event time has come: waits it has passed are decided first.
    await this.decideDue(wk, r, d.firstSeenMs);
    const group = await this.openGroup(wk, d.firstSeenMs, r);
    if (group) {
      await this.join(group, state, r);
      return;
    }
    const immediate = this.s.immediateSeverity !== null && severityRank(d.severity) >= severityRank(this.s.immediateSeverity);
    if (immediate) {
      // Sent at once, with whatever of the workload is waiting beside it; later deviations join it.
      await this.startGroup(wk, [state, ...(await r.o.pendingOfWorkload(wk))], r);
      return;
    }
    await r.o.put(state, this.now());
    if (this.s.groupWaitMs <= 0) await this.decideDue(wk, r, Infinity);
  }

  private openGroup(wk: string, eventMs: number, r: DecisionRun): Promise<AlertState | undefined> {
    return r.o.openGroup(wk, eventMs, this.s.groupWindowMs, GROUP_LIFETIME_WINDOWS * this.s.groupWindowMs);
  }

  /**
   * Takes the workload's grouping decisions that are due: those whose wait `eventMs` (the newest
   * event time known for the workload, when a deviation brings one) has passed in event time, or
   * whose wall-clock bound has come. Earliest first, one wait's worth of deviations at a time.
   */
  async decideDue(wk: string, r: DecisionRun, eventMs = -Infinity): Promise<void> {
    let pending = await r.o.pendingOfWorkload(wk);
    const now = this.now();
    const newest = Math.max(eventMs, ...pending.map((p) => p.eventMs));
    while (pending.length > 0) {
      const horizon = pending[0]!.eventMs + this.s.groupWaitMs;
      const together = pending.filter((p) => p.eventMs <= horizon);
      if (newest < horizon && !together.some((p) => p.dueMs !== null && p.dueMs <= now)) return;
      pending = pending.slice(together.length);
      await this.decide(wk, together, r);
    }
  }

  /** One grouping decision over deviations within one wait of each other (event time). */
  private async decide(wk: string, together: readonly AlertState[], r: DecisionRun): Promise<void> {
    const alone: AlertState[] = [];
    for (const m of together) {
      // A group decided meanwhile (out-of-order arrival) takes them as it would have live.
      const group = await this.openGroup(wk, m.eventMs, r);
      if (group) await this.join(group, m, r);
      else alone.push(m);
    }
    if (alone.length === 0) return;
    const first = alone[0]!.eventMs;
    const last = alone[alone.length - 1]!.eventMs;
    const earlier = await r.o.countDecidedWithin(wk, first - this.s.groupWindowMs, last + this.s.groupWindowMs);
    if (alone.length + earlier <= groupThresholdOf(wk, this.s)) {
      for (const st of alone) await this.notifier.decideNew(st, r, true);
      return;
    }
    await this.startGroup(wk, alone, r);
  }

  /** A new group of these members (not yet notified), notified now. */
  private async startGroup(wk: string, members: readonly AlertState[], r: DecisionRun): Promise<void> {
    const now = this.now();
    const ordered = [...members].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.eventMs - b.eventMs);
    const earliest = Math.min(...members.map((m) => m.eventMs));
    const head = members[0]!;
    let key = `group:${wk}:${Math.round(earliest)}`;
    if (await r.o.get(key)) key = `${key}-${now}`;
    const severity = ordered.map((m) => m.severity).reduce(maxSeverity);
    const listed = ordered.slice(0, this.s.maxListed).flatMap((m) => m.alert.deviations);
    const alert: AlertSnapshot = {
      alertKey: key,
      kind: 'group',
      alertname: 'DriftwatchDeviationGroup',
      severity,
      cluster: head.alert.cluster,
      summary: '',
      startsAtMs: earliest,
      url: workloadDeviationsUrl(this.s.baseUrl, head.alert.workload),
      workload: head.alert.workload,
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
      lastEventMs: Math.max(...members.map((m) => m.eventMs)),
      dueMs: null,
      updateDueMs: null,
      notifyCount: 0,
      alert,
    };
    for (const m of members) await r.o.put({ ...m, phase: 'grouped', groupKey: key, dueMs: null }, now);
    await this.notifier.decideNew(group, r, true);
  }

  /** A member joins an open group: listed, and the receivers owe an update (at once when it raises the severity). */
  private async join(group: AlertState, member: AlertState, r: DecisionRun): Promise<void> {
    const now = this.now();
    await r.o.put({ ...member, phase: 'grouped', groupKey: group.alertKey, dueMs: null }, now);
    const brief = member.alert.deviations[0];
    const raises = severityRank(member.severity) > severityRank(group.alert.severity);
    const alert = brief ? withMember(group.alert, brief, this.s.maxListed) : { ...group.alert, truncated: group.alert.truncated + 1 };
    alert.severity = maxSeverity(group.alert.severity, member.severity);
    alert.summary = groupSummary(alert, this.s.groupWindowMs);
    // A new open member wakes an acknowledged group up again.
    const next: AlertState = {
      ...group,
      alert,
      phase: group.phase === 'acknowledged' ? 'firing' : group.phase,
      severity: alert.severity,
      lastEventMs: Math.max(group.lastEventMs, member.eventMs),
    };
    // A member more severe than the group so far is news at once (a minSeverity sink may take the
    // group for the first time); any other waits for the update interval.
    if (NOTIFIED_PHASES.has(group.phase)) await this.notifier.owesUpdate(next, r, raises);
    await r.o.put(next, now);
  }

  /** The group's phase follows its members: open while any is open, ended when none is. */
  async recomputeGroup(groupKey: string, r: DecisionRun): Promise<void> {
    const group = await r.o.get(groupKey);
    if (!group || group.phase === 'resolved') return;
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
      if (NOTIFIED_PHASES.has(group.phase)) await this.notifier.notifyResolved(next, r);
      next.phase = 'resolved';
      next.dueMs = null;
    }
    await r.o.put(next, this.now());
  }
}

/**
 * The group's list with a new member: the most severe first (a member that raises the group heads
 * it). Past `maxListed`, the one that goes (counted in `truncated`) is the least severe that has
 * been listed longest — never the newcomer, so that every member is listed in the notification
 * that follows its joining.
 */
export function withMember(alert: AlertSnapshot, brief: DeviationBrief, maxListed: number): AlertSnapshot {
  const raises = severityRank(brief.severity) > severityRank(alert.severity);
  const others = alert.deviations.filter((d) => d.id !== brief.id);
  const listed = raises ? [brief, ...others] : [...others, brief];
  let truncated = alert.truncated;
  while (listed.length > maxListed) {
    let victim = -1;
    for (let i = 0; i < listed.length; i++) {
      if (listed[i]!.id === brief.id) continue;
      if (victim < 0 || severityRank(listed[i]!.severity) < severityRank(listed[victim]!.severity)) victim = i;
    }
    listed.splice(victim, 1);
    truncated += 1;
  }
  return { ...alert, deviations: listed, truncated };
}
