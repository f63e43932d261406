/**
 * What one transaction changed, announced only after it committed.
 *
 * Detection modules record here (never on the bus directly): a rolled-back transaction must leave
 * no trace, and a deviation created and updated in one batch is announced once, in its final state.
 * `commitChanges` is the one place that runs a change: transaction → on failure drop the caller's
 * caches → after commit publish (bus events, edge baselines to agents).
 */
import type { CollectorEvent, DeviationKind, DeviationStatus } from '../common/deviations.js';
import type { Repositories, Store } from './store/contract.js';

export class ChangeSet {
  /** Deviation id → what happened to it first in this transaction. */
  readonly deviations = new Map<number, 'created' | 'updated'>();
  readonly statuses: { id: number; previous: DeviationStatus; actor: string }[] = [];
  readonly events: CollectorEvent[] = [];
  /** Workloads whose edge baseline may have changed. */
  readonly edgeWorkloads = new Set<number>();
  /** Kinds of the deviations created (metrics). */
  readonly createdKinds: DeviationKind[] = [];

  created(id: number, kind: DeviationKind): void {
    this.deviations.set(id, 'created');
    this.createdKinds.push(kind);
  }

  updated(id: number): void {
    if (!this.deviations.has(id)) this.deviations.set(id, 'updated');
  }

  statusChanged(id: number, previous: DeviationStatus, actor: string): void {
    // A deviation created in this transaction is announced once, in its final state.
    if (this.deviations.get(id) === 'created') return;
    this.statuses.push({ id, previous, actor });
  }
}

export interface ChangeRunner {
  readonly store: Store;
  /** Drops caches that may hold what the rolled-back transaction wrote. */
  discard(): void;
  /** Announces a committed change set. */
  publish(changes: ChangeSet): Promise<void>;
}

/** Runs `fn` in one transaction with a fresh change set; publishes it after commit. */
export async function commitChanges<T>(runner: ChangeRunner, fn: (tx: Repositories, changes: ChangeSet) => Promise<T>): Promise<T> {
  const changes = new ChangeSet();
  let result: T;
  try {
    result = await runner.store.transaction((tx) => fn(tx, changes));
  } catch (err) {
    runner.discard();
    throw err;
  }
  await runner.publish(changes);
  return result;
}
