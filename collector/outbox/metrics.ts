/**
 * Alerting metrics. The dispatcher counts for every sink (sinks hold no metrics code), and
 * every sink's series exist from the start, so dashboards show 0 rather than no data.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueStats } from '../store/outbox.js';

export const SEND_RESULTS = ['ok', 'retry', 'fail', 'expired'] as const;
export type SendResult = (typeof SEND_RESULTS)[number];

export interface AlertingMetrics {
  sends: Counter<'sink' | 'result'>;
  notifications: Counter<'kind' | 'reason'>;
  heldBack: Counter;
  errors: Counter;
  /** Seconds from a notification entering the outbox to its acceptance by the sink (retries included). */
  delivery: Histogram<'sink'>;
  /** Removes every alerting metric from the registry (close). */
  unregister(): void;
}

export function createAlertingMetrics(registry: Registry, sinkNames: readonly string[], queueStats: () => Promise<QueueStats[]>, failing: () => Map<string, boolean>, now: () => number): AlertingMetrics {
  const registers = [registry];
  const sends = new Counter({ name: 'driftwatch_sink_sends_total', help: 'Notifications handed to a sink, by result (ok, retry, fail, expired).', labelNames: ['sink', 'result'] as const, registers });
  for (const sink of sinkNames) for (const result of SEND_RESULTS) sends.inc({ sink, result }, 0);
  const notifications = new Counter({ name: 'driftwatch_alert_notifications_total', help: 'Notifications decided (one per alert, before fan-out to sinks), by alert kind and reason.', labelNames: ['kind', 'reason'] as const, registers });
  const heldBack = new Counter({ name: 'driftwatch_alerts_held_back_total', help: 'New notifications held back by the global alerting rate limit (sent later).', registers });
  const errors = new Counter({ name: 'driftwatch_alerting_errors_total', help: 'Bus events the alerter could not process.', registers });
  const delivery = new Histogram({
    name: 'driftwatch_sink_delivery_seconds',
    help: 'Seconds from a notification entering the outbox to its delivery to the sink, retries included.',
    labelNames: ['sink'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers,
  });
  for (const sink of sinkNames) delivery.zero({ sink });
  const snapshot = async (): Promise<Map<string, QueueStats>> => new Map((await queueStats()).map((q) => [q.sink, q]));
  const depth = new Gauge({
    name: 'driftwatch_sink_queue_depth',
    help: 'Notifications waiting in the outbox, per sink.',
    labelNames: ['sink'] as const,
    registers,
    async collect() {
      const stats = await snapshot();
      for (const sink of new Set([...sinkNames, ...stats.keys()])) this.set({ sink }, stats.get(sink)?.depth ?? 0);
    },
  });
  const oldest = new Gauge({
    name: 'driftwatch_sink_oldest_pending_seconds',
    help: 'Age of the oldest notification waiting in the outbox, per sink (0 when empty).',
    labelNames: ['sink'] as const,
    registers,
    async collect() {
      const stats = await snapshot();
      const t = now();
      for (const sink of new Set([...sinkNames, ...stats.keys()])) {
        const o = stats.get(sink)?.oldestMs;
        this.set({ sink }, o ? Math.max(0, (t - o) / 1000) : 0);
      }
    },
  });
  const failingGauge = new Gauge({
    name: 'driftwatch_sink_failing',
    help: '1 while a sink has been failing for longer than alerting.unreadyAfter.',
    labelNames: ['sink'] as const,
    registers,
    collect() {
      for (const [sink, f] of failing()) this.set({ sink }, f ? 1 : 0);
    },
  });
  const all = [sends, notifications, heldBack, errors, delivery, depth, oldest, failingGauge];
  return {
    sends,
    notifications,
    heldBack,
    errors,
    delivery,
    unregister() {
      for (const m of all) registry.removeSingleMetric((m as unknown as { name: string }).name);
    },
  };
}
