import type { Migration } from './index.js';

/**
 * - `baseline_runs`: the runs (Jobs) a run-to-completion workload's generation learned from, by
 *   the event time each was first seen (collector/baselines/runs.ts). A generation learns from its
 *   first `learning.runs` runs.
 * - Items Job and CronJob baselines learned as start-up only become steady: such workloads learn
 *   a run as a whole now, and a later, longer run must not alert on what a short run did during
 *   the start-up grace.
 */
export const m008: Migration = {
  version: 8,
  name: 'learning-runs',
  up: `
CREATE TABLE baseline_runs (
  baseline_id    INTEGER NOT NULL REFERENCES baselines(id),
  run            TEXT NOT NULL,
  first_seen_ms  INTEGER NOT NULL,
  PRIMARY KEY (baseline_id, run)
);

UPDATE baseline_items SET phase = 'steady'
 WHERE phase = 'startup'
   AND baseline_id IN (SELECT b.id FROM baselines b JOIN workloads w ON w.id = b.workload_id WHERE w.kind IN ('Job', 'CronJob'));
`,
};
