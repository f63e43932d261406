/**
 * Between collector replicas on one database: what a committed change set tells the others
 * (over `store.replicas`), and what a replica does with what it hears — drops its cached baseline
 * views, pushes the changed edge baselines to its own agents, and streams the events to its own
 * WebSocket clients (as events from a replica: alerting already ran where the change was made).
 */
import type { BaselinePhase, DeviationStatus } from '../common/deviations.js';
import type { ChangeSet } from './changes.js';
import type { CollectorBus } from './events.js';
import type { Store } from './store/contract.js';

/** One change set, as ids: the receiver reads the rows (committed before the message was sent). */
interface ReplicaMessage {
  edge: number[];
  deviations: [id: number, what: 'created' | 'updated'][];
  statuses: [id: number, previous: DeviationStatus, actor: string][];
  baselines: [id: number, previousPhase: BaselinePhase | null][];
}

/** Items per message: each is a few ids and at most a token name, far below NOTIFY's 8000 bytes. */
const ITEMS_PER_MESSAGE = 40;

/** The messages that tell the other replicas about `changes` (none when nothing they show changed). */
export function replicaMessages(changes: ChangeSet): string[] {
  const items: [keyof ReplicaMessage, unknown][] = [
    ...[...changes.edgeWorkloads].map((id): [keyof ReplicaMessage, unknown] => ['edge', id]),
    ...[...changes.deviations].map((d): [keyof ReplicaMessage, unknown] => ['deviations', d]),
    ...changes.statuses.map((s): [keyof ReplicaMessage, unknown] => ['statuses', [s.id, s.previous, s.actor.slice(0, 200)]]),
    ...changes.events.flatMap((e): [keyof ReplicaMessage, unknown][] => (e.type === 'baseline.changed' ? [['baselines', [e.baseline.id, e.previousPhase]]] : [])),
  ];
  const messages: string[] = [];
  for (let start = 0; start < items.length; start += ITEMS_PER_MESSAGE) {
    const message: ReplicaMessage = { edge: [], deviations: [], statuses: [], baselines: [] };
    for (const [key, item] of items.slice(start, start + ITEMS_PER_MESSAGE)) (message[key] as unknown[]).push(item);
    messages.push(JSON.stringify(message));
  }
  return messages;
}

export interface ReplicaReceiver {
  store: Store;
  bus: CollectorBus;
  /** Drops the cached baseline views (another replica changed baselines). */
  discard(): void;
  /** Pushes these workloads' edge baselines to this replica's agents. */
  edgeChanged(workloadIds: number[]): Promise<void>;
}

/** Applies what another replica committed: caches, edge pushes, events for the live stream. */
export async function applyReplicaMessage(text: string, r: ReplicaReceiver): Promise<void> {
  const m = JSON.parse(text) as ReplicaMessage;
  r.discard();
  for (const [id, previousPhase] of m.baselines) {
    const baseline = await r.store.baselines.summary(id);
    if (baseline) r.bus.emit({ type: 'baseline.changed', baseline, previousPhase }, 'replica');
  }
  const stored = await r.store.deviations.getMany([...m.deviations.map(([id]) => id), ...m.statuses.map(([id]) => id)]);
  for (const [id, what] of m.deviations) {
    const deviation = stored.get(id)?.deviation;
    if (deviation) r.bus.emit({ type: what === 'created' ? 'deviation.created' : 'deviation.updated', deviation }, 'replica');
  }
  for (const [id, previous, actor] of m.statuses) {
    const deviation = stored.get(id)?.deviation;
    if (deviation) r.bus.emit({ type: 'deviation.status', deviation, previous, actor }, 'replica');
  }
  await r.edgeChanged(m.edge);
}
