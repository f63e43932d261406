import type { Migration } from './index.js';

/**
 * - `declared_last_good`: the last text of each declared-baseline file (by name in the baselines
 *   directory) that loaded without an error. After a restart, a file that is now broken or empty
 *   keeps this content in force instead of nothing. A deleted file's row stays: a file recreated
 *   empty (a truncated write, a broken checkout) gets its last good content back.
 * - `agents_node_instance`: the keyset order of the agents list (node, instance id).
 */
export const m005: Migration = {
  version: 5,
  name: 'declared-last-good',
  up: `
CREATE TABLE declared_last_good (
  file      TEXT PRIMARY KEY,
  text      TEXT NOT NULL,
  saved_at  TEXT NOT NULL
);

CREATE INDEX agents_node_instance ON agents (node, instance_id);
`,
};
