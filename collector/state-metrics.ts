/**
 * Gauges of what the store holds, read when Prometheus scrapes: what an SRE pages on and a
 * dashboard plots, with bounded labels — namespace × severity for open deviations (never workload
 * or pod names), phase for baselines.
 */
import { Gauge, type Registry } from 'prom-client';
import { BASELINE_PHASES } from '../common/deviations.js';
import type { ReportRepository } from './store/contract.js';

export function registerStateMetrics(registry: Registry, reports: ReportRepository): void {
  new Gauge({
    name: 'driftwatch_deviations_open',
    help: 'Open deviations (status open: not acknowledged, resolved or added to the baseline), by workload namespace and severity.',
    labelNames: ['namespace', 'severity'] as const,
    registers: [registry],
    async collect() {
      const rows = await reports.openDeviationCounts();
      // Namespaces whose deviations were all closed disappear instead of lingering at their last value.
      this.reset();
      for (const r of rows) this.set({ namespace: r.namespace, severity: r.severity }, r.count);
    },
  });
  new Gauge({
    name: 'driftwatch_baselines',
    help: 'Baselines by phase: learning, active (enforced, not yet reviewed), approved, rejected; superseded = replaced generations.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const byPhase = await reports.baselinesByPhase();
      for (const state of BASELINE_PHASES) this.set({ state }, byPhase.get(state) ?? 0);
    },
  });
}
