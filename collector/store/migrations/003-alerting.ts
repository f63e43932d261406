import type { Migration } from './index.js';

/**
 * Alerting (collector/outbox): what was decided per alert, and the durable per-sink queue.
 *
 * `alert_state` is the notification log (alertmanager's nflog): one row per alert key —
 * `deviation:<id>`, `group:<workload key>:<first event ms>`, `health:<health key>` — with its
 * phase and the latest payload, so that re-notifications, resolutions and restarts need nothing
 * kept in memory. `alert_outbox` holds one row per (sink, notification); the idempotency key is
 * unique per sink, which makes enqueueing the same decision twice a no-op.
 * `*_ms` columns here are wall-clock ms except `event_ms` / `last_event_ms` (event time of the first
 * and latest occurrence).
 */
export const m003: Migration = {
  version: 3,
  name: 'alerting',
  up: `
CREATE TABLE alert_state (
  alert_key      TEXT PRIMARY KEY,
  kind           TEXT NOT NULL,
  workload_key   TEXT,
  deviation_id   INTEGER,
  group_key      TEXT,
  phase          TEXT NOT NULL,
  severity       TEXT NOT NULL,
  event_ms       REAL NOT NULL,
  last_event_ms  REAL NOT NULL,
  due_ms         REAL,
  notify_count   INTEGER NOT NULL DEFAULT 0,
  alert          TEXT NOT NULL,
  created_ms     REAL NOT NULL,
  updated_ms     REAL NOT NULL
);
CREATE INDEX alert_state_due ON alert_state (phase, due_ms);
CREATE INDEX alert_state_workload ON alert_state (workload_key, event_ms);
CREATE INDEX alert_state_group ON alert_state (group_key);
CREATE INDEX alert_state_deviation ON alert_state (deviation_id);

CREATE TABLE alert_outbox (
  id              INTEGER PRIMARY KEY,
  sink            TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  alert_key       TEXT NOT NULL,
  payload         TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms REAL NOT NULL,
  created_ms      REAL NOT NULL,
  done_ms         REAL,
  last_error      TEXT,
  UNIQUE (sink, idempotency_key)
);
CREATE INDEX alert_outbox_due ON alert_outbox (sink, state, next_attempt_ms);
CREATE INDEX alert_outbox_alert ON alert_outbox (alert_key, sink);
`,
};
