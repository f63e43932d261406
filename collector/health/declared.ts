/**
 * declared-baseline-invalid: a declared baseline file that does not load (syntax, schema, empty,
 * unreadable). One alert per file, open while the file has a problem — a new problem in the same
 * file updates the open alert instead of paging again — and resolved when the file loads or is
 * deleted. The rest of the collector keeps working on the file's last good content.
 */
import { formatDeclaredError, type DeclaredError } from '../baselines/declared.js';
import type { HealthEvent } from '../../common/deviations.js';

export const DECLARED_PREFIX = 'declared-baseline-invalid/';

/** Where the monitor reads the declared baselines' problems (the engine's DeclaredBaselines). */
export interface DeclaredProblems {
  errors(): readonly DeclaredError[];
  /** The file's last good content is in force (else nothing of it is). */
  status(): readonly { file: string; inForce: 'current' | 'last-good' | 'none' }[];
}

export function declaredEvents(declared: DeclaredProblems, cluster: string, now: number, bad: Map<string, HealthEvent>): void {
  const inForce = new Map(declared.status().map((f) => [f.file, f.inForce]));
  for (const e of declared.errors()) {
    const key = `${DECLARED_PREFIX}${cluster}/${e.file}`;
    if (bad.has(key)) continue;
    const kept = inForce.get(e.file) === 'last-good';
    bad.set(key, {
      kind: 'declared-baseline-invalid',
      key,
      severity: kept ? 'medium' : 'high',
      summary: `declared baseline file ${formatDeclaredError(e)} — ${kept ? 'its last good content stays in force' : 'nothing of it is in force (no last good content)'}`,
      node: null,
      resolved: false,
      atMs: now,
      detail: { file: e.file, line: e.line, column: e.column, reason: e.reason, inForce: kept ? 'last-good' : 'none' },
    });
  }
}
