import type { Migration } from './index.js';

/**
 * The console's tables and the indexes its queries need.
 * - `api_tokens`: bearer tokens, only their SHA-256 is stored (a leaked database leaks no token).
 * - `audit_log.namespace`: lets a namespace-scoped reader see only its namespaces' decisions.
 * - deviation indexes end in `id` so that every keyset page (sort key, id) is an index range; the
 *   severity sort is an expression index on exactly queries.ts SEVERITY_RANK_EXPRESSION.
 */
export const m004: Migration = {
  version: 4,
  name: 'api',
  up: `
CREATE TABLE api_tokens (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  role          TEXT NOT NULL,
  namespaces    TEXT,
  token_hash    TEXT NOT NULL UNIQUE,
  created_at    TEXT NOT NULL,
  created_by    TEXT NOT NULL,
  expires_at    TEXT,
  last_used_at  TEXT,
  revoked_at    TEXT
);

ALTER TABLE audit_log ADD COLUMN namespace TEXT;
CREATE INDEX audit_log_namespace ON audit_log (namespace, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);

CREATE INDEX workloads_namespace ON workloads (namespace, name);
CREATE INDEX workloads_name ON workloads (name, container);
CREATE INDEX deviations_workload_id ON deviations (workload_id, id);
CREATE INDEX deviations_status_id ON deviations (status, id);
CREATE INDEX deviations_status_severity_id ON deviations (status, (CASE severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE -1 END), id);
CREATE INDEX deviations_last_seen_id ON deviations (last_seen_ms, id);
CREATE INDEX deviations_first_seen_id ON deviations (first_seen_ms, id);
CREATE INDEX baseline_items_baseline ON baseline_items (baseline_id, added_in_version);
CREATE INDEX baselines_workload ON baselines (workload_id, generation);
`,
};
