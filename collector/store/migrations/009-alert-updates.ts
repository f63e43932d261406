import type { Migration } from './index.js';

/**
 * Alert updates (collector/outbox): `alert_state.update_due_ms` is when a notified alert whose
 * content has grown since (a session's new commands, a group's new members) is sent again under
 * its key — wall-clock ms, null when nothing is waiting to be told. Kept apart from `due_ms` (the
 * re-notify interval) so that an update neither delays nor replaces a re-notification.
 */
export const m009: Migration = {
  version: 9,
  name: 'alert-updates',
  up: `
ALTER TABLE alert_state ADD COLUMN update_due_ms REAL;
CREATE INDEX alert_state_update_due ON alert_state (update_due_ms);
`,
};
