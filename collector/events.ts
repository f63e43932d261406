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

  emit(event: CollectorEvent): void {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: CollectorEvent) => void): () => void {
    const safe = (e: CollectorEvent): void => {
      try {
        listener(e);
      } catch {
        // A broken consumer must never break ingestion; consumers count their own failures.
      }
    };
    this.emitter.on('event', safe);
    return () => this.emitter.off('event', safe);
  }
}
