/**
 * Health alerts for input that never became an observation:
 *
 * - sensor-loss: a source's sensor (Falco, Tetragon) reported events it lost — its workloads
 *   look quieter than they are. Raised on any reported loss, with the loss rate (share of what
 *   the sensor handled when it says so, else of what the agent received plus the loss) and the
 *   lost events per minute; `high` from 1 % on.
 * - observations-rejected: an agent's source refused input (by REJECT_REASONS reason) or the
 *   collector's validation refused observations (by WIRE_REJECT_REASONS reason). Every rejection
 *   raises: one alert per node, source (`collector` for the validation) and reason.
 *
 * Both are raised on the first increase and stay open while increases keep coming; they end after
 * `quietMs` without one (Falco reports drops at most every 30 s, so ending at the next check would
 * make an ongoing loss flap).
 *
 * Counters are per agent process (instance), and every instance still known is read, not only a
 * node's latest: what an agent counted just before it restarted is not lost. The first sample of
 * an instance first seen after this monitor started counts from zero; one that was already known
 * (a collector restart) only sets the starting point, so nothing already reported is raised again.
 */
import type { AgentStatus, HealthEvent } from '../../common/deviations.js';
import type { SourceSample } from './samples.js';
import type { WireRejections } from './rejections.js';

interface LossTrack {
  checkedAtMs: number;
  seen: number;
  sensorLost: number;
  sensorEvents: number;
  sensorThrottled: number;
  sensorGaps: number;
  sensorGapMs: number;
  rejected: Record<string, number>;
}

/** Collector-side rejections are not per agent instance: one track per node. */
interface CollectorTrack {
  counts: Map<string, number>;
}

export const COLLECTOR_SOURCE = 'collector';
const LOSS_HIGH_SHARE = 0.01;

const REASON_TEXT: Record<string, string> = {
  undecodable: 'not decodable (invalid protobuf or JSON)',
  'too-large': 'larger than the source accepts',
  'not-json': 'a Falco post that is not JSON (json_output: false?)',
  'not-an-event': 'not an event of the source',
  'missing-process': 'no process (binary / executable path)',
  'missing-exec-id': 'a Tetragon exit without exec id',
  'missing-socket': 'a network event without its socket',
  'missing-fields': 'a Falco alert without output_fields or rule',
  'normaliser-error': 'a shape the normaliser does not handle',
  other: 'a reason this collector does not know',
  'missing-workload': 'no workload',
  'bad-workload-kind': 'an unknown workload kind',
  'bad-source': 'an unknown source or identity source',
  'bad-event-time': 'an event time before 2000 or beyond the allowed clock skew',
  'bad-direction': 'an unknown network direction',
  'bad-protocol': 'an unknown network protocol',
};

export class InputLossChecks {
  /** instance id → source → track. */
  private readonly tracks = new Map<string, Map<string, LossTrack>>();
  private readonly collectorTracks = new Map<string, CollectorTrack>();
  /** Open alerts of this module: key → when their condition was last seen, and the event. */
  private readonly open = new Map<string, { lastMs: number; event: HealthEvent }>();

  constructor(
    private readonly quietMs: number,
    private readonly startedAtMs: () => number,
  ) {}

  get tracked(): number {
    let n = this.collectorTracks.size;
    for (const sources of this.tracks.values()) n += sources.size;
    return n;
  }

  /** One source of one agent instance's counters. */
  checkSource(a: AgentStatus, c: SourceSample, now: number): void {
    const id = `${a.cluster}/${a.node}/${c.source}`;
    let sources = this.tracks.get(a.instanceId);
    if (!sources) this.tracks.set(a.instanceId, (sources = new Map()));
    let t = sources.get(c.source);
    if (!t || c.seen < t.seen) {
      const fresh = !t && Date.parse(a.firstSeenAt) >= this.startedAtMs();
      t = fresh
        ? { checkedAtMs: Date.parse(a.firstSeenAt), seen: 0, sensorLost: 0, sensorEvents: 0, sensorThrottled: 0, sensorGaps: 0, sensorGapMs: 0, rejected: {} }
        : { checkedAtMs: now, seen: c.seen, sensorLost: c.sensorLost, sensorEvents: c.sensorEvents, sensorThrottled: c.sensorThrottled, sensorGaps: c.sensorGaps, sensorGapMs: c.sensorGapMs, rejected: { ...c.rejected } };
      sources.set(c.source, t);
    }
    const lost = c.sensorLost - t.sensorLost;
    const throttled = c.sensorThrottled - t.sensorThrottled;
    const gaps = { count: c.sensorGaps - t.sensorGaps, ms: c.sensorGapMs - t.sensorGapMs };
    if (lost > 0 || throttled > 0 || gaps.count > 0) this.raise(this.lossEvent(a, c.source, id, lost, c.sensorEvents - t.sensorEvents, c.seen - t.seen, throttled, gaps, now - t.checkedAtMs, now), now);
    for (const [reason, count] of Object.entries(c.rejected ?? {})) {
      const delta = count - (t.rejected[reason] ?? 0);
      if (delta > 0) this.raise(this.rejectedEvent(a.cluster, a.node, c.source, reason, delta, now - t.checkedAtMs, now), now);
    }
    t.checkedAtMs = now;
    t.seen = c.seen;
    t.sensorLost = c.sensorLost;
    t.sensorEvents = c.sensorEvents;
    t.sensorThrottled = c.sensorThrottled;
    t.sensorGaps = c.sensorGaps;
    t.sensorGapMs = c.sensorGapMs;
    t.rejected = { ...c.rejected };
  }

  /** The collector's own rejections (cumulative per node and reason). */
  checkCollector(rejections: WireRejections, cluster: string, now: number): void {
    for (const [node, reasons] of rejections.entries()) {
      let t = this.collectorTracks.get(node);
      if (!t) this.collectorTracks.set(node, (t = { counts: new Map() }));
      for (const [reason, count] of reasons) {
        const delta = count - (t.counts.get(reason) ?? 0);
        if (delta > 0) this.raise(this.rejectedEvent(cluster, node, COLLECTOR_SOURCE, reason, delta, null, now), now);
        t.counts.set(reason, count);
      }
    }
  }

  /** Alerts still within their quiet period (the others end). */
  firing(now: number, bad: Map<string, HealthEvent>): void {
    for (const [key, o] of this.open) {
      if (now - o.lastMs < this.quietMs) bad.set(key, o.event);
      else this.open.delete(key);
    }
  }

  /** Forgets agent instances and nodes the collector no longer tracks (see HealthMonitor.prune). */
  prune(instances: ReadonlySet<string>, nodes: ReadonlySet<string>, rejections: WireRejections | undefined): void {
    for (const id of this.tracks.keys()) if (!instances.has(id)) this.tracks.delete(id);
    rejections?.retain(nodes);
    for (const node of this.collectorTracks.keys()) if (!nodes.has(node)) this.collectorTracks.delete(node);
  }

  private raise(h: HealthEvent, now: number): void {
    const open = this.open.get(h.key);
    // The first raise is what gets sent; later increases only keep it open.
    this.open.set(h.key, { lastMs: now, event: open?.event ?? h });
  }

  private lossEvent(a: AgentStatus, source: string, id: string, lost: number, sensorEvents: number, seen: number, throttled: number, gaps: { count: number; ms: number }, intervalMs: number, now: number): HealthEvent {
    const handled = sensorEvents > 0 ? sensorEvents : seen + lost;
    const share = lost > 0 && handled > 0 ? lost / handled : null;
    const minutes = Math.max(intervalMs, 1) / 60_000;
    const parts: string[] = [];
    if (lost > 0) {
      const of = sensorEvents > 0 ? `of ${sensorEvents} events the sensor handled` : `of ${seen} received + lost`;
      parts.push(`reported ${lost} events lost in the last ${duration(intervalMs)} (${share === null ? '?' : (share * 100).toFixed(2)} % ${of}; ${(lost / minutes).toFixed(1)}/min)`);
    }
    if (throttled > 0) parts.push(`throttled a cgroup's events ${throttled} time(s) (count unknown)`);
    if (gaps.count > 0) parts.push(`was out of reach ${gaps.count} time(s) for ${(gaps.ms / 1000).toFixed(1)} s in all (restarted? it does not replay)`);
    return {
      kind: 'sensor-loss',
      key: `sensor-loss/${id}`,
      severity: share === null || share >= LOSS_HIGH_SHARE ? 'high' : 'medium',
      summary: `sensor of source ${source} on node ${a.node} ${parts.join(' and ')}: activity in that time may be missing`,
      node: a.node,
      resolved: false,
      atMs: now,
      detail: {
        source,
        lost,
        lossPercent: share === null ? null : Number((share * 100).toFixed(4)),
        lostPerMinute: Number((lost / minutes).toFixed(2)),
        sensorEvents,
        received: seen,
        throttled,
        gaps: gaps.count,
        gapSeconds: Number((gaps.ms / 1000).toFixed(3)),
        intervalSeconds: Math.round(intervalMs / 1000),
      },
    };
  }

  private rejectedEvent(cluster: string, node: string, source: string, reason: string, count: number, intervalMs: number | null, now: number): HealthEvent {
    const where = source === COLLECTOR_SOURCE ? `the collector refused ${count} observation(s) from node ${node}` : `source ${source} on node ${node} refused ${count} input(s)`;
    return {
      kind: 'observations-rejected',
      key: `observations-rejected/${cluster}/${node}/${source}/${reason}`,
      severity: 'medium',
      summary: `${where}${intervalMs === null ? '' : ` in the last ${duration(intervalMs)}`}: ${reason} (${REASON_TEXT[reason] ?? reason}); they are not monitored`,
      node,
      resolved: false,
      atMs: now,
      detail: { source, reason, count },
    };
  }
}

function duration(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.max(1, Math.round(ms / 1000))} s`;
}
