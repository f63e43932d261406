import { EventEmitter } from 'node:events';
import type { CollectorEvent } from '../common/deviations.js';

/**
 * The collector's in-process event bus. Producers (ingest, engine) emit after their database
 * transaction has committed; consumers (outbox, live stream) must not throw and must not block:
 * durable work goes through the database (the outbox table), never through listeners alone.
 */
export class CollectorBus {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  /**
   * `replica`: another collector replica on the same database committed it (collector/replicas.ts);
   * only listeners that asked for replicas' events hear it (the live stream, not alerting, which
   * ran where the change was made).
   */
  emit(event: CollectorEvent, from: 'here' | 'replica' = 'here'): void {
    this.emitter.emit(from, event);
  }

  subscribe(listener: (event: CollectorEvent) => void, opts: { replicas?: boolean } = {}): () => void {
    const safe = (e: CollectorEvent): void => {
      try {
        listener(e);
      } catch {
        // A broken consumer must never break ingestion; consumers count their own failures.
      }
    };
    this.emitter.on('here', safe);
    if (opts.replicas) this.emitter.on('replica', safe);
    return () => {
      this.emitter.off('here', safe);
      this.emitter.off('replica', safe);
    };
  }
}
