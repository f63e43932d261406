import type { Migration } from './index.js';

/**
 * Engine columns on the core tables:
 * - `baselines.image_digests`: every image digest a generation covers (JSON array; under the
 *   `inherit` and `alert` policies one generation spans several digests).
 * - `deviations.severity_reason`, `status_comment`, `commands` (interactive sessions, JSON array).
 */
export const m002: Migration = {
  version: 2,
  name: 'engine',
  up: `
ALTER TABLE baselines ADD COLUMN image_digests TEXT NOT NULL DEFAULT '[]';
ALTER TABLE deviations ADD COLUMN severity_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE deviations ADD COLUMN status_comment TEXT;
ALTER TABLE deviations ADD COLUMN commands TEXT;
CREATE INDEX baselines_phase_until ON baselines (phase, learning_until_ms);
`,
};
