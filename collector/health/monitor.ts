/**
 * Health alerts: zero deviations must never hide missing data. From bus events and a periodic
 * look at the agents' counters this raises `health` events on the bus (the alerter turns them
 * into alerts through the same sinks) and ends them when the condition clears:
 *
 * - agent-disconnected: a node's agent gone for longer than `disconnectedAfter`;
 * - source-silent: a source whose last event is older than max(silentAfter, silentFactor × the
 *   gap it usually has between events);
 * - events-dropped / events-malformed: over one check interval, more than `minEvents` and more
 *   than the ratio of what the source saw;
 * - baseline-overflow: the engine's baseline-overflow deviation, raised as a health alert;
 * - sensor-loss / observations-rejected: input lost by the sensor or refused (input-loss.ts); an
 *   agent that reports its rejections by reason is judged by those instead of events-malformed;
 * - agent-missing: a node running workloads without an agent (agent-missing.ts);
 * - declared-baseline-invalid: a declared baseline file that does not load (declared.ts).
 *
 * Only transitions are emitted. State is rebuilt from the agents table; alerts that were open
 * before a restart are seeded from the alerting store, so that they end when the condition has
 * cleared meanwhile.
 */
import type { AgentStatus, CollectorEvent, Deviation, HealthEvent } from '../../common/deviations.js';
import { once, type Component } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import { workloadKey } from '../../common/model.js';
import type { CollectorBus } from '../events.js';
import { AgentMissingCheck, type PodsView } from './agent-missing.js';
import { DECLARED_PREFIX, declaredEvents, type DeclaredProblems } from './declared.js';
import { InputLossChecks } from './input-loss.js';
import type { WireRejections } from './rejections.js';
import { sourceSamples } from './samples.js';

export { sourceSamples, toCount, type SourceSample } from './samples.js';

export interface HealthSettings {
  checkIntervalMs: number;
  disconnectedAfterMs: number;
  forgetAfterMs: number;
  silentAfterMs: number;
  silentFactor: number;
  dropRatio: number;
  malformedRatio: number;
  minEvents: number;
}

export interface HealthMonitorOptions {
  bus: CollectorBus;
  agents: { list(): Promise<AgentStatus[]> };
  settings: HealthSettings;
  now: () => number;
  /** Health keys with an open alert (from the alerting store). */
  openKeys: () => Promise<string[]>;
  logger: Logger;
  /** What the input-loss and agent-missing checks read beyond the agents table. */
  inputs?: HealthInputs;
}

export interface HealthInputs {
  /** The collector's cluster (health keys of collector-side findings). */
  cluster: string;
  /** Observations the collector's validation refused (the ingest server records them). */
  rejections?: WireRejections;
  /** The cluster's pods (collector/kubernetes): agent-missing is checked only with them. */
  pods?: PodsView | null;
  /** A node runs workloads without an agent for this long: agent-missing (default 5 min). */
  missingAgentAfterMs?: number;
  /** The declared baselines: files that do not load are alerted. */
  declared?: DeclaredProblems;
}

export const DEFAULT_MISSING_AGENT_AFTER_MS = 5 * 60_000;
/** Input-loss alerts end after this long without a new loss: max(2 check intervals, 10 min). */
const MIN_QUIET_MS = 10 * 60_000;

interface SourceTrack {
  /** `cluster/node`: tracks are pruned per node. */
  nodeKey: string;
  instanceId: string;
  lastEventMs: number;
  /** Wall clock when lastEventMs last moved (or when tracking began). */
  advancedAtMs: number;
  /** Exponentially weighted mean of the wall-clock gaps between advances. */
  usualGapMs: number;
  seen: number;
  dropped: number;
  malformed: number;
}

/** Alerts that end by themselves, each for its reason. */
const STICKY_PREFIXES = ['sensor-loss/', 'observations-rejected/'];
const MANAGED_PREFIXES = ['agent-disconnected/', 'source-silent/', 'events-dropped/', 'events-malformed/', 'agent-missing/', DECLARED_PREFIX, ...STICKY_PREFIXES];
/** Alerts about the collector itself, not a node: their resolution names no node. */
const NODELESS_PREFIXES = [DECLARED_PREFIX];
const SHIPPER = 'shipper';
const GAP_WEIGHT = 0.2;

export class HealthMonitor implements Component {
  readonly name = 'health-monitor';
  private readonly firing = new Set<string>();
  private readonly tracks = new Map<string, SourceTrack>();
  private readonly shipTracks = new Map<string, { nodeKey: string; instanceId: string; dropped: number; seen: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private confirmTimer: NodeJS.Timeout | undefined;
  /** Keys whose interval had no new counters (or restarted ones): neither raised nor cleared this round. */
  private readonly undecided = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private startedAtMs = 0;
  /** When the previous check ran (0: none yet). */
  private lastCheckMs = 0;
  private closed = false;
  private readonly quietMs: number;
  private readonly inputLoss: InputLossChecks;
  private readonly agentMissing: AgentMissingCheck | null;

  constructor(private readonly o: HealthMonitorOptions) {
    this.quietMs = Math.max(2 * o.settings.checkIntervalMs, MIN_QUIET_MS);
    this.inputLoss = new InputLossChecks(this.quietMs, () => this.startedAtMs);
    const pods = o.inputs?.pods;
    this.agentMissing = pods ? new AgentMissingCheck(pods, o.inputs!.cluster, o.inputs!.missingAgentAfterMs ?? DEFAULT_MISSING_AGENT_AFTER_MS) : null;
  }

  /** Per-source and per-shipper counter tracks held (bounded by the agents still known; tests). */
  get tracked(): number {
    return this.tracks.size + this.shipTracks.size + this.inputLoss.tracked;
  }

  async start(): Promise<void> {
    this.startedAtMs = this.o.now();
    for (const key of await this.o.openKeys()) this.firing.add(key);
    this.unsubscribe = this.o.bus.subscribe((e) => this.onEvent(e));
    this.schedule(this.o.settings.checkIntervalMs, true);
  }

  private schedule(ms: number, repeat: boolean): NodeJS.Timeout | undefined {
    if (this.closed) return undefined;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (timer === this.confirmTimer) this.confirmTimer = undefined;
      this.check().catch((err: unknown) => this.o.logger.error('health check failed', { error: String(err) }));
      if (repeat) this.schedule(this.o.settings.checkIntervalMs, true);
    }, ms);
    timer.unref?.();
    this.timers.add(timer);
    return timer;
  }

  /**
   * One pending check for every disconnect that is not yet due, however many agents come and go:
   * it runs at the earliest one, and the check schedules the next (see `check`).
   */
  private confirmDisconnectsIn(ms: number): void {
    if (this.confirmTimer) return;
    this.confirmTimer = this.schedule(ms, false);
  }

  /** Timers pending (the periodic check and at most one disconnect confirmation; tests). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  private onEvent(e: CollectorEvent): void {
    if (e.type === 'agent.connected') {
      this.transition(this.disconnectedEvent(e.agent.cluster, e.agent.node, true, {}));
    } else if (e.type === 'agent.disconnected') {
      // Fire on time whatever the check interval is (the check confirms it is still gone).
      this.confirmDisconnectsIn(this.o.settings.disconnectedAfterMs + 1);
    } else if ((e.type === 'deviation.created' || e.type === 'deviation.updated' || e.type === 'deviation.status') && e.deviation.kind === 'baseline-overflow') {
      this.transition(this.overflowEvent(e.deviation));
    }
  }

  private overflowEvent(d: Deviation): HealthEvent {
    const resolved = d.status !== 'open' && d.status !== 'acknowledged';
    return {
      kind: 'baseline-overflow',
      key: `baseline-overflow/${workloadKey(d.workload)}`,
      severity: 'medium',
      summary: `Baseline of ${d.workload.namespace}/${d.workload.kind}/${d.workload.name} (container ${d.workload.container}) is full: learning stopped adding items`,
      node: null,
      namespace: d.workload.namespace,
      resolved,
      atMs: resolved ? this.o.now() : d.firstSeenMs,
      detail: { workload: d.workload, deviationId: d.id, items: d.count },
    };
  }

  private disconnectedEvent(cluster: string, node: string, resolved: boolean, detail: Record<string, unknown>): HealthEvent {
    return {
      kind: 'agent-disconnected',
      key: `agent-disconnected/${cluster}/${node}`,
      severity: 'high',
      summary: `driftwatch agent on node ${node} is disconnected: nothing from this node is monitored`,
      node,
      resolved,
      atMs: this.o.now(),
      detail,
    };
  }

  /** Emits only changes: firing → resolved, or a new alert. */
  private transition(h: HealthEvent): void {
    if (h.resolved ? !this.firing.has(h.key) : this.firing.has(h.key)) return;
    if (h.resolved) this.firing.delete(h.key);
    else this.firing.add(h.key);
    this.o.bus.emit({ type: 'health', health: h });
  }

  /** One evaluation of every agent's latest instance; public for tests. */
  async check(): Promise<void> {
    if (this.closed) return;
    const now = this.o.now();
    const s = this.o.settings;
    const bad = new Map<string, HealthEvent>();
    const latestPerNode = new Map<string, AgentStatus>();
    const instances = new Set<string>();
    for (const a of await this.o.agents.list()) {
      const prev = latestPerNode.get(`${a.cluster}/${a.node}`);
      const lastSeen = Date.parse(a.lastSeenAt);
      if (!prev || lastSeen > Date.parse(prev.lastSeenAt)) latestPerNode.set(`${a.cluster}/${a.node}`, a);
      if (now - lastSeen > s.forgetAfterMs) continue;
      // Counters come only over a live stream: a gone instance is read once more (what it counted
      // last) and its tracks are dropped, so they stay as many as the connected agents, not as
      // their history; one the previous check already read has nothing new.
      if (!a.connected && lastSeen < this.lastCheckMs) continue;
      if (a.connected) instances.add(a.instanceId);
      for (const c of sourceSamples(a.counters).sources) this.inputLoss.checkSource(a, c, now);
    }
    /** Node → its latest instance (agent-missing and rejections are kept for these nodes). */
    const live = new Map<string, string>();
    /** Node → its connected instance: the only counters tracked between checks. */
    const connected = new Map<string, string>();
    let nextDueMs = Infinity;
    for (const [nodeKey, a] of latestPerNode) {
      const lastSeen = Date.parse(a.lastSeenAt);
      if (now - lastSeen > s.forgetAfterMs) continue;
      live.set(nodeKey, a.instanceId);
      if (!a.connected) {
        const goneFor = now - Math.max(lastSeen, this.startedAtMs);
        if (goneFor > s.disconnectedAfterMs) {
          const h = this.disconnectedEvent(a.cluster, a.node, false, { since: a.lastSeenAt, instanceId: a.instanceId });
          bad.set(h.key, h);
        } else nextDueMs = Math.min(nextDueMs, s.disconnectedAfterMs - goneFor + 1);
        continue;
      }
      connected.set(nodeKey, a.instanceId);
      this.checkCounters(a, nodeKey, now, bad);
    }
    if (nextDueMs !== Infinity) this.confirmDisconnectsIn(nextDueMs);
    this.lastCheckMs = now;
    this.prune(connected);
    this.checkInputs(live, instances, now, bad);
    for (const h of bad.values()) this.transition(h);
    for (const key of [...this.firing]) {
      // After a restart the quiet period of alerts opened before it is unknown: let it pass first.
      if (now - this.startedAtMs < this.quietMs && STICKY_PREFIXES.some((p) => key.startsWith(p))) continue;
      if (!bad.has(key) && MANAGED_PREFIXES.some((p) => key.startsWith(p)) && !this.undecided.has(key)) {
        const kind = key.slice(0, key.indexOf('/')) as HealthEvent['kind'];
        const node = NODELESS_PREFIXES.some((p) => key.startsWith(p)) ? null : (key.split('/')[2] ?? null);
        this.transition({ kind, key, severity: 'info', summary: `${kind} cleared`, node, resolved: true, atMs: now, detail: {} });
      }
    }
    this.undecided.clear();
  }

  /** Sensor loss, rejections (agents' and the collector's) and nodes without an agent. */
  private checkInputs(live: ReadonlyMap<string, string>, instances: ReadonlySet<string>, now: number, bad: Map<string, HealthEvent>): void {
    const inputs = this.o.inputs;
    const nodes = new Set<string>();
    if (inputs) for (const nodeKey of live.keys()) if (nodeKey.startsWith(`${inputs.cluster}/`)) nodes.add(nodeKey.slice(inputs.cluster.length + 1));
    if (inputs?.rejections) this.inputLoss.checkCollector(inputs.rejections, inputs.cluster, now);
    if (inputs?.declared) declaredEvents(inputs.declared, inputs.cluster, now, bad);
    this.inputLoss.firing(now, bad);
    this.inputLoss.prune(instances, nodes, inputs?.rejections);
    if (this.agentMissing && !this.agentMissing.check(nodes, now, this.startedAtMs, bad)) {
      for (const key of this.firing) if (key.startsWith('agent-missing/')) this.undecided.add(key);
    }
  }

  /**
   * Keeps only the tracks of connected agents: a node's agent that is gone (or replaced by a new
   * instance, whose counters start over anyway) starts over when it is back. The maps stay as
   * large as the connected fleet, however many agent identities came and went.
   */
  private prune(connected: ReadonlyMap<string, string>): void {
    for (const map of [this.tracks, this.shipTracks]) {
      for (const [id, t] of map) if (connected.get(t.nodeKey) !== t.instanceId) map.delete(id);
    }
  }

  private checkCounters(a: AgentStatus, nodeKey: string, now: number, bad: Map<string, HealthEvent>): void {
    const s = this.o.settings;
    const { sources, shipDropped } = sourceSamples(a.counters);
    let seenDelta = 0;
    for (const c of sources) {
      const id = `${a.cluster}/${a.node}/${c.source}`;
      let t = this.tracks.get(id);
      if (!t || t.instanceId !== a.instanceId || c.seen < t.seen) {
        // New agent instance (counters restarted): start over without judging this interval.
        t = { nodeKey, instanceId: a.instanceId, lastEventMs: c.lastEventMs, advancedAtMs: Math.max(now, this.startedAtMs), usualGapMs: 0, seen: c.seen, dropped: c.dropped, malformed: c.malformed };
        this.tracks.set(id, t);
        for (const k of ['events-dropped', 'events-malformed']) this.undecided.add(`${k}/${id}`);
        continue;
      }
      if (c.lastEventMs > t.lastEventMs) {
        const gap = now - t.advancedAtMs;
        t.usualGapMs = t.usualGapMs === 0 ? gap : t.usualGapMs + GAP_WEIGHT * (gap - t.usualGapMs);
        t.lastEventMs = c.lastEventMs;
        t.advancedAtMs = now;
      }
      const silentFor = now - t.advancedAtMs;
      const limit = Math.max(s.silentAfterMs, s.silentFactor * t.usualGapMs);
      if (silentFor > limit) {
        bad.set(`source-silent/${id}`, {
          kind: 'source-silent',
          key: `source-silent/${id}`,
          severity: 'medium',
          summary: `source ${c.source} on node ${a.node} has produced no event for ${Math.round(silentFor / 60_000)} min (usually every ${Math.max(1, Math.round(t.usualGapMs / 1000))} s)`,
          node: a.node,
          resolved: false,
          atMs: now,
          detail: { source: c.source, lastEventAt: c.lastEventMs ? new Date(c.lastEventMs).toISOString() : null, silentForSeconds: Math.round(silentFor / 1000) },
        });
      }
      const dSeen = c.seen - t.seen;
      seenDelta += dSeen;
      this.ratioCheck('events-dropped', id, a.node, c.source, c.dropped - t.dropped, dSeen, s.dropRatio, bad);
      // Rejections by reason are alerted one by one (input-loss.ts); older agents by their ratio.
      if (c.rejected === null) this.ratioCheck('events-malformed', id, a.node, c.source, c.malformed - t.malformed, dSeen, s.malformedRatio, bad);
      t.seen = c.seen;
      t.dropped = c.dropped;
      t.malformed = c.malformed;
    }
    const shipId = `${a.cluster}/${a.node}/${SHIPPER}`;
    const ship = this.shipTracks.get(shipId);
    if (!ship || ship.instanceId !== a.instanceId || shipDropped < ship.dropped) {
      this.shipTracks.set(shipId, { nodeKey, instanceId: a.instanceId, dropped: shipDropped, seen: 0 });
      this.undecided.add(`events-dropped/${shipId}`);
    } else {
      this.ratioCheck('events-dropped', shipId, a.node, SHIPPER, shipDropped - ship.dropped, seenDelta, this.o.settings.dropRatio, bad);
      ship.dropped = shipDropped;
    }
  }

  private ratioCheck(kind: 'events-dropped' | 'events-malformed', id: string, node: string, source: string, delta: number, seen: number, ratio: number, bad: Map<string, HealthEvent>): void {
    const key = `${kind}/${id}`;
    if (delta <= 0 && seen <= 0) {
      this.undecided.add(key);
      return;
    }
    const share = delta / Math.max(1, seen);
    if (delta < this.o.settings.minEvents || share <= ratio) return;
    const what = kind === 'events-dropped' ? 'dropped' : 'malformed';
    bad.set(key, {
      kind,
      key,
      severity: kind === 'events-dropped' ? 'medium' : 'low',
      summary: `${delta} events ${what} by ${source} on node ${node} in the last check interval (${(share * 100).toFixed(1)} % of ${seen} seen)`,
      node,
      resolved: false,
      atMs: this.o.now(),
      detail: { source, [what]: delta, seen },
    });
  }

  close = once(async () => {
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  });
}
