import type { Migration } from './index.js';

/**
 * `write_generation`: one row counting committed store transactions. Several collector replicas on one PostgreSQL database
 * read it under the writer lock at the start of every transaction: a count that moved since the
 * replica's own last transaction means another replica wrote, and the caches over the store
 * (baseline views) must be read again before this transaction uses them. SQLite (one collector
 * per database) never reads it.
 */
export const m010: Migration = {
  version: 10,
  name: 'replicas',
  up: `
CREATE TABLE write_generation (
  id          INTEGER PRIMARY KEY,
  generation  INTEGER NOT NULL
);
INSERT INTO write_generation (id, generation) VALUES (1, 0);
`,
};
