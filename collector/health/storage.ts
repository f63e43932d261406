/**
 * Whether the collector's store takes writes. When it does not (database volume full, I/O errors,
 * read-only), the collector keeps running: `/readyz` is not ready with the reason, ingest answers
 * agents UNAVAILABLE (they keep their backlog and retry with backoff), alerts already queued keep
 * going out. A probe every few seconds finds out when writes succeed again; ingest then resumes
 * by itself.
 */
import { Gauge, type Registry } from 'prom-client';
import { once, type Component, type Readiness } from '../../common/lifecycle.js';
import type { Logger } from '../../common/logger.js';
import type { StorageState, Store } from '../store/contract.js';

/** How often an unavailable store is probed: how long ingest may stay paused after space returned. */
export const STORAGE_PROBE_INTERVAL_MS = 5000;

export interface StorageMonitorOptions {
  store: Pick<Store, 'storage' | 'probeStorage'>;
  logger: Logger;
  registry: Registry;
  intervalMs?: number;
}

export class StorageMonitor implements Component {
  readonly name = 'storage';
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  /** The state last logged: transitions are logged once, not per failed write. */
  private reported: StorageState = { available: true };

  constructor(private readonly o: StorageMonitorOptions) {
    const monitor = this;
    new Gauge({
      name: 'driftwatch_collector_storage_available',
      help: '1 while the store takes writes; 0 while the database volume is full, failing or read-only (ingest paused, /readyz not ready).',
      registers: [o.registry],
      collect() {
        this.set(monitor.o.store.storage().available ? 1 : 0);
      },
    });
  }

  readiness(): Readiness {
    const state = this.o.store.storage();
    if (state.available) return { name: this.name, ready: true };
    return {
      name: this.name,
      ready: false,
      detail: `${state.failure} since ${new Date(state.sinceMs).toISOString()}: ${state.message}; ingest paused (agents keep their data and retry), queued alerts still delivered, resumes by itself when writes succeed again`,
    };
  }

  /** A collector started on a full disk finds out here, before any agent sends. */
  async start(): Promise<void> {
    await this.check(true);
    this.timer = setInterval(() => void this.check(), this.o.intervalMs ?? STORAGE_PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Probes the store when it is unavailable (or `always`) and logs changes; one check at a time. */
  check(always = false): Promise<void> {
    this.probing ??= this.probe(always).finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async probe(always: boolean): Promise<void> {
    let state = this.o.store.storage();
    this.report(state);
    if (state.available && !always) return;
    try {
      state = await this.o.store.probeStorage();
    } catch (err) {
      this.o.logger.error('storage probe failed', { error: String(err) });
      return;
    }
    this.report(state);
  }

  private report(state: StorageState): void {
    const was = this.reported;
    this.reported = state;
    if (!state.available && was.available)
      this.o.logger.error('storage unavailable: ingest paused, agents keep their data and retry; queued alerts are still delivered', { failure: state.failure, code: state.code, reason: state.message });
    else if (state.available && !was.available) this.o.logger.warn('storage available again: ingest resumes', { failure: was.failure, unavailableForSeconds: Math.round((Date.now() - was.sinceMs) / 1000) });
  }

  close = once(async () => {
    clearInterval(this.timer);
    await this.probing;
  });
}
