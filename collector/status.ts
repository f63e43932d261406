/**
 * The completion signal: per stage of the pipeline, what is received and not yet finished, read
 * from the components' own state (no metric scraping, no polling of several tables by the user).
 * `idle` is true when every count is zero: everything received is stored, every deviation decided
 * for alerting and every notification delivered (or given up on, which the outbox records).
 *
 * Stages, in the data's order:
 * - ingest: batches received from agents (or handed to the unit of work by a replay) and not yet
 *   committed;
 * - alerting: bus events not yet decided, deviations in a grouping wait, notifications held back
 *   by the rate limit, notified alerts whose grown content waits for its update;
 * - outbox: notifications queued per sink and not yet delivered.
 *
 * Each stage is read after the one before it, so work moving forward while the status is read is
 * counted twice at worst, never missed: an idle answer is never early.
 */
import type { IngestPending } from './ingest/unit-of-work.js';
import type { AlertingPending } from './outbox/index.js';

export interface PipelineStatus {
  idle: boolean;
  ingest: IngestPending;
  alerting: { undecidedEvents: number; grouping: number; heldBack: number; updates: number };
  outbox: { pending: number; sinks: Record<string, number> };
}

/** The components the status is read from (the collector's, or a replay's). */
export interface StatusSources {
  ingest: { pending(): IngestPending };
  alerting: { pending(): Promise<AlertingPending> };
}

export async function readPipelineStatus(s: StatusSources): Promise<PipelineStatus> {
  const ingest = s.ingest.pending();
  const a = await s.alerting.pending();
  const outboxPending = Object.values(a.outbox).reduce((sum, n) => sum + n, 0);
  const alerting = { undecidedEvents: a.undecidedEvents, grouping: a.grouping, heldBack: a.heldBack, updates: a.updates };
  const idle = ingest.batches === 0 && alerting.undecidedEvents === 0 && alerting.grouping === 0 && alerting.heldBack === 0 && alerting.updates === 0 && outboxPending === 0;
  return { idle, ingest, alerting, outbox: { pending: outboxPending, sinks: a.outbox } };
}
