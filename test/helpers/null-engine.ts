import type { BatchIngest, EdgeSource } from '../../collector/ingest/server.js';
import { InFlightBatches, type IngestBatch, type IngestPending } from '../../collector/ingest/unit-of-work.js';
import type { Store } from '../../collector/store/contract.js';
import type { EdgeBaseline } from '../../common/edge-baseline.js';
import type { Observation, WorkloadId } from '../../common/model.js';

/**
 * Ingest that only records what it was given, for transport tests: batches are stored exactly
 * once by (agent, seq) as the real unit of work does, with no detection behind them.
 */
export class RecordingEngine implements BatchIngest, EdgeSource {
  readonly seen: Observation[] = [];
  /** The newest event time of each stored batch: what moves the learning clock. */
  readonly ticks: number[] = [];

  private readonly inFlight = new InFlightBatches();

  constructor(private readonly db: Store) {}

  pending(): IngestPending {
    return this.inFlight.pending();
  }

  async ingest(batch: IngestBatch): Promise<boolean> {
    const release = this.inFlight.hold(batch.observations.length);
    try {
      return await this.storeBatch(batch);
    } finally {
      release();
    }
  }

  private async storeBatch(batch: IngestBatch): Promise<boolean> {
    const stored = await this.db.transaction(async (tx) => {
      if (batch.seq <= (await tx.agents.lastSeq(batch.agentInstanceId))) return false;
      await tx.observations.insertBatch(batch.agentInstanceId, batch.seq, batch.observations);
      await tx.agents.commitSeq(batch.agentInstanceId, batch.seq, new Date().toISOString());
      return true;
    });
    if (stored) {
      this.seen.push(...batch.observations);
      if (batch.observations.length) this.ticks.push(Math.max(...batch.observations.map((o) => o.time)));
    }
    return stored;
  }

  async forWorkloads(_workloads: readonly WorkloadId[]): Promise<EdgeBaseline[]> {
    return [];
  }

  onChange(_listener: (changed: EdgeBaseline[]) => void): () => void {
    return () => undefined;
  }
}
