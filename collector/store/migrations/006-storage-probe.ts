import type { Migration } from './index.js';

/**
 * `storage_probe`: one row the store writes (with some room, freed again in the same transaction)
 * to find out whether the database volume takes writes again after it was full, read-only or
 * failing (see `Store.probeStorage`). Nothing reads it.
 */
export const m006: Migration = {
  version: 6,
  name: 'storage-probe',
  up: `
CREATE TABLE storage_probe (
  id            INTEGER PRIMARY KEY,
  probed_at_ms  INTEGER NOT NULL,
  room          TEXT
);
`,
};
