import type { Migration } from './index.js';

/**
 * Core tables. Times: `*_at` columns are wall-clock ISO-8601 text (when driftwatch did something);
 * `*_ms` columns are event time in ms since the epoch (when the workload did something).
 * JSON documents are stored as TEXT.
 */
export const m001: Migration = {
  version: 1,
  name: 'core',
  up: `
CREATE TABLE agents (
  instance_id   TEXT PRIMARY KEY,
  node          TEXT NOT NULL,
  cluster       TEXT NOT NULL,
  version       TEXT NOT NULL,
  sources       TEXT NOT NULL,
  connected     INTEGER NOT NULL DEFAULT 0,
  first_seen_at TEXT NOT NULL,
  last_seen_at  TEXT NOT NULL,
  last_seq      INTEGER NOT NULL DEFAULT 0,
  counters      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX agents_node ON agents (node);

CREATE TABLE workloads (
  id            INTEGER PRIMARY KEY,
  cluster       TEXT NOT NULL,
  namespace     TEXT NOT NULL,
  kind          TEXT NOT NULL,
  name          TEXT NOT NULL,
  container     TEXT NOT NULL,
  image_policy  TEXT,
  created_at    TEXT NOT NULL,
  UNIQUE (cluster, namespace, kind, name, container)
);

CREATE TABLE observations (
  id            INTEGER PRIMARY KEY,
  agent         TEXT NOT NULL,
  seq           INTEGER NOT NULL,
  idx           INTEGER NOT NULL,
  workload_id   INTEGER NOT NULL REFERENCES workloads (id),
  kind          TEXT NOT NULL,
  time_ms       REAL NOT NULL,
  node          TEXT NOT NULL,
  data          TEXT NOT NULL,
  UNIQUE (agent, seq, idx)
);
CREATE INDEX observations_workload_time ON observations (workload_id, time_ms);

CREATE TABLE baselines (
  id                INTEGER PRIMARY KEY,
  workload_id       INTEGER NOT NULL REFERENCES workloads (id),
  generation        INTEGER NOT NULL,
  image_digest      TEXT,
  phase             TEXT NOT NULL,
  completeness      TEXT NOT NULL DEFAULT 'full',
  version           INTEGER NOT NULL DEFAULT 1,
  learning_start_ms REAL,
  learning_until_ms REAL,
  last_new_item_ms  REAL,
  decided_by        TEXT,
  decided_at        TEXT,
  decision_comment  TEXT,
  created_at        TEXT NOT NULL,
  updated_at        TEXT NOT NULL,
  UNIQUE (workload_id, generation)
);

CREATE TABLE baseline_items (
  id            INTEGER PRIMARY KEY,
  baseline_id   INTEGER NOT NULL REFERENCES baselines (id),
  kind          TEXT NOT NULL,
  item_key      TEXT NOT NULL,
  origin        TEXT NOT NULL,
  phase         TEXT NOT NULL DEFAULT 'steady',
  detail        TEXT NOT NULL,
  count         INTEGER NOT NULL DEFAULT 1,
  first_seen_ms REAL NOT NULL,
  last_seen_ms  REAL NOT NULL,
  added_in_version INTEGER NOT NULL DEFAULT 1,
  removed_in_version INTEGER,
  UNIQUE (baseline_id, item_key)
);

CREATE TABLE deviations (
  id            INTEGER PRIMARY KEY,
  baseline_id   INTEGER NOT NULL REFERENCES baselines (id),
  workload_id   INTEGER NOT NULL REFERENCES workloads (id),
  item_key      TEXT NOT NULL,
  kind          TEXT NOT NULL,
  severity      TEXT NOT NULL,
  status        TEXT NOT NULL DEFAULT 'open',
  summary       TEXT NOT NULL,
  detail        TEXT NOT NULL,
  first_seen_ms REAL NOT NULL,
  last_seen_ms  REAL NOT NULL,
  count         INTEGER NOT NULL DEFAULT 1,
  pods          TEXT NOT NULL DEFAULT '[]',
  nodes         TEXT NOT NULL DEFAULT '[]',
  image         TEXT,
  samples       TEXT NOT NULL DEFAULT '[]',
  status_by     TEXT,
  status_at     TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  UNIQUE (baseline_id, item_key)
);
CREATE INDEX deviations_status_time ON deviations (status, last_seen_ms);
CREATE INDEX deviations_workload ON deviations (workload_id, last_seen_ms);

CREATE TABLE audit_log (
  id            INTEGER PRIMARY KEY,
  at            TEXT NOT NULL,
  actor         TEXT NOT NULL,
  action        TEXT NOT NULL,
  target_type   TEXT NOT NULL,
  target_id     TEXT NOT NULL,
  comment       TEXT,
  before        TEXT,
  after         TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
`,
};
