/** Per-sink routing: minimum severity, namespace / workload globs, health alerts on or off. */
import type { SinkConfig } from '../../common/config/schema.js';
import { severityRank } from '../../common/deviations.js';
import { compileGlob } from '../../common/glob.js';
import type { AlertSnapshot } from '../store/outbox.js';

export type Route = (alert: AlertSnapshot) => boolean;

export function compileRoute(config: SinkConfig): Route {
  const minRank = severityRank(config.minSeverity);
  const namespaces = config.namespaces.map(compileGlob);
  const workloads = config.workloads.map(compileGlob);
  return (alert) => {
    if (severityRank(alert.severity) < minRank) return false;
    if (alert.kind === 'health') {
      if (!config.health) return false;
      // Health alerts about a workload (baseline overflow) honour the selectors; node-level ones pass.
      if (!alert.workload) return true;
    }
    const w = alert.workload;
    if (!w) return namespaces.length === 0 && workloads.length === 0;
    if (namespaces.length > 0 && !namespaces.some((r) => r.test(w.namespace))) return false;
    if (workloads.length > 0 && !workloads.some((r) => r.test(w.name) || r.test(`${w.kind}/${w.name}`))) return false;
    return true;
  };
}
