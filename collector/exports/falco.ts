import type { BaselineItemView, BaselineView } from '../store/queries.js';
import { dnsLabel, splitItems } from './keys.js';

/** A Falco condition string literal: double-quoted, backslash and quote escaped. */
export function falcoString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

// Control characters cannot be written safely into a rule; such paths are left out (and counted).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Falco rules that alert on any process of the workload's container outside the approved
 * baseline: one list (the allowed executables), one macro (the workload), one rule. Self-contained
 * (no macro from the default rules files, no deprecated `evt.dir`), so it loads in any order.
 */
export function toFalcoRules(baseline: BaselineView, items: readonly BaselineItemView[]): Record<string, unknown>[] {
  const w = baseline.workload;
  const id = dnsLabel(w.namespace, w.name, w.container).replace(/-/g, '_');
  const { processes } = splitItems(items);
  const safe = processes.filter((p) => !UNSAFE.test(p.exe));
  const skipped = processes.length - safe.length;
  const list = `driftwatch_${id}_allowed_exes`;
  const macro = `driftwatch_${id}_workload`;
  const pod =
    w.kind === 'Host'
      ? 'container.id = host'
      : `container.id != host and k8s.ns.name = ${falcoString(w.namespace)} and container.name = ${falcoString(w.container)} and ${
          w.kind === 'Pod' ? `k8s.pod.name = ${falcoString(w.name)}` : `k8s.pod.name startswith ${falcoString(w.name + '-')}`
        }`;
  return [
    { list, items: safe.map((p) => falcoString(p.exe)) },
    { macro, condition: `(${pod})` },
    {
      rule: `driftwatch: process outside baseline (${w.namespace}/${w.kind}/${w.name}/${w.container})`,
      desc: `A process the approved driftwatch baseline ${baseline.id} v${baseline.version} does not allow${skipped ? ` (${skipped} paths with control characters left out)` : ''}.`,
      condition: `evt.type in (execve, execveat) and ${macro} and not proc.exepath in (${list})`,
      output:
        'Process outside the driftwatch baseline (exe=%proc.exepath args=%proc.args parent=%proc.pexepath user=%user.name uid=%user.uid ns=%k8s.ns.name pod=%k8s.pod.name container=%container.name image=%container.image.repository:%container.image.tag)',
      priority: 'WARNING',
      source: 'syscall',
      tags: ['driftwatch', 'baseline', 'process'],
    },
  ];
}
