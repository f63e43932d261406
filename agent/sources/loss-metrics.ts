/**
 * Prometheus view of what the sources lost or refused, read from their counters when /metrics is
 * scraped (nothing on the hot path):
 *
 * | metric | labels |
 * |---|---|
 * | driftwatch_source_rejected_total | source, kind, reason (REJECT_REASONS) |
 * | driftwatch_source_sensor_lost_events_total | source, kind |
 * | driftwatch_source_sensor_reported_events_total | source, kind |
 * | driftwatch_source_sensor_throttles_total | source, kind |
 * | driftwatch_source_sensor_gaps_total | source, kind |
 * | driftwatch_source_sensor_gap_seconds_total | source, kind |
 */
import { Counter, type Registry } from 'prom-client';
import { REJECT_REASONS, type SourceCounters } from '../../common/model.js';
import type { Source } from '../pipeline.js';

type Labels = 'source' | 'kind';

/** A counter that follows a monotonic value per label set (counters only go up). */
function follow<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Record<L, string>, number]>): void {
  const last = new Map<string, number>();
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const key = labelNames.map((l) => labels[l]).join('\u0000');
        const delta = value - (last.get(key) ?? 0);
        if (delta > 0 || !last.has(key)) this.labels(labels).inc(Math.max(0, delta));
        last.set(key, value);
      }
    },
  });
}

/** Per registry, the agents' source lists registered on it (one in production). */
const providers = new WeakMap<Registry, (() => readonly Source[])[]>();

export function registerLossMetrics(registry: Registry, agentSources: () => readonly Source[]): void {
  const known = providers.get(registry);
  if (known) {
    known.push(agentSources);
    return;
  }
  const list = [agentSources];
  providers.set(registry, list);
  const sources = (): Source[] => list.flatMap((p) => p());
  const per = (field: 'sensorLost' | 'sensorEvents' | 'sensorThrottled' | 'sensorGaps' | 'sensorGapMs', scale = 1) =>
    function* (): Iterable<[Record<Labels, string>, number]> {
      for (const s of sources()) yield [{ source: s.name, kind: s.kind }, s.counters[field] * scale];
    };
  follow(registry, 'driftwatch_source_rejected_total', 'Source input that did not become an observation because it was malformed, by reason (their sum is the malformed result of driftwatch_source_events_total).', ['source', 'kind', 'reason'] as const, function* () {
    for (const s of sources()) {
      const rejected: SourceCounters['rejected'] = s.counters.rejected;
      for (const reason of REJECT_REASONS) yield [{ source: s.name, kind: s.kind, reason }, rejected[reason] ?? 0];
    }
  });
  follow(registry, 'driftwatch_source_sensor_lost_events_total', 'Events the sensor (Falco, Tetragon) reported it lost before the agent could read them.', ['source', 'kind'] as const, per('sensorLost'));
  follow(registry, 'driftwatch_source_sensor_reported_events_total', "Events the sensor reported handling over the windows of its loss reports (the loss rate's denominator).", ['source', 'kind'] as const, per('sensorEvents'));
  follow(registry, 'driftwatch_source_sensor_throttles_total', 'Times the sensor started holding back a cgroup’s events (Tetragon THROTTLE_START): a loss without a count.', ['source', 'kind'] as const, per('sensorThrottled'));
  follow(registry, 'driftwatch_source_sensor_gaps_total', 'Times the stream from the sensor was lost and came back: the sensor does not replay, so its events in between are lost.', ['source', 'kind'] as const, per('sensorGaps'));
  follow(registry, 'driftwatch_source_sensor_gap_seconds_total', 'How long the stream from the sensor was lost, in all (from losing it to having one again).', ['source', 'kind'] as const, per('sensorGapMs', 1 / 1000));
}
